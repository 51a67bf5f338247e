"""Per-key and per-client rate limiting (token buckets in this process), with the IETF
RateLimit / RateLimit-Policy headers on every answer and 429 + Retry-After past the limit."""

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.auth import presented_key
from app.core.errors import problem_response

WINDOW_SECONDS = 60
MAX_TRACKED = 100_000  # identities remembered; the least recently seen are forgotten first
EXEMPT_PATHS = ("/healthz", "/readyz")


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimit:
    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.capacity = per_minute
        self.refill_per_second = per_minute / WINDOW_SECONDS
        self.policy = f'"default";q={per_minute};w={WINDOW_SECONDS}'
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def _identity(self, scope: Scope) -> str:
        # A live key has its own bucket (app.presented_key looked it up); anything else,
        # a made-up key included, shares its client address's.
        presented = presented_key(scope)
        if presented is not None and presented.key is not None:
            return f"key:{presented.key.id}"
        client = scope.get("client")
        return "client:" + (client[0] if client else "unknown")

    def _take(self, identity: str, now: float) -> tuple[bool, Bucket]:
        """Spend one token of this identity's bucket, if it has one."""
        bucket = self.buckets.pop(identity, None) or Bucket(float(self.capacity), now)
        bucket.tokens = min(
            self.capacity, bucket.tokens + (now - bucket.updated) * self.refill_per_second
        )
        bucket.updated = now
        allowed = bucket.tokens >= 1
        if allowed:
            bucket.tokens -= 1
        self.buckets[identity] = bucket
        if len(self.buckets) > MAX_TRACKED:
            self.buckets.popitem(last=False)
        return allowed, bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        allowed, bucket = self._take(self._identity(scope), time.monotonic())
        if not allowed:
            retry_after = max(1, math.ceil((1 - bucket.tokens) / self.refill_per_second))
            response = problem_response(
                429,
                "rate-limited",
                f"Too many requests: the limit is {self.capacity} per {WINDOW_SECONDS} s. "
                f"Retry after {retry_after} s.",
                headers={
                    "Retry-After": str(retry_after),
                    "RateLimit-Policy": self.policy,
                    "RateLimit": f'"default";r=0;t={retry_after}',
                },
            )
            await response(scope, receive, send)
            return

        remaining = math.floor(bucket.tokens)
        until_full = math.ceil((self.capacity - bucket.tokens) / self.refill_per_second)
        state = f'"default";r={remaining};t={until_full}'

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["RateLimit-Policy"] = self.policy
                headers["RateLimit"] = state
            await send(message)

        await self.app(scope, receive, send_with_headers)
