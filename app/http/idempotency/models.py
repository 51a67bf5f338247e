"""The table of idempotency keys: one row per (API key, Idempotency-Key) pair."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.models import IdType, id_reference


class IdempotencyKey(SQLModel, table=True):
    """A POST made with an Idempotency-Key: in flight while `status_code` is null, then
    the answer to replay. Keys are scoped by the API key that sent them."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("api_key_id", "key"),
        # Expired rows are purged oldest first.
        Index("ix_idempotency_key_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_type=IdType, primary_key=True)
    api_key_id: int = Field(
        sa_column=id_reference("api_key.id", ondelete="CASCADE", nullable=False)
    )
    key: str = Field(sa_type=String(255))
    # SHA-256 of method, path, query and body: the same key with another request is refused.
    fingerprint: str = Field(sa_type=String(64))
    created_at: datetime = Field(sa_type=UTCDateTime)
    # While in flight: who runs the request, and until when before another may take over.
    lease_token: str | None = Field(default=None, sa_type=String(32))
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The answer, once there is one.
    status_code: int | None = None
    response_headers: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
