"""The Idempotency-Key header on every POST, as ASGI middleware: one place for every
POST operation there is and will be.

A POST that carries the header and a live API key is fingerprinted and its key claimed
before the route runs; the answer is recorded before it is sent, so a retry that follows
a lost answer gets the recorded one (`Idempotent-Replayed: true`) and changes nothing.
A 5xx answer, a 401 or 403, or an exception releases the key: nothing was changed, so a
retry runs again.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.auth import bearer_credentials
from app.core.errors import FieldError, problem_response, send_database_unavailable
from app.http.idempotency import store
from app.http.idempotency.in_transaction import hand_to_route

log = logging.getLogger("claims_api.idempotency")
_KEYS_UNAVAILABLE = "The database is unavailable; retry shortly with the same Idempotency-Key."
T = TypeVar("T")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
PURGE_EVERY_SECONDS = 60.0
NOT_RECORDED = {401, 403}
# POSTs that only read (a body too large for a query string): nothing to make safe to
# retry, so the header is ignored rather than claimed and stored.
READ_ONLY_POSTS = frozenset({"/claims/match"})


class InvalidKey(ValueError):
    pass


def parse_key(values: list[str]) -> str:
    """The key: 1..255 printable ASCII characters, bare (Stripe) or as a quoted
    structured-field string (the IETF draft); both spellings name the same key."""
    if len(values) != 1:
        raise InvalidKey(f"Send one {HEADER} header, not {len(values)}.")
    key = values[0].strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidKey(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters long.")
    if not all(" " <= char <= "~" for char in key):
        raise InvalidKey(f"{HEADER} may hold only printable ASCII characters.")
    return key


def _bearer(headers: Headers) -> str | None:
    return bearer_credentials(headers.get("authorization", ""))


class IdempotencyKeys:
    def __init__(self, app: ASGIApp, engine: Engine, lease: timedelta = store.LEASE) -> None:
        self.app = app
        self.engine = engine
        self.lease = lease
        self._next_purge = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] in READ_ONLY_POSTS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        values = headers.getlist(HEADER)
        if not values:
            await self.app(scope, receive, send)
            return
        try:
            key = parse_key(values)
        except InvalidKey as exc:
            error = FieldError(location="header", field=HEADER, message=str(exc), code="invalid")
            response = problem_response(
                422, "validation-error", str(exc), request=Request(scope), errors=[error]
            )
            await response(scope, receive, send)
            return
        try:
            await self._handle(scope, receive, send, headers, key)
        except OperationalError as exc:
            log.warning("database unavailable for idempotency keys: %s", exc.orig)
            await send_database_unavailable(_KEYS_UNAVAILABLE, scope, receive, send)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, key: str
    ) -> None:
        bearer = _bearer(headers)
        owner = await self._in_thread(store.key_owner, key=bearer) if bearer else None
        if owner is None:
            # No live key: authentication answers 401, and there is no one to scope by.
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before sending its body
        await self._purge_now_and_then()
        outcome = await self._in_thread(
            store.claim,
            api_key_id=owner,
            key=key,
            lease=self.lease,
            fingerprint=store.fingerprint(
                method=scope["method"], path=scope["path"], query=scope["query_string"], body=body
            ),
        )
        if isinstance(outcome, store.Proceed):
            hand_to_route(scope, outcome)
            await self._run(scope, send, body, receive, outcome)
            return
        await _answer(outcome, Request(scope))(scope, receive, send)

    async def _run(
        self, scope: Scope, send: Send, body: bytes, receive: Receive, claimed: store.Proceed
    ) -> None:
        """Run the request with the body read so far, hold its answer, record it, send it."""
        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        messages: list[Message] = []

        async def hold(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, replay_body, hold)
        except Exception:
            await asyncio.to_thread(self._release_quietly, claimed)
            raise
        start = next(m for m in messages if m["type"] == "http.response.start")
        status = start["status"]
        # A refusal of the key (a read-only key's 403) did nothing and says nothing about
        # the request: not an answer to keep for 24 h; like a 5xx, a retry runs again.
        if status >= 500 or status in NOT_RECORDED:
            await asyncio.to_thread(self._release_quietly, claimed)
        else:
            answer = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            response_headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in start.get("headers", [])
            }
            try:
                recorded = await self._in_thread(
                    store.complete,
                    claimed=claimed,
                    status_code=status,
                    headers=response_headers,
                    body=answer,
                )
                if not recorded:
                    log.warning("idempotency key lease lost before the answer was recorded")
            except OperationalError as exc:
                # The change is committed; the client still gets its answer. A retry after
                # the lease would run again, which is why the lease outlives any request.
                log.error("could not record the answer of an idempotent request: %s", exc.orig)
        for message in messages:
            await send(message)

    async def _in_thread(self, call: Callable[..., T], **kwargs: Any) -> T:
        """A store call on this middleware's engine, off the event loop."""
        return await asyncio.to_thread(partial(call, engine=self.engine, **kwargs))

    def _release_quietly(self, claimed: store.Proceed) -> None:
        try:
            store.release(engine=self.engine, claimed=claimed)
        except OperationalError as exc:
            log.warning("could not release an idempotency key (its lease will): %s", exc.orig)

    async def _purge_now_and_then(self) -> None:
        """Drop expired keys, at most once a minute per process: lazily, without a loop."""
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        try:
            await self._in_thread(store.purge_expired)
        except OperationalError as exc:
            log.warning("could not purge expired idempotency keys: %s", exc.orig)


def _answer(outcome: store.Outcome, request: Request) -> Response:
    """What a request gets when its key was seen before: the recorded answer, or why not."""
    if isinstance(outcome, store.Replay):
        return Response(
            outcome.body,
            status_code=outcome.status_code,
            headers={**outcome.headers, REPLAYED_HEADER: "true"},
        )
    if isinstance(outcome, store.InFlight):
        return problem_response(
            409,
            "idempotency-key-in-use",
            "A request with this Idempotency-Key is still being processed; "
            "retry after Retry-After seconds to get its answer.",
            request=request,
            headers={"Retry-After": "1"},
        )
    return problem_response(
        422,
        "idempotency-key-reused",
        "This Idempotency-Key was first used with another request (method, path, "
        "query or body differ); use a new key for a new request.",
        request=request,
        errors=[
            FieldError(
                location="header",
                field=HEADER,
                message="already used with another request",
                code="idempotency_key_reused",
            )
        ],
    )


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
