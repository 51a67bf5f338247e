"""The application factory."""

import asyncio
import importlib.metadata
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from sqlalchemy import Engine

from app.claims import match_routes
from app.claims import routes as claims
from app.core.config import Settings, get_settings
from app.core.db import make_engine
from app.core.errors import PROBLEM_TYPES, NotFound, install_error_handlers
from app.core.group_commit import GroupCommit
from app.desk import routes as desk
from app.http.change_log import ChangeLog, change_log_of
from app.http.context import RequestContext
from app.http.docs import install_docs
from app.http.idempotency.middleware import IdempotencyKeys
from app.http.limits import BodySizeLimit, MediaTypeCheck
from app.http.openapi import install_openapi
from app.http.presented_key import IdentifyKey, RefuseUnknownKey
from app.http.ratelimit import RateLimit
from app.http.response_cache import ResponseCache
from app.ops import health
from app.ops.logs import configure_logging
from app.ops.migrate import migration_head
from app.reports import routes as reports
from app.sources import routes as sources
from app.stances import routes as stances
from app.sync import routes as sync
from app.verdicts import routes as verdicts
from app.webhooks import routes as webhooks
from app.webhooks.sender import start_sender

DESCRIPTION = """\
Track contested claims in fast-moving conflict reporting: every claim, every source's
stance on it (asserts or denies, when, where, reported by whom), and a status derived
from those stances. `GET /claims?status=disputed` answers "what is disputed right now?".

Reads are open unless the operator closes them; writes need `Authorization: Bearer <key>`.
Errors are `application/problem+json` (RFC 9457). Lists use opaque keyset cursors.
"""


OPENAPI_TAGS = [
    {"name": "claims", "description": "Checkable statements and their derived status."},
    {"name": "sources", "description": "Who takes positions on claims."},
    {"name": "reports", "description": "The articles through which stances are known."},
    {"name": "verdicts", "description": "Fact-checkers' verdicts; ClaimReview import."},
    {"name": "health", "description": "Liveness and readiness probes."},
    {"name": "sync", "description": "Bulk import, export and the change feed."},
    {"name": "webhooks", "description": "Signed event deliveries to your URLs (admin keys only)."},
]
ROUTERS = (
    claims.router,
    match_routes.router,
    stances.claim_stances,
    verdicts.router,
    sources.router,
    stances.source_stances,
    reports.router,
    health.router,
    webhooks.router,
    sync.changes_router,
    sync.router,
)
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-Request-ID",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
]
CORS_EXPOSE_HEADERS = [
    "Link",
    "Location",
    "ETag",
    "Idempotent-Replayed",
    "X-Request-ID",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
]
# One version, the installed package's (pyproject.toml), so /docs and `pip show` agree.
VERSION = importlib.metadata.version("claims-api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings)
    log = change_log_of(engine, settings)
    app = FastAPI(
        title="claims-api",
        openapi_tags=OPENAPI_TAGS,
        version=VERSION,
        description=DESCRIPTION,
        lifespan=_lifespan(engine, settings, log),
        # Served by install_docs from vendored assets, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.stance_writer = GroupCommit(engine)
    app.state.migration_head = migration_head()
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    # The desk's pages are not part of the API: they stay out of the OpenAPI document.
    app.include_router(desk.router, include_in_schema=False)
    app.add_api_route(
        "/problems/{slug}",
        _problem_type,
        include_in_schema=False,
        response_class=PlainTextResponse,
    )
    _add_middleware(app, settings, engine, log)
    return app


def _lifespan(
    engine: Engine, settings: Settings, log: ChangeLog | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The webhook sender runs beside the server unless CLAIMS_WEBHOOK_SENDER=false.
        sender = start_sender(engine, settings) if settings.webhook_sender else None
        yield
        await asyncio.to_thread(app.state.stance_writer.close)
        if sender is not None:
            await asyncio.to_thread(sender.stop)
        if log is not None:
            log.close()
        engine.dispose()

    return lifespan


def _problem_type(slug: str) -> str:
    if slug not in PROBLEM_TYPES:
        raise NotFound(f"No problem type '{slug[:40]}'.")
    return f"{slug}: {PROBLEM_TYPES[slug]}\n"


def _add_middleware(
    app: FastAPI, settings: Settings, engine: Engine, log: ChangeLog | None
) -> None:
    # Added last runs first: request id and headers wrap everything, then CORS, limits,
    # media types, the idempotency keys, which read bodies already limited, and innermost
    # the cache of open reads, so that everything above applies to its answers too.
    if settings.response_cache_bytes > 0 and log is not None:
        app.add_middleware(ResponseCache, log=log, max_bytes=settings.response_cache_bytes)
    app.add_middleware(
        IdempotencyKeys, engine=engine, lease=timedelta(seconds=settings.idempotency_lease_seconds)
    )
    app.add_middleware(MediaTypeCheck)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger={"/reports": settings.max_report_body_bytes},
    )
    # A presented key is looked up before the rate limiter (which buckets live keys only),
    # and refused after it, so that made-up keys are limited by client address.
    app.add_middleware(RefuseUnknownKey)
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute)
    app.add_middleware(IdentifyKey, engine=engine)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
            max_age=600,
        )
    app.add_middleware(RequestContext)
