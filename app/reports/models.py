"""Reports: the articles through which we know of stances. The table and its API models."""

import hashlib
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic import Field as PydanticField
from sqlalchemy import Index, String, Text
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.fields import (
    HttpUrlStr,
    LanguageTag,
    OptionalId,
    PublicId,
    Rfc3339,
    SourceRef,
    StorableStr,
)
from app.core.models import IdType, PatchModel, RequestModel, id_reference
from app.core.pagination import Page

MAX_REPORT_TEXT = 500_000


def url_key(url: str) -> str:
    """The identity of a report's url: without its fragment, scheme and host in lower case.
    Stored as a SHA-256 digest, so that the unique index takes any url up to 2048
    characters (a PostgreSQL btree entry holds at most ~2,700 bytes)."""
    parts = urlsplit(url)
    same = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))
    return hashlib.sha256(same.encode()).hexdigest()


class Report(SQLModel, table=True):
    __tablename__ = "report"
    __table_args__ = (
        Index("ix_report_published_at_id", "published_at", "id"),
        Index("ix_report_publisher_id_published_at_id", "publisher_id", "published_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_type=IdType, primary_key=True)
    url: str = Field(sa_type=String(2048))
    url_key: str = Field(sa_type=String(64), unique=True)
    title: str | None = Field(default=None, sa_type=String(500))
    publisher_id: int | None = Field(
        default=None,
        sa_column=id_reference("source.id", ondelete="RESTRICT", nullable=True),
    )
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    language: str = Field(sa_type=String(35))
    text: str | None = Field(default=None, sa_type=Text)
    # The text as app.reports.quotes.normalise gives it, so that a stance write finds its
    # quote in it with one LIKE, without fetching or normalising the text.
    text_key: str | None = Field(default=None, sa_type=Text)
    # Kept by triggers on stance (migration 0009), whichever way stances come and go.
    stance_count: int = Field(default=0, sa_column_kwargs={"server_default": sql_text("0")})
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


ReportText = Annotated[
    StorableStr,
    StringConstraints(max_length=MAX_REPORT_TEXT),
    PydanticField(description="The report's full text, stored exactly (up to 500,000 characters)."),
]
Title = Annotated[StorableStr, StringConstraints(min_length=1, max_length=500)]


REPORT_EXAMPLE = {
    "url": "https://apnews.com/article/syria-hama-insurgents",
    "title": "Syrian insurgents say they have entered the city of Hama",
    "publisher_id": "5",
    "published_at": "2024-12-05T11:21:00Z",
    "language": "en",
    "text": "On Thursday, Syrian insurgents claimed to have entered parts of the central city...",
}


class ReportFields(BaseModel):
    """What a client writes of a new report, as POST /reports and a bulk file's report line
    take it. Plain pydantic, so that the bulk line stays off SQLModel's slower path."""

    url: HttpUrlStr
    title: Title | None = None
    publisher_id: SourceRef | None = None
    published_at: Rfc3339 | None = None
    language: LanguageTag = "en"
    text: ReportText | None = None


class ReportCreate(RequestModel, ReportFields):
    model_config = ConfigDict(json_schema_extra={"examples": [REPORT_EXAMPLE]})


class ReportUpdate(PatchModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "Insurgents enter Hama"}]})
    non_nullable = frozenset({"url", "language"})

    url: HttpUrlStr | None = None
    title: Title | None = None
    publisher_id: SourceRef | None = None
    published_at: Rfc3339 | None = None
    language: LanguageTag | None = None
    text: ReportText | None = None


class ReportSummary(SQLModel):
    """A report as lists show it: without its text."""

    id: PublicId
    url: str
    title: str | None
    publisher_id: OptionalId
    published_at: datetime | None
    language: str
    stance_count: int
    created_at: datetime
    updated_at: datetime


class ReportPublic(ReportSummary):
    text: str | None


class ReportPage(Page[ReportSummary]):
    pass
