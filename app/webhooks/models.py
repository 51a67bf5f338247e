"""Tables and API models for webhook subscriptions, the event outbox and deliveries."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.core.db import UTCDateTime
from app.core.fields import HttpUrlStr, LanguageTag, PublicId, StorableStr, Tag
from app.core.models import IdType, PatchModel, RequestModel, id_reference
from app.core.pagination import Page
from app.events.models import EventType
from app.stances.rules import ClaimStatus


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


# --- Tables -------------------------------------------------------------------


class Webhook(SQLModel, table=True):
    """A subscription: where to send which events, and the secret that signs them."""

    __tablename__ = "webhook"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = SQLField(default=None, sa_type=IdType, primary_key=True)
    url: str = SQLField(sa_type=String(2048))
    events: list[str] = SQLField(sa_column=Column(JSON, nullable=False))
    event_filter: dict[str, list[str]] | None = SQLField(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    description: str | None = SQLField(default=None, sa_type=Text)
    # The server signs with the secret itself (HMAC needs the key), so it cannot be a hash.
    secret: str = SQLField(sa_type=String(100))
    # After a rotation the old secret signs too, until it expires: receivers switch at leisure.
    previous_secret: str | None = SQLField(default=None, sa_type=String(100))
    previous_secret_expires_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    enabled: bool = SQLField(default=True)
    disabled_reason: str | None = SQLField(default=None, sa_type=String(200))
    created_at: datetime = SQLField(sa_type=UTCDateTime)
    updated_at: datetime = SQLField(sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription: the message, its state and its retry schedule."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_valid"),
        UniqueConstraint("event_id", "webhook_id"),
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_webhook_id_created_at_id", "webhook_id", "created_at", "id"),
        Index("ix_webhook_delivery_event_id", "event_id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = SQLField(default=None, sa_type=IdType, primary_key=True)
    webhook_id: int = SQLField(
        sa_column=id_reference("webhook.id", ondelete="CASCADE", nullable=False)
    )
    event_id: int = SQLField(sa_column=id_reference("event.id", ondelete="CASCADE", nullable=False))
    # The `webhook-id` header: the same on every attempt, so receivers can deduplicate.
    message_id: str = SQLField(sa_type=String(40), unique=True)
    status: str = SQLField(sa_type=String(16), default=DeliveryStatus.pending.value)
    attempt_count: int = SQLField(default=0, sa_column_kwargs={"server_default": sql_text("0")})
    # When the next attempt is due; while a sender holds the lease, when the lease runs out.
    next_attempt_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    lease_token: str | None = SQLField(default=None, sa_type=String(32))
    delivered_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    created_at: datetime = SQLField(sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    """One HTTP request of a delivery, and what came of it."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (
        Index("ix_webhook_attempt_delivery_id_id", "delivery_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = SQLField(default=None, sa_type=IdType, primary_key=True)
    delivery_id: int = SQLField(
        sa_column=id_reference("webhook_delivery.id", ondelete="CASCADE", nullable=False)
    )
    attempted_at: datetime = SQLField(sa_type=UTCDateTime)
    status_code: int | None = SQLField(default=None, sa_type=Integer)
    error: str | None = SQLField(default=None, sa_type=String(500))
    response_body: str | None = SQLField(default=None, sa_type=Text)
    duration_ms: int = SQLField(sa_type=Integer)


# --- API models ---------------------------------------------------------------

MAX_FILTER_VALUES = 20
Description = Annotated[StorableStr, StringConstraints(max_length=500)]


def _unique(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else list(dict.fromkeys(values))


class WebhookFilter(RequestModel):
    """Conditions on the claim an event is about: every key given must match (AND), and
    a key matches when the claim has any of its values (OR). Events whose claim does not
    match are not delivered to this subscription."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": ["disputed"]}]})

    status: list[ClaimStatus] | None = Field(
        default=None, min_length=1, max_length=MAX_FILTER_VALUES
    )
    tag: list[Tag] | None = Field(default=None, min_length=1, max_length=MAX_FILTER_VALUES)
    language: list[LanguageTag] | None = Field(
        default=None, min_length=1, max_length=MAX_FILTER_VALUES
    )

    _dedupe = field_validator("status", "tag", "language")(_unique)


WEBHOOK_EXAMPLE = {
    "url": "https://newsroom.example.org/hooks/claims",
    "events": ["claim.status_changed", "stance.created"],
    "filter": {"status": ["disputed"]},
    "description": "Alert the Syria desk when a claim becomes disputed.",
}


class WebhookCreate(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [WEBHOOK_EXAMPLE]})  # type: ignore[list-item]

    url: HttpUrlStr = Field(
        description="Where deliveries are POSTed: https (http only where the operator allows "
        "it); it must not resolve to a private, loopback or link-local address."
    )
    events: list[EventType] = Field(min_length=1, max_length=len(EventType))
    filter: WebhookFilter | None = None
    description: Description | None = None

    _dedupe = field_validator("events")(_unique)


class WebhookUpdate(PatchModel):
    # SQLModel types model_config as its own dict: fine at runtime.
    model_config = ConfigDict(json_schema_extra={"examples": [{"enabled": False}]})  # type: ignore[assignment]
    non_nullable = frozenset({"url", "events", "enabled"})

    url: HttpUrlStr | None = None
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EventType))
    filter: WebhookFilter | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None, description="false pauses deliveries; true resumes them."
    )

    _dedupe = field_validator("events")(_unique)


class WebhookPublic(SQLModel):
    id: PublicId
    url: str
    events: list[EventType]
    filter: WebhookFilter | None
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why deliveries stopped, e.g. the receiver answered 410 Gone."
    )
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="The signing secret (`whsec_` + base64). Shown only in this answer: "
        "store it now. A replay of the request (same Idempotency-Key) leaves it out.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3e5eEn8n3bU="],
    )


class WebhookSecret(SQLModel):
    secret: str = Field(
        description="The new signing secret, shown only in this answer (a replay of the "
        "request, with the same Idempotency-Key, leaves it out)."
    )
    previous_secret_expires_at: datetime = Field(
        description="Until then deliveries carry a signature with the old secret too."
    )


class WebhookAttemptPublic(SQLModel):
    attempted_at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null if none.")
    error: str | None = Field(description="Why the attempt failed without an HTTP answer.")
    response_body: str | None = Field(description="The start of a non-2xx answer's body.")
    duration_ms: int


class WebhookDeliveryPublic(SQLModel):
    id: PublicId
    webhook_id: PublicId
    event_id: PublicId
    event_type: EventType
    message_id: str = Field(description="The `webhook-id` header, the same on every attempt.")
    payload: dict[str, Any] = Field(description="The JSON body sent: type, timestamp, data.")
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None = Field(description="When the next attempt is due.")
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[WebhookAttemptPublic] = Field(description="Newest first.")


class WebhookPage(Page[WebhookPublic]):
    pass


class WebhookDeliveryPage(Page[WebhookDeliveryPublic]):
    pass
