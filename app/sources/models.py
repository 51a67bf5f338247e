"""Sources: the table and its API models."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.fields import CountryCode, HttpUrlStr, LongText, Name, PublicId, ShortText
from app.core.models import IdType, PatchModel, RequestModel, enum_check
from app.core.pagination import Page


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


class Source(SQLModel, table=True):
    __tablename__ = "source"
    __table_args__ = (
        enum_check("kind", SourceKind),
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


class SourceFields(BaseModel):
    """What a client writes of a new source, as POST /sources and a bulk file's source line
    take it. Plain pydantic, so that the bulk line stays off SQLModel's slower path."""

    name: Name
    kind: SourceKind
    affiliation: ShortText | None = None
    country: CountryCode | None = None
    url: HttpUrlStr | None = None
    description: LongText | None = None


SOURCE_EXAMPLE = {
    "name": "Syrian state media",
    "kind": "state_media",
    "affiliation": "Syrian government",
    "country": "SY",
    "url": "https://sana.sy",
    "description": "Syria's official news agency and state broadcasters.",
}


class SourceCreate(RequestModel, SourceFields):
    model_config = ConfigDict(json_schema_extra={"examples": [SOURCE_EXAMPLE]})


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


class SourcePage(Page[SourcePublic]):
    pass
