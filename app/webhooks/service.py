"""Subscriptions and their deliveries: the operations behind /webhooks."""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.ids import parse_id
from app.core.pagination import Window, decode_cursor, encode_cursor, keyset_after, keyset_page
from app.events.models import Event
from app.webhooks import ssrf
from app.webhooks.models import (
    DeliveryStatus,
    Webhook,
    WebhookAttempt,
    WebhookAttemptPublic,
    WebhookCreate,
    WebhookDelivery,
    WebhookDeliveryPublic,
    WebhookFilter,
    WebhookPublic,
    WebhookUpdate,
)
from app.webhooks.signing import new_secret

LIST_SORT = "created_at"
DELIVERY_SORT = "-created_at"
# After a rotation the old secret keeps signing this long, beside the new one.
ROTATION_OVERLAP = timedelta(hours=24)
ATTEMPTS_SHOWN = 50


def event_payload(event: Event) -> dict[str, Any]:
    """The body of every delivery of the event (Standard Webhooks: type, timestamp, data)."""
    timestamp = event.created_at.isoformat().replace("+00:00", "Z")
    return {"type": event.type, "timestamp": timestamp, "data": event.data}


def _check_url(url: str, settings: Settings) -> None:
    try:
        ssrf.check_url(
            url,
            allow_private=settings.webhook_allow_private_urls,
            allow_http=settings.webhook_allow_http,
        )
    except ssrf.UrlRefused as exc:
        raise ValidationFailed.on("body", "url", str(exc), "url_not_allowed") from None


def _filter_json(webhook_filter: WebhookFilter | None) -> dict[str, list[str]] | None:
    if webhook_filter is None:
        return None
    return webhook_filter.model_dump(mode="json", exclude_none=True) or None


def webhook_public(webhook: Webhook) -> WebhookPublic:
    return WebhookPublic.model_validate(
        {
            **webhook.model_dump(exclude={"secret", "previous_secret"}),
            "filter": webhook.event_filter,
        }
    )


def create_webhook(*, session: Session, data: WebhookCreate, settings: Settings) -> Webhook:
    """A new subscription with a new secret (readable once, from the returned row)."""
    _check_url(data.url, settings)
    now = utcnow()
    webhook = Webhook(
        url=data.url,
        events=[event.value for event in data.events],
        event_filter=_filter_json(data.filter),
        description=data.description,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(webhook)
    session.commit()
    return webhook


def get_webhook(*, session: Session, webhook_id: str, for_update: bool = False) -> Webhook:
    webhook = session.get(Webhook, parse_id(webhook_id, "webhook"), with_for_update=for_update)
    if webhook is None:
        raise NotFound(f"No webhook has id '{webhook_id}'.")
    return webhook


def list_webhooks(*, session: Session, window: Window) -> tuple[list[Webhook], str | None]:
    """Subscriptions, oldest first."""
    limit, cursor = window.limit, window.cursor
    query = select(Webhook)
    if cursor:
        created_at, webhook_id = decode_cursor(cursor, LIST_SORT, datetime)
        query = query.where(
            keyset_after(
                col(Webhook.created_at), col(Webhook.id), created_at, webhook_id, descending=False
            )
        )
    query = query.order_by(col(Webhook.created_at), col(Webhook.id)).limit(limit + 1)
    rows = list(session.exec(query))
    return keyset_page(
        rows,
        limit,
        lambda last: encode_cursor(LIST_SORT, last.created_at, last.id),  # type: ignore[arg-type]
    )


def update_webhook(
    *, session: Session, webhook_id: str, data: WebhookUpdate, settings: Settings
) -> Webhook:
    changes = data.model_dump(exclude_unset=True)
    if "url" in changes:
        _check_url(changes["url"], settings)
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    if "events" in changes:
        changes["events"] = [event.value for event in data.events or []]
    if "filter" in changes:
        changes["event_filter"] = _filter_json(data.filter)
        del changes["filter"]
    changes = {k: v for k, v in changes.items() if getattr(webhook, k) != v}
    if not changes:
        return webhook
    for name, value in changes.items():
        setattr(webhook, name, value)
    if changes.get("enabled") is True:
        webhook.disabled_reason = None
    elif changes.get("enabled") is False:
        webhook.disabled_reason = "disabled through the API"
    webhook.updated_at = utcnow()
    session.commit()
    return webhook


def delete_webhook(*, session: Session, webhook_id: str) -> None:
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    session.delete(webhook)  # its deliveries and their attempts go with it (ON DELETE CASCADE)
    session.commit()


def rotate_secret(*, session: Session, webhook_id: str) -> Webhook:
    """A new secret; the old one keeps signing beside it for ROTATION_OVERLAP."""
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    now = utcnow()
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = now + ROTATION_OVERLAP
    webhook.secret = new_secret()
    webhook.updated_at = now
    session.commit()
    return webhook


def signing_secrets(webhook: Webhook, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one
    while its overlap lasts."""
    current = [webhook.secret]
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret and expires is not None and expires > now:
        current.append(webhook.previous_secret)
    return current


# --- Deliveries ---------------------------------------------------------------


def _delivery_public(
    delivery: WebhookDelivery, event: Event, attempts: list[WebhookAttempt]
) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic.model_validate(
        {
            **delivery.model_dump(exclude={"lease_token"}),
            "event_type": event.type,
            "payload": event_payload(event),
            # While a sender holds the lease, next_attempt_at is the lease's end: not news.
            "next_attempt_at": delivery.next_attempt_at
            if delivery.status == DeliveryStatus.pending
            else None,
            "attempts": [
                WebhookAttemptPublic.model_validate(a, from_attributes=True)
                for a in attempts[:ATTEMPTS_SHOWN]
            ],
        }
    )


def _with_attempts(
    session: Session, rows: list[tuple[WebhookDelivery, Event]]
) -> list[WebhookDeliveryPublic]:
    ids = [delivery.id for delivery, _ in rows]
    attempts: dict[int, list[WebhookAttempt]] = defaultdict(list)
    query = (
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_(ids))
        .order_by(col(WebhookAttempt.id).desc())
    )
    for attempt in session.exec(query):
        attempts[attempt.delivery_id].append(attempt)
    return [
        _delivery_public(delivery, event, attempts[delivery.id])  # type: ignore[index]
        for delivery, event in rows
    ]


def list_deliveries(
    *,
    session: Session,
    webhook_id: str,
    status: list[DeliveryStatus],
    window: Window,
) -> tuple[list[WebhookDeliveryPublic], str | None]:
    """A subscription's deliveries, newest first, each with its attempts."""
    limit, cursor = window.limit, window.cursor
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    query = (
        select(WebhookDelivery, Event)
        .join(Event, col(Event.id) == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook.id)
    )
    if status:
        query = query.where(col(WebhookDelivery.status).in_([s.value for s in status]))
    if cursor:
        created_at, delivery_id = decode_cursor(cursor, DELIVERY_SORT, datetime)
        query = query.where(
            keyset_after(
                col(WebhookDelivery.created_at),
                col(WebhookDelivery.id),
                created_at,
                delivery_id,
                descending=True,
            )
        )
    query = query.order_by(
        col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc()
    ).limit(limit + 1)
    rows = [(delivery, event) for delivery, event in session.exec(query)]
    rows, next_cursor = keyset_page(
        rows,
        limit,
        lambda row: encode_cursor(DELIVERY_SORT, row[0].created_at, row[0].id),  # type: ignore[arg-type]
    )
    return _with_attempts(session, rows), next_cursor


def _get_delivery(
    session: Session, webhook_id: str, delivery_id: str, *, for_update: bool = False
) -> tuple[Webhook, WebhookDelivery, Event]:
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    query = (
        select(WebhookDelivery, Event)
        .join(Event, col(Event.id) == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.id == parse_id(delivery_id, "delivery"),
            WebhookDelivery.webhook_id == webhook.id,
        )
    )
    if for_update:
        query = query.with_for_update(of=WebhookDelivery).execution_options(populate_existing=True)
    found = session.exec(query).first()
    if found is None:
        raise NotFound(f"Webhook '{webhook_id}' has no delivery with id '{delivery_id}'.")
    return webhook, found[0], found[1]


def get_delivery(*, session: Session, webhook_id: str, delivery_id: str) -> WebhookDeliveryPublic:
    _, delivery, event = _get_delivery(session, webhook_id, delivery_id)
    return _with_attempts(session, [(delivery, event)])[0]


def redeliver(*, session: Session, webhook_id: str, delivery_id: str) -> WebhookDeliveryPublic:
    """Send the delivery again now, with the same `webhook-id` and a fresh retry schedule."""
    webhook, delivery, event = _get_delivery(session, webhook_id, delivery_id, for_update=True)
    if not webhook.enabled:
        raise Conflict(f"Webhook '{webhook_id}' is disabled; enable it before redelivering.")
    now = utcnow()
    if delivery.lease_token is not None and (delivery.next_attempt_at or now) > now:
        raise Conflict(f"Delivery '{delivery_id}' is being sent right now; try again shortly.")
    delivery.status = DeliveryStatus.pending.value
    delivery.attempt_count = 0
    delivery.next_attempt_at = now
    delivery.lease_token = None
    delivery.delivered_at = None
    session.commit()
    return _with_attempts(session, [(delivery, event)])[0]
