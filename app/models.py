"""Tables and API models for sources, claims and stances (SQLModel families)."""

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import ConfigDict, GetJsonSchemaHandler, ValidationInfo, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.fields import (
    MAX_TAGS,
    ClaimText,
    CountryCode,
    HttpUrlStr,
    LanguageTag,
    LongText,
    Name,
    PublicId,
    Rfc3339,
    ShortText,
    SourceRef,
    Tag,
)
from app.pagination import Page
from app.rating import Rating
from app.status import ClaimStatus, StanceKind

# BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the rowid alias.
IdType = BigInteger().with_variant(Integer, "sqlite")


class SourceKind(StrEnum):
    state_media = "state_media"
    news_agency = "news_agency"
    news_outlet = "news_outlet"
    armed_group = "armed_group"
    government = "government"
    monitor = "monitor"
    ngo = "ngo"
    social_media = "social_media"
    individual = "individual"
    other = "other"


def name_key(name: str) -> str:
    """The case-insensitive identity of a source name."""
    return name.strip().casefold()


def affiliation_key(affiliation: str | None) -> str | None:
    return affiliation.strip().casefold() if affiliation and affiliation.strip() else None


def _enum_check(column: str, enum: type[StrEnum]) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


class RequestModel(SQLModel):
    """Request bodies refuse unknown fields: no mass assignment of read-only ones."""

    model_config = ConfigDict(extra="forbid")


class PatchModel(RequestModel):
    non_nullable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # A field that may be left out but never set to null: the document says so, as
        # _no_null_for_required below enforces it.
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name in cls.non_nullable:
            field = schema["properties"][name]
            options = [o for o in field.get("anyOf", ()) if o != {"type": "null"}]
            if len(options) == 1:
                del field["anyOf"]
                field.update(options[0])
        return schema

    # A field validator (not a model one), so that the 422 names the field itself.
    @field_validator("*")
    @classmethod
    def _no_null_for_required(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.non_nullable:
            raise ValueError(f"{info.field_name} cannot be null")
        return value


# --- Source -------------------------------------------------------------------


class Source(SQLModel, table=True):
    __tablename__ = "source"
    __table_args__ = (
        _enum_check("kind", SourceKind),
        Index("ix_source_kind_name_key", "kind", "name_key"),
        Index("ix_source_affiliation_key", "affiliation_key"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_type=IdType, primary_key=True)
    name: str = Field(sa_type=String(200))
    name_key: str = Field(sa_type=String(200), unique=True)
    kind: str = Field(sa_type=String(32))
    affiliation: str | None = Field(default=None, sa_type=String(200))
    affiliation_key: str | None = Field(default=None, sa_type=String(200))
    country: str | None = Field(default=None, sa_type=String(2))
    url: str | None = Field(default=None, sa_type=String(2048))
    description: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


SOURCE_EXAMPLE = {
    "name": "Syrian state media",
    "kind": "state_media",
    "affiliation": "Syrian government",
    "country": "SY",
    "url": "https://sana.sy",
    "description": "Syria's official news agency and state broadcasters.",
}


class SourceCreate(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SOURCE_EXAMPLE]})

    name: Name
    kind: SourceKind
    affiliation: ShortText | None = None
    country: CountryCode | None = None
    url: HttpUrlStr | None = None
    description: LongText | None = None


class SourceUpdate(PatchModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"affiliation": "Syrian government"}]}
    )
    non_nullable = frozenset({"name", "kind"})

    name: Name | None = None
    kind: SourceKind | None = None
    affiliation: ShortText | None = None
    country: CountryCode | None = None
    url: HttpUrlStr | None = None
    description: LongText | None = None


class SourceSummary(SQLModel):
    """What a stance embeds of its source."""

    id: PublicId
    name: str
    kind: SourceKind
    affiliation: str | None


class SourcePublic(SourceSummary):
    country: str | None
    url: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime


# --- Claim --------------------------------------------------------------------


class Claim(SQLModel, table=True):
    __tablename__ = "claim"
    __table_args__ = (
        _enum_check("status", ClaimStatus),
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
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ClaimTag(SQLModel, table=True):
    """One row per tag of a claim, so that the tag filter is an index lookup."""

    __tablename__ = "claim_tag"
    __table_args__ = (Index("ix_claim_tag_tag_claim_id", "tag", "claim_id"),)

    claim_id: int = Field(
        sa_column=Column(IdType, ForeignKey("claim.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_type=String(64), primary_key=True)


CLAIM_EXAMPLE = {
    "text": "Syrian insurgents entered the city of Hama.",
    "language": "en",
    "place": "Hama",
    "occurred_at": "2024-12-05T08:00:00Z",
    "tags": ["syria", "hama-offensive-2024"],
}


class ClaimCreate(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLAIM_EXAMPLE]})

    text: ClaimText
    language: LanguageTag = "en"
    place: ShortText | None = None
    occurred_at: Rfc3339 | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)

    _unique_tags = field_validator("tags")(_unique_tags)


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
        return None if tags is None else _unique_tags(tags)


class ClaimPublic(SQLModel):
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


# --- Stance -------------------------------------------------------------------


class Stance(SQLModel, table=True):
    __tablename__ = "stance"
    __table_args__ = (
        _enum_check("stance", StanceKind),
        Index("ix_stance_claim_id_stated_at_id", "claim_id", "stated_at", "id"),
        Index("ix_stance_source_id_stated_at_id", "source_id", "stated_at", "id"),
        # At most one current stance per source and claim, enforced by the database.
        Index(
            "uq_stance_current_claim_id_source_id",
            "claim_id",
            "source_id",
            unique=True,
            sqlite_where=sql_text("is_current"),
            postgresql_where=sql_text("is_current"),
        ),
        Index(
            "ix_stance_current_source_id_stance",
            "source_id",
            "stance",
            "claim_id",
            sqlite_where=sql_text("is_current"),
            postgresql_where=sql_text("is_current"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_type=IdType, primary_key=True)
    claim_id: int = Field(
        sa_column=Column(IdType, ForeignKey("claim.id", ondelete="CASCADE"), nullable=False)
    )
    source_id: int = Field(
        sa_column=Column(IdType, ForeignKey("source.id", ondelete="RESTRICT"), nullable=False)
    )
    stance: str = Field(sa_type=String(8))
    stated_at: datetime = Field(sa_type=UTCDateTime)
    url: str | None = Field(default=None, sa_type=String(2048))
    quote: str | None = Field(default=None, sa_type=Text)
    reported_via: str | None = Field(default=None, sa_type=String(2048))
    note: str | None = Field(default=None, sa_type=Text)
    is_current: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)


STANCE_EXAMPLE = {
    "source_id": "3",
    "stance": "denies",
    "stated_at": "2024-12-05T09:30:00Z",
    "url": "https://sana.sy/en/",
    "quote": "State media denied that insurgents had breached the city.",
    "reported_via": "https://apnews.com/",
    "note": "Confirmed clashes in the east of the city in the same statement.",
}


class StanceCreate(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [STANCE_EXAMPLE]})

    source_id: SourceRef
    stance: StanceKind
    stated_at: Rfc3339 | None = Field(
        default=None, description="When the source took this position; defaults to now."
    )
    url: HttpUrlStr | None = None
    quote: LongText | None = None
    reported_via: HttpUrlStr | None = None
    note: LongText | None = None


class StancePublic(SQLModel):
    id: PublicId
    claim_id: PublicId
    source_id: PublicId
    stance: StanceKind
    stated_at: datetime
    url: str | None
    quote: str | None
    reported_via: str | None
    note: str | None
    current: bool
    created_at: datetime
    source: SourceSummary


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


class ClaimDetail(ClaimPublic):
    status_explanation: str
    stances: list[StancePublic]
    verdict: VerdictPublic | None = None


# --- API key ------------------------------------------------------------------


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


# --- Pages: named, so generated SDKs get ClaimPage rather than Page_ClaimPublic_ -------


class ClaimPage(Page[ClaimPublic]):
    pass


class SourcePage(Page[SourcePublic]):
    pass


class StancePage(Page[StancePublic]):
    pass
