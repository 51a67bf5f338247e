"""The webhook sender: turns outbox events into deliveries and sends them.

One pass (`Sender.run_once`):
1. Fan-out: events not yet fanned out become one delivery per matching, enabled
   subscription, and are marked fanned out, in one transaction.
2. Claim: due deliveries are leased to this sender with a random token (PostgreSQL:
   `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent senders take disjoint rows; SQLite:
   the conditional UPDATE runs under `BEGIN IMMEDIATE`, one writer at a time). While the
   lease lasts no other sender sees the delivery as due; if this sender dies, the lease
   runs out and another sender takes the delivery over. Nothing is lost, and a delivery
   is sent twice only when its sender died (or overran the lease) mid-request: the
   receiver then sees the same `webhook-id` again, which is what it deduplicates on.
3. Send: POST with the Standard Webhooks headers, re-checking the URL against SSRF and
   connecting to the address that passed.
4. Record: the attempt, and the delivery's new state, only if this sender still holds the
   lease: delivered (2xx), retry later (backoff with jitter; Retry-After honoured on 429
   and 503), failed (schedule exhausted), or failed and subscription disabled (410 Gone).

It runs inside `claims-api serve` (a thread started in the app's lifespan) and as
`claims-api worker`; any number of either may run against one database.
"""

import json
import logging
import random
import secrets
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import Engine, delete, exists, update
from sqlmodel import Session, col, select

from app.core.config import Settings
from app.core.db import utcnow, write_engine
from app.events.models import Event
from app.webhooks import signing, ssrf
from app.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from app.webhooks.service import event_payload, signing_secrets

log = logging.getLogger("claims_api.webhooks")

FAN_OUT_BATCH = 200
RESPONSE_BODY_KEPT = 1000  # characters of a non-2xx answer kept for the deliveries list
MAX_RETRY_AFTER = 24 * 3600.0
JITTER = 0.2  # each retry delay is stretched or shrunk by up to 20 %
PRUNE_EVERY = 600.0  # seconds between two sweeps of old events
PRUNE_BATCH = 1000
MAX_ERROR_BACKOFF = 30.0
USER_AGENT = "claims-api-webhooks/1.0"


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
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None
    retry_after: float | None = None

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


class Sender:
    """Fans out, claims, sends and records; `run_once` is one pass, `run` loops."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.writer = write_engine(engine)
        self.settings = settings
        self.concurrency = max(1, settings.webhook_concurrency)
        self.timeout = settings.webhook_timeout_seconds
        # A lease shorter than one attempt would let a second sender start while the first
        # is still waiting for the receiver.
        self.lease = timedelta(seconds=max(settings.webhook_lease_seconds, 2 * self.timeout))
        self.client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,  # a redirect is a failure (and could lead anywhere)
            trust_env=False,
            # No connection reuse: each attempt connects to the address it has just checked.
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": USER_AGENT},
        )
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook-send")
        self._last_prune = 0.0

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    # --- one pass ---------------------------------------------------------------

    def run_once(self) -> int:
        """Fan out, then claim and send what is due; returns how much work was done."""
        work = self.fan_out()
        claimed = self.claim_due(self.concurrency)
        for _ in self.pool.map(self.deliver, claimed):
            pass
        self.prune()
        return work + len(claimed)

    def fan_out(self, limit: int = FAN_OUT_BATCH) -> int:
        """Turn pending events into deliveries; returns how many events were fanned out."""
        pending = select(Event.id).where(col(Event.fanned_out_at).is_(None)).limit(1)
        with Session(self.engine) as session:
            if session.exec(pending).first() is None:
                return 0  # the usual case, answered without taking SQLite's write lock
        with Session(self.writer) as session:
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

    def claim_due(self, limit: int) -> list[Claimed]:
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
        with Session(self.engine) as session:
            if session.exec(due.limit(1)).first() is None:
                return []
        token = secrets.token_hex(16)
        with Session(self.writer) as session:
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
                .values(lease_token=token, next_attempt_at=now + self.lease)
            )
            session.commit()
        with Session(self.engine) as session:
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

    def deliver(self, claimed: Claimed) -> Outcome:
        """Send one claimed delivery and record what came of it."""
        outcome = self.send(claimed)
        try:
            self.record(claimed, outcome)
        except Exception:
            # The lease runs out and another pass sends it again: at least once.
            log.exception("could not record webhook delivery %s", claimed.delivery_id)
        return outcome

    def send(self, claimed: Claimed) -> Outcome:
        attempted_at = utcnow()
        started = time.monotonic()

        def done(**fields: Any) -> Outcome:
            duration_ms = round((time.monotonic() - started) * 1000)
            return Outcome(attempted_at=attempted_at, duration_ms=duration_ms, **fields)

        try:
            target = ssrf.target(
                claimed.url,
                allow_private=self.settings.webhook_allow_private_urls,
                allow_http=self.settings.webhook_allow_http,
            )
        except ssrf.UrlRefused as exc:
            return done(error=f"not sent: the URL {exc}")
        timestamp = int(time.time())
        headers = {
            **target.headers,
            **signing.headers(claimed.signing_secrets, claimed.message_id, timestamp, claimed.body),
            "Content-Type": "application/json",
        }
        try:
            with self.client.stream(
                "POST",
                target.url,
                content=claimed.body,
                headers=headers,
                extensions=target.extensions or None,
            ) as response:
                status = response.status_code
                body = None
                if not 200 <= status < 300:
                    body = _read_start(response)
                retry_after = None
                if status in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"), utcnow())
                return done(status_code=status, response_body=body, retry_after=retry_after)
        except httpx.TimeoutException:
            return done(error=f"timed out after {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return done(error=f"{type(exc).__name__}: {exc}"[:500])

    def record(self, claimed: Claimed, outcome: Outcome) -> None:
        now = utcnow()
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
            delay = retry_delay(self.settings.webhook_retry_schedule, attempts)
            if delay is None:
                values |= {"status": DeliveryStatus.failed.value, "next_attempt_at": None}
            else:
                delay = max(delay, outcome.retry_after or 0.0)
                values["next_attempt_at"] = now + timedelta(seconds=delay)
        with Session(self.writer) as session:
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
            session.add(
                WebhookAttempt(
                    delivery_id=claimed.delivery_id,
                    attempted_at=outcome.attempted_at,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    response_body=outcome.response_body,
                    duration_ms=outcome.duration_ms,
                )
            )
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

    def prune(self) -> None:
        """Drop events older than the retention period whose deliveries are all settled."""
        if time.monotonic() - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = time.monotonic()
        cutoff = utcnow() - timedelta(days=self.settings.webhook_retention_days)
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
        with Session(self.writer) as session:
            # Deliveries and attempts go with their event (ON DELETE CASCADE).
            session.exec(delete(Event).where(col(Event.id).in_(old)))
            session.commit()

    # --- the loop ---------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set; idle passes wait webhook_poll_seconds."""
        failures = 0
        while not stop.is_set():
            try:
                busy = self.run_once() > 0
                failures = 0
            except Exception as exc:
                failures += 1
                wait = min(self.settings.webhook_poll_seconds * 2**failures, MAX_ERROR_BACKOFF)
                log.warning("webhook sender pass failed (%s); next try in %.1f s", exc, wait)
                stop.wait(wait)
                continue
            if not busy:
                stop.wait(self.settings.webhook_poll_seconds)


def _read_start(response: httpx.Response) -> str | None:
    """The first characters of the answer's body, without reading a large one whole."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= RESPONSE_BODY_KEPT * 4:
                break
    except httpx.HTTPError:
        pass
    text = b"".join(chunks).decode("utf-8", errors="replace")[:RESPONSE_BODY_KEPT]
    return text.replace("\x00", "") or None


class SenderThread:
    """The sender in a background thread of the serving process."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.sender = Sender(engine, settings)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=self.sender.run, args=(self.stop_event,), name="webhook-sender", daemon=True
        )

    def start(self) -> "SenderThread":
        self.thread.start()
        return self

    def stop(self) -> None:
        """Finish the attempts in flight (each bounded by the timeout), then stop."""
        self.stop_event.set()
        self.thread.join(timeout=self.sender.timeout + 10)
        if not self.thread.is_alive():
            self.sender.close()


def start_sender(engine: Engine, settings: Settings) -> SenderThread:
    log.info("webhook sender started")
    return SenderThread(engine, settings).start()


def run_worker(engine: Engine, settings: Settings) -> None:
    """`claims-api worker`: the sender in the foreground until SIGTERM or SIGINT."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("webhook worker stopping (signal %s)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sender = Sender(engine, settings)
    log.info("webhook worker started")
    try:
        sender.run(stop)
    finally:
        sender.close()
