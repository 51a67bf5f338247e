"""The webhook sender: turns outbox events into deliveries and sends them (the database
side of each step is app/webhooks/queue.py).

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

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import Engine

from app.core.config import Settings
from app.core.db import utcnow
from app.webhooks import queue, signing, ssrf
from app.webhooks.queue import Claimed, Outcome, parse_retry_after

log = logging.getLogger("claims_api.webhooks")

RESPONSE_BODY_KEPT = 1000  # characters of a non-2xx answer kept for the deliveries list
PRUNE_EVERY = 600.0  # seconds between two sweeps of old events
MAX_ERROR_BACKOFF = 30.0
USER_AGENT = "claims-api-webhooks/1.0"


class Sender:
    """Fans out, claims, sends and records; `run_once` is one pass, `run` loops."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
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
        work = queue.fan_out(self.engine)
        claimed = queue.claim_due(self.engine, limit=self.concurrency, lease=self.lease)
        for _ in self.pool.map(self.deliver, claimed):
            pass
        if time.monotonic() - self._last_prune >= PRUNE_EVERY:
            self._last_prune = time.monotonic()
            queue.prune(self.engine, retention_days=self.settings.webhook_retention_days)
        return work + len(claimed)

    def deliver(self, claimed: Claimed) -> Outcome:
        """Send one claimed delivery and record what came of it."""
        outcome = self.send(claimed)
        try:
            queue.record(
                self.engine, claimed, outcome, schedule=self.settings.webhook_retry_schedule
            )
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
