"""Idempotency keys in the database: claim a key before the request runs, record the
answer after, replay it to retries. Rows survive restarts and are shared by every worker.

Each step is its own short transaction, apart from the request's own: a claimed key is
visible to concurrent duplicates (409) while the request runs. A route that writes also
records its answer inside its own transaction (app/http/idempotency/in_transaction.py), so that
a crash after its commit cannot leave the write without its answer.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.auth import ApiKey, hash_key
from app.core.db import utcnow, write_engine
from app.http.idempotency.models import IdempotencyKey

# How long a key is remembered, from its first use: the policy docs/retries.md publishes.
KEY_TTL = timedelta(hours=24)
# How long a request owns its key by default (CLAIMS_IDEMPOTENCY_LEASE_SECONDS). A request
# that crashed its process leaves its key claimed; after the lease a retry takes the key
# over and runs the request again.
LEASE = timedelta(seconds=60)
PURGE_BATCH = 500
# Answer headers worth replaying; the others (request id, rate limit) belong to each answer.
REPLAYED_HEADERS = ("content-type", "location", "etag")
# Fields of a JSON answer never stored for a replay: a webhook's signing secret is shown
# once, and kept only where it is needed (the webhook row), not in a second table for 24 h.
SECRET_FIELDS = ("secret",)


def storable_body(body: bytes, headers: dict[str, str]) -> bytes:
    """The answer's body as a replay may show it: without its secret fields."""
    if not headers.get("content-type", "").startswith("application/json"):
        return body
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    if not isinstance(answer, dict) or not any(name in answer for name in SECRET_FIELDS):
        return body
    return json.dumps(
        {k: v for k, v in answer.items() if k not in SECRET_FIELDS},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def answer_columns(status_code: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """What a key's row keeps of the answer to replay, from its lower-cased headers."""
    kept = {name: value for name, value in headers.items() if name in REPLAYED_HEADERS}
    return {
        "status_code": status_code,
        "response_headers": kept,
        "response_body": storable_body(body, kept),
    }


@dataclass(frozen=True)
class Proceed:
    """The key is ours: run the request, then `complete` or `release`."""

    record_id: int
    lease_token: str


@dataclass(frozen=True)
class Replay:
    status_code: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class InFlight:
    """A request with this key is still running."""


@dataclass(frozen=True)
class Mismatch:
    """The key was first used with another request."""


Outcome = Proceed | Replay | InFlight | Mismatch


def fingerprint(*, method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests "the same": method, path, query string and body bytes."""
    digest = hashlib.sha256(f"{method}\n{path}\n".encode())
    digest.update(query + b"\n" + body)
    return digest.hexdigest()


def key_owner(*, engine: Engine, key: str) -> int | None:
    """The id of the live API key `key`, the scope of its idempotency keys; None if unknown."""
    query = select(ApiKey.id).where(
        ApiKey.key_hash == hash_key(key), col(ApiKey.revoked_at).is_(None)
    )
    with Session(engine) as session:
        return session.exec(query).first()


def claim(
    *,
    engine: Engine,
    api_key_id: int,
    key: str,
    fingerprint: str,
    now: datetime | None = None,
    lease: timedelta = LEASE,
) -> Outcome:
    """Take the key for a request, or say why not (replay, in flight, mismatch)."""
    now = now or utcnow()
    for _ in range(2):
        with Session(write_engine(engine), expire_on_commit=False) as session:
            query = select(IdempotencyKey).where(
                IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key == key
            )
            record = session.exec(query.with_for_update()).first()
            if record is None:
                record = IdempotencyKey(
                    api_key_id=api_key_id, key=key, fingerprint=fingerprint, created_at=now
                )
            elif record.created_at > now - KEY_TTL:
                if record.fingerprint != fingerprint:
                    return Mismatch()
                if record.status_code is not None:
                    return Replay(
                        record.status_code,
                        dict(record.response_headers or {}),
                        record.response_body or b"",
                    )
                if record.locked_until is not None and record.locked_until > now:
                    return InFlight()
                # The lease ran out: the request died with its process. Run it again.
                return _take(session, record, now + lease, first_use=record.created_at)
            else:
                # Expired: the key starts a new life, whatever it was used for before.
                record.fingerprint = fingerprint
                record.status_code = record.response_headers = record.response_body = None
            try:
                return _take(session, record, now + lease, first_use=now)
            except IntegrityError:
                # A concurrent first use inserted the key meanwhile: look again.
                session.rollback()
    return InFlight()


def _take(
    session: Session, record: IdempotencyKey, locked_until: datetime, first_use: datetime
) -> Proceed:
    record.created_at = first_use
    record.lease_token = secrets.token_hex(16)
    record.locked_until = locked_until
    session.add(record)
    session.commit()
    return Proceed(record.id, record.lease_token)  # type: ignore[arg-type]


def complete(
    *, engine: Engine, claimed: Proceed, status_code: int, headers: dict[str, str], body: bytes
) -> bool:
    """Record the answer to replay; False if the lease was lost to a retry meanwhile."""
    with Session(write_engine(engine)) as session:
        result = session.exec(
            update(IdempotencyKey)
            .where(held(claimed))
            .values(
                **answer_columns(status_code, headers, body), lease_token=None, locked_until=None
            )
        )
        session.commit()
    return result.rowcount == 1


def release(*, engine: Engine, claimed: Proceed) -> None:
    """Forget the key after a failure (5xx, crash), so that a retry runs the request again;
    but never the answer of a write that committed (recorded in its own transaction)."""
    with Session(write_engine(engine)) as session:
        session.exec(
            delete(IdempotencyKey).where(held(claimed), col(IdempotencyKey.status_code).is_(None))
        )
        session.commit()


def purge_expired(*, engine: Engine, now: datetime | None = None) -> int:
    """Delete up to PURGE_BATCH keys older than KEY_TTL; returns how many."""
    cutoff = (now or utcnow()) - KEY_TTL
    expired = (
        select(IdempotencyKey.id)
        .where(col(IdempotencyKey.created_at) < cutoff)
        .order_by(col(IdempotencyKey.created_at))
        .limit(PURGE_BATCH)
    )
    with Session(write_engine(engine)) as session:
        result = session.exec(delete(IdempotencyKey).where(col(IdempotencyKey.id).in_(expired)))
        session.commit()
    return result.rowcount


def held(claimed: Proceed) -> ColumnElement[bool]:
    return (col(IdempotencyKey.id) == claimed.record_id) & (
        col(IdempotencyKey.lease_token) == claimed.lease_token
    )
