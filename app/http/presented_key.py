"""A key that is presented is checked on every route, open or not (as GitHub does).

Before, an open read ignored its Authorization header: any made-up `Bearer <random>` got
200, and, since the rate limiter keyed its buckets on whatever key was sent, a bucket of
its own per made-up key, which escaped the limit. Now:

- `IdentifyKey`, before the rate limiter, looks the presented key up once per request
  (never cached: a key revoked by any process is refused on the very next request) and
  leaves the result in the request's state, where the rate limiter and `app.auth.require`
  read it;
- the rate limiter gives a bucket to a live key only, and limits every other request by
  client address;
- `RefuseUnknownKey`, after the rate limiter, answers 401 to a key that is unknown,
  malformed (another scheme, an empty one) or revoked, on every route.
"""

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.auth import (
    PRESENTED_KEY_STATE,
    PresentedKey,
    bearer_credentials,
    lookup_key,
    presented_key,
)
from app.core.db import run_read
from app.core.errors import Unauthorized, problem_response, send_database_unavailable

log = logging.getLogger("claims_api.auth")
_KEY_CHECK_UNAVAILABLE = "The database is unavailable to check the API key; retry shortly."


class IdentifyKey:
    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = (
            Headers(scope=scope).get("authorization") if scope["type"] == "http" else None
        )
        if authorization is None:
            await self.app(scope, receive, send)
            return
        bearer = bearer_credentials(authorization)
        try:
            # One index probe: on SQLite it runs on the loop, rather than take a thread hop.
            key = await run_read(self.engine, lookup_key, bearer) if bearer else None
        except OperationalError as exc:
            log.warning("database unavailable to check an API key: %s", exc.orig)
            await send_database_unavailable(_KEY_CHECK_UNAVAILABLE, scope, receive, send)
            return
        scope.setdefault("state", {})[PRESENTED_KEY_STATE] = PresentedKey(
            key, malformed=bearer is None
        )
        await self.app(scope, receive, send)


class RefuseUnknownKey:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        presented = presented_key(scope)
        if presented is not None and presented.key is None:
            refusal = Unauthorized(
                "Send the API key as Authorization: Bearer <key>."
                if presented.malformed
                else "The API key is unknown or revoked."
            )
            response = problem_response(
                refusal.status,
                refusal.slug,
                refusal.detail,
                request=Request(scope),
                headers=refusal.headers,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
