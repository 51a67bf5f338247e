"""The webhook queue in the database: fan-out of outbox events into deliveries, leases on
due deliveries, the record of each attempt, and the pruning of settled events (the steps of
a sender's pass: app/webhooks/sender.py)."""

import json
import logging
import random
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import Engine, delete, exists, update
from sqlmodel import Session, col, select

from app.core.db import utcnow, write_engine
from app.events.models import Event
from app.webhooks import signing
from app.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from app.webhooks.service import event_payload, signing_secrets

log = logging.getLogger("claims_api.webhooks")

FAN_OUT_BATCH = 200
MAX_RETRY_AFTER = 24 * 3600.0
JITTER = 0.2  # each retry delay is stretched or shrunk by up to 20 %
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class Claimed:
    """A delivery this sender holds the lease on, with all it needs to send it."""

    delivery_id: int
    lease_token: str
    attempt_count: int
    webhook_id: int
    url: str
    signing_secrets: list[str]
    message_id: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """One attempt: the receiver's status and the start of its body, or the error that
    left no answer; and how long the receiver asked us to wait (Retry-After), if it did."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None
    # Not a column of the attempt: it only pushes back the next one.
    retry_after: float | None = None

    def attempt_columns(self) -> dict[str, Any]:
        """The attempt's row."""
        columns = asdict(self)
        del columns["retry_after"]
        return columns

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


# Filter keys and the claim fields they test.
FILTER_FIELDS = {"status": "status", "tag": "tags", "language": "language"}


def filter_matches(event_filter: dict[str, list[str]] | None, claim: Any) -> bool:
    """AND across the filter's keys, OR within each; no claim matches no condition."""
    if not event_filter:
        return True
    if not isinstance(claim, dict):
        return False
    for key, wanted in event_filter.items():
        value = claim.get(FILTER_FIELDS.get(key, key))
        values = value if isinstance(value, list) else [value]
        if not set(wanted) & set(values):
            return False
    return True


def subscribed(webhook: Webhook, event: Event) -> bool:
    return (
        event.type in webhook.events
        # A subscription receives events from its creation on, not the backlog before it.
        and webhook.created_at <= event.created_at
        and filter_matches(webhook.event_filter, event.data.get("claim"))
    )


def retry_delay(schedule: Sequence[float], attempts_made: int) -> float | None:
    """Seconds until the next attempt after `attempts_made` failures; None when exhausted."""
    if attempts_made > len(schedule):
        return None
    base = schedule[attempts_made - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), at most a day."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value) if value.isdigit() else None
        if seconds is None:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
    except (TypeError, ValueError, IndexError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def fan_out(engine: Engine, limit: int = FAN_OUT_BATCH) -> int:
    """Turn pending events into deliveries; returns how many events were fanned out."""
    pending = select(Event.id).where(col(Event.fanned_out_at).is_(None)).limit(1)
    with Session(engine) as session:
        if session.exec(pending).first() is None:
            return 0  # the usual case, answered without taking SQLite's write lock
    with Session(write_engine(engine)) as session:
        events = list(
            session.exec(
                select(Event)
                .where(col(Event.fanned_out_at).is_(None))
                .order_by(col(Event.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not events:
            return 0
        webhooks = list(session.exec(select(Webhook).where(col(Webhook.enabled))))
        now = utcnow()
        for event in events:
            for webhook in webhooks:
                if subscribed(webhook, event):
                    session.add(
                        WebhookDelivery(
                            webhook_id=webhook.id,  # type: ignore[arg-type]
                            event_id=event.id,  # type: ignore[arg-type]
                            message_id=signing.new_message_id(),
                            status=DeliveryStatus.pending.value,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
            event.fanned_out_at = now
        session.commit()
        return len(events)


def claim_due(engine: Engine, *, limit: int, lease: timedelta) -> list[Claimed]:
    """Lease up to `limit` due deliveries of enabled subscriptions to this sender."""
    now = utcnow()
    due = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.pending.value,
            col(WebhookDelivery.next_attempt_at) <= now,
            col(WebhookDelivery.webhook_id).in_(select(Webhook.id).where(col(Webhook.enabled))),
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
    )
    with Session(engine) as session:
        if session.exec(due.limit(1)).first() is None:
            return []
    token = secrets.token_hex(16)
    with Session(write_engine(engine)) as session:
        ids = list(session.exec(due.with_for_update(skip_locked=True)))
        if not ids:
            return []
        # Conditional: a row some other sender claimed meanwhile is no longer due.
        session.exec(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id).in_(ids),
                col(WebhookDelivery.status) == DeliveryStatus.pending.value,
                col(WebhookDelivery.next_attempt_at) <= now,
            )
            .values(lease_token=token, next_attempt_at=now + lease)
        )
        session.commit()
    with Session(engine) as session:
        rows = session.exec(
            select(WebhookDelivery, Event, Webhook)
            .join(Event, col(Event.id) == WebhookDelivery.event_id)
            .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.lease_token == token)
            .order_by(col(WebhookDelivery.id))
        )
        return [
            Claimed(
                delivery_id=delivery.id,  # type: ignore[arg-type]
                lease_token=token,
                attempt_count=delivery.attempt_count,
                webhook_id=webhook.id,  # type: ignore[arg-type]
                url=webhook.url,
                signing_secrets=signing_secrets(webhook, now),
                message_id=delivery.message_id,
                body=json.dumps(
                    event_payload(event), ensure_ascii=False, separators=(",", ":")
                ).encode(),
            )
            for delivery, event, webhook in rows
        ]


def _next_state(
    claimed: Claimed, outcome: Outcome, schedule: Sequence[float], now: datetime
) -> tuple[dict[str, Any], bool]:
    """The delivery's new columns after this attempt, and whether to disable its webhook."""
    attempts = claimed.attempt_count + 1
    values: dict[str, Any] = {"attempt_count": attempts, "lease_token": None}
    disable = False
    if outcome.delivered:
        values |= {
            "status": DeliveryStatus.delivered.value,
            "delivered_at": now,
            "next_attempt_at": None,
        }
    elif outcome.gone:
        values |= {"status": DeliveryStatus.failed.value, "next_attempt_at": None}
        disable = True
    else:
        delay = retry_delay(schedule, attempts)
        if delay is None:
            values |= {"status": DeliveryStatus.failed.value, "next_attempt_at": None}
        else:
            delay = max(delay, outcome.retry_after or 0.0)
            values["next_attempt_at"] = now + timedelta(seconds=delay)
    return values, disable


def record(
    engine: Engine, claimed: Claimed, outcome: Outcome, *, schedule: Sequence[float]
) -> None:
    """The attempt, and the delivery's new state if this sender still holds its lease."""
    now = utcnow()
    values, disable = _next_state(claimed, outcome, schedule, now)
    with Session(write_engine(engine)) as session:
        owned = session.exec(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == claimed.delivery_id,
                col(WebhookDelivery.lease_token) == claimed.lease_token,
            )
            .values(**values)
        ).rowcount
        if not owned:
            log.warning(
                "webhook delivery %s: lease lost before the attempt was recorded",
                claimed.delivery_id,
            )
            if session.get(WebhookDelivery, claimed.delivery_id) is None:
                return  # its subscription was deleted meanwhile
        session.add(WebhookAttempt(delivery_id=claimed.delivery_id, **outcome.attempt_columns()))
        if disable and owned:
            session.exec(
                update(Webhook)
                .where(col(Webhook.id) == claimed.webhook_id)
                .values(
                    enabled=False,
                    disabled_reason="the receiver answered 410 Gone",
                    updated_at=now,
                )
            )
        session.commit()


def prune(engine: Engine, *, retention_days: float) -> None:
    """Drop events older than the retention period whose deliveries are all settled."""
    cutoff = utcnow() - timedelta(days=retention_days)
    unsettled = exists().where(
        col(WebhookDelivery.event_id) == col(Event.id),
        col(WebhookDelivery.status) == DeliveryStatus.pending.value,
    )
    old = (
        select(Event.id)
        .where(
            col(Event.created_at) < cutoff,
            col(Event.fanned_out_at).is_not(None),
            ~unsettled,
        )
        .limit(PRUNE_BATCH)
    )
    with Session(write_engine(engine)) as session:
        # Deliveries and attempts go with their event (ON DELETE CASCADE).
        session.exec(delete(Event).where(col(Event.id).in_(old)))
        session.commit()
