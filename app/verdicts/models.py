"""Verdicts: the table (one per claim) and its API models."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import CheckConstraint, Index, String, Text
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.fields import HttpUrlStr, LongText, PublicId, ShortText, SourceRef, UtcDatetime
from app.core.models import RequestModel, id_reference
from app.sources.models import SourceSummary
from app.verdicts.rating import Rating


class Verdict(SQLModel, table=True):
    __tablename__ = "verdict"
    __table_args__ = (
        CheckConstraint(
            "rating IN (" + ", ".join(f"'{r.value}'" for r in Rating) + ")", name="rating_valid"
        ),
        # Serves the `verdict` filter of GET /claims: an EXISTS per candidate claim.
        Index("ix_verdict_rating_claim_id", "rating", "claim_id"),
        # Finds an imported review again (same publisher, same article), and tells whether
        # a source has verdicts without a scan.
        Index("ix_verdict_source_id_url", "source_id", "url"),
    )

    claim_id: int = Field(sa_column=id_reference("claim.id", ondelete="CASCADE", primary_key=True))
    rating: str = Field(sa_type=String(16))
    textual_rating: str | None = Field(default=None, sa_type=String(200))
    explanation: str | None = Field(default=None, sa_type=Text)
    source_id: int = Field(sa_column=id_reference("source.id", ondelete="RESTRICT", nullable=False))
    reviewed_at: datetime = Field(sa_type=UTCDateTime)
    url: str | None = Field(default=None, sa_type=String(2048))
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


VERDICT_EXAMPLE: dict[str, Any] = {
    "rating": "mostly_false",
    "textual_rating": "Misleading",
    "explanation": "Insurgents reached the eastern districts; the city centre was not "
    "breached on 5 December, according to three independent witnesses.",
    "source_id": "7",
    "reviewed_at": "2024-12-06T10:00:00Z",
    "url": "https://factcheck.example.org/2024/12/06/hama-entered",
}


class VerdictFields(BaseModel):
    """What a client writes of a verdict, as PUT /claims/{claim_id}/verdict and a bulk file's
    verdict line take it. Plain pydantic, so that the bulk line stays off SQLModel's slower
    path."""

    rating: Rating = Field(description="The verdict on the normalized scale.")
    textual_rating: ShortText | None = Field(
        default=None,
        description="The publisher's own wording, e.g. 'Misleading' (ClaimReview alternateName).",
    )
    explanation: LongText | None = Field(default=None, description="Why, in a few sentences.")
    source_id: SourceRef = Field(description="The source (fact-checking organisation) that ruled.")
    reviewed_at: UtcDatetime | None = Field(
        default=None,
        description="When the verdict was published; defaults to the time of the request "
        "that changes it (a PUT that changes nothing keeps the previous one).",
    )
    url: HttpUrlStr | None = Field(default=None, description="The published fact-check.")


class VerdictPut(RequestModel, VerdictFields):
    """The whole verdict: PUT replaces it, and fields left out are cleared."""

    model_config = ConfigDict(json_schema_extra={"examples": [VERDICT_EXAMPLE]})


class VerdictOutcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"


class VerdictPublic(SQLModel):
    """A fact-checker's verdict on a claim (the table and writes are in app/verdicts.py)."""

    claim_id: PublicId
    rating: Rating
    textual_rating: str | None
    explanation: str | None
    source_id: PublicId
    source: SourceSummary
    reviewed_at: datetime
    url: str | None
    created_at: datetime
    updated_at: datetime
