"""Claims: the table, its tags, and its API models."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Index, String, Text
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.fields import MAX_TAGS, ClaimText, LanguageTag, PublicId, Rfc3339, ShortText, Tag
from app.core.models import IdType, PatchModel, RequestModel, enum_check, id_reference
from app.core.pagination import Page
from app.stances.models import StancePublic
from app.stances.rules import ClaimStatus
from app.verdicts.models import VerdictPublic


def unique_tags(tags: list[str]) -> list[str]:
    """The tags in their first order, each once."""
    return list(dict.fromkeys(tags))


class Claim(SQLModel, table=True):
    __tablename__ = "claim"
    __table_args__ = (
        enum_check("status", ClaimStatus),
        Index("ix_claim_updated_at_id", "updated_at", "id"),
        Index("ix_claim_created_at_id", "created_at", "id"),
        Index("ix_claim_status_updated_at_id", "status", "updated_at", "id"),
        Index("ix_claim_status_created_at_id", "status", "created_at", "id"),
        Index("ix_claim_place_updated_at", "place", "updated_at"),
        Index("ix_claim_language_updated_at", "language", "updated_at"),
        Index("ix_claim_occurred_at", "occurred_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_type=IdType, primary_key=True)
    text: str = Field(sa_type=Text)
    language: str = Field(sa_type=String(35))
    place: str | None = Field(default=None, sa_type=String(200))
    occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(sa_type=String(16), default=ClaimStatus.unsourced.value)
    asserting_sources: int = Field(default=0, sa_column_kwargs={"server_default": sql_text("0")})
    denying_sources: int = Field(default=0, sa_column_kwargs={"server_default": sql_text("0")})
    # The start of the current status's run in stated time (app/stances/timeline.py).
    status_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The analysed terms that search indexes (app/search/column.py); never shown.
    search_text: str = Field(
        default="", sa_type=Text, sa_column_kwargs={"server_default": sql_text("''")}
    )


class ClaimTag(SQLModel, table=True):
    """One row per tag of a claim, so that the tag filter is an index lookup."""

    __tablename__ = "claim_tag"
    __table_args__ = (Index("ix_claim_tag_tag_claim_id", "tag", "claim_id"),)

    claim_id: int = Field(sa_column=id_reference("claim.id", ondelete="CASCADE", primary_key=True))
    tag: str = Field(sa_type=String(64), primary_key=True)


CLAIM_EXAMPLE = {
    "text": "Syrian insurgents entered the city of Hama.",
    "language": "en",
    "place": "Hama",
    "occurred_at": "2024-12-05T08:00:00Z",
    "tags": ["syria", "hama-offensive-2024"],
}


class ClaimFields(BaseModel):
    """What a client writes of a new claim, as POST /claims and a bulk file's claim line
    take it. Plain pydantic, so that the bulk line stays off SQLModel's slower path."""

    text: ClaimText
    language: LanguageTag = "en"
    place: ShortText | None = None
    occurred_at: Rfc3339 | None = None
    tags: list[Tag] = PydanticField(default_factory=list, max_length=MAX_TAGS)

    _unique_tags = field_validator("tags")(unique_tags)


class ClaimCreate(RequestModel, ClaimFields):
    model_config = ConfigDict(json_schema_extra={"examples": [CLAIM_EXAMPLE]})


class ClaimUpdate(PatchModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"place": "Hama, eastern districts"}]}
    )
    non_nullable = frozenset({"text", "language", "tags"})

    text: ClaimText | None = None
    language: LanguageTag | None = None
    place: ShortText | None = None
    occurred_at: Rfc3339 | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)

    @field_validator("tags")
    @classmethod
    def _dedupe(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else unique_tags(tags)


class ClaimPublic(BaseModel):
    # A plain pydantic model, not SQLModel: a page of 20 validates in half the time.
    model_config = ConfigDict(from_attributes=True)

    id: PublicId
    text: str
    language: str
    place: str | None
    occurred_at: datetime | None
    tags: list[str]
    status: ClaimStatus
    asserting_sources: int
    denying_sources: int
    created_at: datetime
    updated_at: datetime
    # Last, so that CSV columns of v1 keep their positions.
    status_since: datetime | None = Field(
        description="The stated time from which the current status has held without "
        "interruption; null while unsourced."
    )


class ClaimDetail(ClaimPublic):
    status_explanation: str
    stances: list[StancePublic]
    verdict: VerdictPublic | None = None


class ClaimPage(Page[ClaimPublic]):
    pass
