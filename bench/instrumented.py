"""claims-api for the mixed run, with counters of its response cache's hits and misses.

The app has no way to tell a cached answer from a computed one (no `X-Cache` header, no
metrics), and issue 12 keeps app/ out of the bench's reach, so this factory wraps the
cache's two outcomes (app/http/response_cache.py `ResponseCache._replay`: an answer from
memory; `_compute`: the routes ran) and serves the counts at GET /_bench/cache, a path the
cache never covers. Two attribute look-ups and an increment per read: nothing beside a
request. If the cache is reworked and those methods go, the counts read `null` and the
report says "not measured": the hook to re-point then (or better, an `X-Cache` header in
the app, which bench/wrk/mixed.lua could count instead).

    uvicorn --factory bench.instrumented:create_app
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from app.http import response_cache
from app.main import create_app as create_service

COUNTS: dict[str, int] = {"hits": 0, "misses": 0}


def _counting(method: Callable[..., Awaitable[None]], outcome: str) -> Callable[..., Any]:
    async def counted(*args: Any, **kwargs: Any) -> None:
        COUNTS[outcome] += 1
        await method(*args, **kwargs)

    return counted


def _instrument() -> bool:
    cache = getattr(response_cache, "ResponseCache", None)
    if cache is None or getattr(cache, "_bench_counted", False):
        return cache is not None
    if not (hasattr(cache, "_replay") and hasattr(cache, "_compute")):
        return False
    cache._replay = _counting(cache._replay, "hits")
    cache._compute = _counting(cache._compute, "misses")
    cache._bench_counted = True
    return True


def create_app() -> FastAPI:
    counted = _instrument()
    app = create_service()

    def cache_counts() -> dict[str, int | None]:
        if not counted:
            return {"hits": None, "misses": None}
        return dict(COUNTS)

    app.add_api_route("/_bench/cache", cache_counts, include_in_schema=False)
    return app
