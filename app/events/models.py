"""The transactional outbox's table and the event types it carries."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String
from sqlalchemy import text as sql_text
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.core.db import UTCDateTime
from app.core.models import IdType


class EventType(StrEnum):
    claim_created = "claim.created"
    claim_updated = "claim.updated"
    claim_deleted = "claim.deleted"
    claim_status_changed = "claim.status_changed"
    # A back-dated stance rewrote the claim's status periods (GET /claims/{id}/timeline).
    claim_timeline_changed = "claim.timeline_changed"
    stance_created = "stance.created"
    verdict_published = "verdict.published"


class Event(SQLModel, table=True):
    """The transactional outbox: one row per change, written in the change's transaction."""

    __tablename__ = "event"
    __table_args__ = (
        # The sender's queue: events not yet turned into deliveries.
        Index(
            "ix_event_pending_fan_out",
            "id",
            sqlite_where=sql_text("fanned_out_at IS NULL"),
            postgresql_where=sql_text("fanned_out_at IS NULL"),
        ),
        Index("ix_event_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = SQLField(default=None, sa_type=IdType, primary_key=True)
    type: str = SQLField(sa_type=String(64))
    data: dict[str, Any] = SQLField(sa_column=Column(JSON, nullable=False))
    created_at: datetime = SQLField(sa_type=UTCDateTime)
    fanned_out_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
