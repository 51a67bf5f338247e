"""API keys: minting, hashing, scopes, and the dependencies that guard routes."""

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, String, bindparam, update
from sqlalchemy import select as core_select  # sqlmodel's takes at most four columns
from sqlmodel import Field, Session, SQLModel, col, select
from starlette.types import Scope as StarletteScope

from app.core.config import Settings
from app.core.db import UTCDateTime, read_once_engine, utcnow, write_engine
from app.core.errors import Forbidden, Unauthorized
from app.core.models import IdType


class ApiKey(SQLModel, table=True):
    """An API key, stored only as its SHA-256 hash."""

    __tablename__ = "api_key"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, sa_type=IdType, primary_key=True)
    name: str | None = Field(default=None, sa_type=String(200))
    prefix: str = Field(sa_type=String(16))
    key_hash: str = Field(sa_type=String(64), unique=True)
    scopes: str = Field(sa_type=String(64))
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


KEY_PREFIX = "ck_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
PREFIX_LENGTH = 10  # what `keys list` shows of a key: enough to tell keys apart, not to use one


class Scope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


# Each scope includes the ones below it.
SCOPE_RANK = {Scope.read: 0, Scope.write: 1, Scope.admin: 2}


def hash_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough; no salt is needed.
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(*, engine: Engine, scope: Scope, name: str | None = None) -> str:
    """Mint a key, store its hash, and return the key itself (shown once)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with Session(write_engine(engine)) as session:
        session.add(
            ApiKey(
                name=name,
                prefix=key[:PREFIX_LENGTH],
                key_hash=hash_key(key),
                scopes=scope.value,
                created_at=utcnow(),
            )
        )
        session.commit()
    return key


def revoke_key(*, engine: Engine, key_or_prefix: str) -> int:
    """Revoke the key given by its ID (digits, as `keys list` shows), its displayed prefix or
    whole; returns how many were revoked. A prefix starts with `ck_`: never taken for an ID."""
    with Session(write_engine(engine)) as session:
        query = select(ApiKey).where(col(ApiKey.revoked_at).is_(None))
        if key_or_prefix.isascii() and key_or_prefix.isdigit():
            query = query.where(col(ApiKey.id) == int(key_or_prefix))
        elif key_or_prefix.startswith(KEY_PREFIX) and len(key_or_prefix) > PREFIX_LENGTH:
            query = query.where(ApiKey.key_hash == hash_key(key_or_prefix))
        else:
            query = query.where(ApiKey.prefix == key_or_prefix)
        keys = list(session.exec(query))
        for key in keys:
            key.revoked_at = utcnow()
        session.commit()
    return len(keys)


def list_keys(*, engine: Engine) -> list[ApiKey]:
    with Session(engine) as session:
        return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))))


PRESENTED_KEY_STATE = "presented_key"


@dataclass(frozen=True, slots=True)
class LiveKey:
    """What a request needs of its key: read on every request, so not a whole ApiKey (an
    ORM object costs more to build than the query)."""

    id: int
    scopes: str
    last_used_at: datetime | None


@dataclass(frozen=True)
class PresentedKey:
    """The request's Authorization header, looked up once by app.http.presented_key: `key`
    is None unless it names a live API key."""

    key: LiveKey | None
    # Not `Bearer <something>`: another scheme, or nothing after the scheme.
    malformed: bool = False


def bearer_credentials(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header; None for another scheme or none."""
    scheme, _, credentials = authorization.partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def presented_key(scope: StarletteScope) -> PresentedKey | None:
    """What app.http.presented_key found for this request; None when it sent no
    Authorization."""
    found: PresentedKey | None = scope.get("state", {}).get(PRESENTED_KEY_STATE)
    return found


_BY_HASH = core_select(
    col(ApiKey.key_hash), col(ApiKey.revoked_at), col(ApiKey.id), col(ApiKey.scopes),
    col(ApiKey.last_used_at),
).where(col(ApiKey.key_hash) == bindparam("digest"))  # fmt: skip


def lookup_key(engine: Engine, key: str) -> LiveKey | None:
    # Constant time where it matters: the key is never compared, only its SHA-256, found by
    # an index lookup (which leaks nothing useful: an attacker would need a preimage), and
    # the match is confirmed with hmac.compare_digest. Read on every request, never cached:
    # a key revoked by any process is refused on the very next request.
    digest = hash_key(key)
    # A Core read of one statement (one per request, on every write): no Session, no BEGIN.
    with read_once_engine(engine).connect() as conn:
        row = conn.execute(_BY_HASH, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return None if row.revoked_at is not None else LiveKey(row.id, row.scopes, row.last_used_at)


def _last_use_due(key: LiveKey) -> bool:
    """Last use is recorded at most once a minute per key: a write per request would be waste."""
    return key.last_used_at is None or utcnow() - key.last_used_at >= LAST_USED_RESOLUTION


def _touch(engine: Engine, key: LiveKey) -> None:
    with Session(write_engine(engine)) as session:
        session.exec(update(ApiKey).where(col(ApiKey.id) == key.id).values(last_used_at=utcnow()))
        session.commit()


_bearer = HTTPBearer(auto_error=False, description="An API key minted by `claims-api keys create`.")


def require(scope: Scope) -> Callable[..., Awaitable[LiveKey]]:
    # Async, so that a write costs no trip to the thread pool for its key: the key was
    # looked up already (app.http.presented_key), and its last use is written at most once
    # a minute.
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> LiveKey:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("This operation needs an API key: Authorization: Bearer <key>.")
        engine = request.app.state.engine
        # Looked up once per request, by app.http.presented_key before the rate limiter.
        presented = presented_key(request.scope)
        key = (
            presented.key
            if presented is not None
            else await run_in_threadpool(lookup_key, engine, credentials.credentials)
        )
        if key is None:
            raise Unauthorized("The API key is unknown or revoked.")
        if SCOPE_RANK[Scope(key.scopes)] < SCOPE_RANK[scope]:
            raise Forbidden(f"This operation needs a key with the '{scope}' scope.")
        if _last_use_due(key):
            await run_in_threadpool(_touch, engine, key)
        return key

    # Read by app/http/openapi.py to tell operations that always need a key from open reads.
    setattr(check, "required_scope", scope)  # noqa: B010
    return check


async def read_guard(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Reads are open unless CLAIMS_REQUIRE_KEY_FOR_READS is set."""
    settings: Settings = request.app.state.settings
    if settings.require_key_for_reads:
        await require(Scope.read)(request, credentials)


WriteKey = Annotated[LiveKey, Depends(require(Scope.write))]
ReadAccess = Depends(read_guard)
