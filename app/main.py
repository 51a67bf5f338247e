"""The application factory."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute

from app.config import Settings, get_settings
from app.db import make_engine
from app.docs import install_docs
from app.errors import PROBLEM_TYPES, NotFound, install_error_handlers
from app.idempotency.middleware import IdempotencyKeys
from app.limits import BodySizeLimit, MediaTypeCheck
from app.logs import configure_logging
from app.middleware import RequestContext
from app.migrate import migration_head
from app.openapi import install_openapi
from app.presented_key import IdentifyKey, RefuseUnknownKey
from app.ratelimit import RateLimit
from app.response_cache import ResponseCache, data_version_of
from app.routes import bulk, changes, claims, health, sources, verdicts
from app.routes import webhooks as webhook_routes
from app.webhooks.sender import start_sender

DESCRIPTION = """\
Track contested claims in fast-moving conflict reporting: every claim, every source's
stance on it (asserts or denies, when, where, reported by whom), and a status derived
from those stances. `GET /claims?status=disputed` answers "what is disputed right now?".

Reads are open unless the operator closes them; writes need `Authorization: Bearer <key>`.
Errors are `application/problem+json` (RFC 9457). Lists use opaque keyset cursors.
"""


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings)
    version = data_version_of(engine, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The webhook sender runs beside the server unless CLAIMS_WEBHOOK_SENDER=false.
        sender = start_sender(engine, settings) if settings.webhook_sender else None
        yield
        if sender is not None:
            await asyncio.to_thread(sender.stop)
        if version is not None:
            version.close()
        engine.dispose()

    app = FastAPI(
        title="claims-api",
        openapi_tags=[
            {"name": "claims", "description": "Checkable statements and their derived status."},
            {"name": "sources", "description": "Who takes positions on claims."},
            {"name": "verdicts", "description": "Fact-checkers' verdicts; ClaimReview import."},
            {"name": "health", "description": "Liveness and readiness probes."},
            {"name": "sync", "description": "Bulk import, export and the change feed."},
            {
                "name": "webhooks",
                "description": "Signed event deliveries to your URLs (admin keys only).",
            },
        ],
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # Served by install_docs from vendored assets, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.migration_head = migration_head()
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    app.include_router(claims.router)
    app.include_router(verdicts.router)
    app.include_router(sources.router)
    app.include_router(health.router)
    app.include_router(webhook_routes.router)
    app.include_router(changes.router)
    app.include_router(bulk.router)

    @app.get("/problems/{slug}", include_in_schema=False, response_class=PlainTextResponse)
    def problem_type(slug: str) -> str:
        if slug not in PROBLEM_TYPES:
            raise NotFound(f"No problem type '{slug[:40]}'.")
        return f"{slug}: {PROBLEM_TYPES[slug]}\n"

    # Added last runs first: request id and headers wrap everything, then CORS, limits,
    # media types, the idempotency keys, which read bodies already limited, and innermost
    # the cache of open reads, so that everything above applies to its answers too.
    if settings.response_cache_bytes > 0 and version is not None:
        app.add_middleware(ResponseCache, version=version, max_bytes=settings.response_cache_bytes)
    app.add_middleware(
        IdempotencyKeys, engine=engine, lease=timedelta(seconds=settings.idempotency_lease_seconds)
    )
    app.add_middleware(MediaTypeCheck)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
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
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Request-ID",
                "Idempotency-Key",
                "If-Match",
                "If-None-Match",
            ],
            expose_headers=[
                "Link",
                "Location",
                "ETag",
                "Idempotent-Replayed",
                "X-Request-ID",
                "RateLimit",
                "RateLimit-Policy",
                "Retry-After",
            ],
            max_age=600,
        )
    app.add_middleware(RequestContext)
    return app
