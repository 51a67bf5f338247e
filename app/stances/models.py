"""Stances: the table and its API models."""

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Index, String, Text
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.fields import HttpUrlStr, LongText, OptionalId, PublicId, Rfc3339, SourceRef
from app.core.models import IdType, RequestModel, enum_check, id_reference
from app.core.pagination import Page
from app.sources.models import SourceSummary
from app.stances.rules import ClaimStatus, StanceKind

# Recorded time, as a query parameter: the claim, or its timeline, as the service knew it then.
KnownAt = Annotated[
    Rfc3339 | None,
    Query(description="Recorded time: count only the stances recorded at or before it."),
]


class Stance(SQLModel, table=True):
    __tablename__ = "stance"
    __table_args__ = (
        enum_check("stance", StanceKind),
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
        # The stances of a report, newest first; also what keeps a cited report.
        Index("ix_stance_report_id_stated_at_id", "report_id", "stated_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_type=IdType, primary_key=True)
    claim_id: int = Field(sa_column=id_reference("claim.id", ondelete="CASCADE", nullable=False))
    source_id: int = Field(sa_column=id_reference("source.id", ondelete="RESTRICT", nullable=False))
    stance: str = Field(sa_type=String(8))
    stated_at: datetime = Field(sa_type=UTCDateTime)
    url: str | None = Field(default=None, sa_type=String(2048))
    quote: str | None = Field(default=None, sa_type=Text)
    reported_via: str | None = Field(default=None, sa_type=String(2048))
    note: str | None = Field(default=None, sa_type=Text)
    is_current: bool = Field(default=False)
    report_id: int | None = Field(
        default=None,
        sa_column=id_reference("report.id", ondelete="RESTRICT", nullable=True),
    )
    # Whether the quote occurs in the report's text (app.reports.quotes); kept on write and
    # when the report's text changes.
    quote_found: bool | None = Field(default=None)
    created_at: datetime = Field(sa_type=UTCDateTime)


class StanceFields(BaseModel):
    """What a client writes of a new stance, as POST /claims/{claim_id}/stances and a bulk
    file's stance line take it. Plain pydantic, so that the bulk line stays off SQLModel's
    slower path."""

    source_id: SourceRef
    stance: StanceKind
    stated_at: Rfc3339 | None = PydanticField(
        default=None,
        description="When the source took this position (RFC 3339, with an offset). Optional: "
        "left out, it is the time the service received the request, which is rarely when the "
        "source spoke, so send it when you know it. The answer echoes the value recorded.",
    )
    url: HttpUrlStr | None = None
    quote: LongText | None = None
    reported_via: HttpUrlStr | None = None
    note: LongText | None = None
    report_id: SourceRef | None = PydanticField(
        default=None,
        description="The id of the report through which we know of the stance. Without "
        "`reported_via`, `reported_via` becomes the report's url.",
    )


STANCE_EXAMPLE = {
    "source_id": "3",
    "stance": "denies",
    "stated_at": "2024-12-05T09:30:00Z",
    "url": "https://sana.sy/en/",
    "quote": "State media denied that insurgents had breached the city.",
    "reported_via": "https://apnews.com/",
    "note": "Confirmed clashes in the east of the city in the same statement.",
}


class StanceCreate(RequestModel, StanceFields):
    model_config = ConfigDict(json_schema_extra={"examples": [STANCE_EXAMPLE]})


class StanceLine(SQLModel):
    """A stance with its source by id only: as the export file carries it."""

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
    report_id: OptionalId = None
    quote_found: bool | None = Field(
        default=None,
        description="Whether `quote` occurs in the report's text (ignoring whitespace, case, "
        "straight/curly quotes and Arabic diacritics); null without a quote or a report text.",
    )
    created_at: datetime


class StancePublic(StanceLine):
    source: SourceSummary


class StancePage(Page[StancePublic]):
    pass


class TimelinePeriod(SQLModel):
    """One status period of a claim in stated time: [from, to)."""

    status: ClaimStatus
    from_: datetime = Field(
        alias="from", schema_extra={"serialization_alias": "from"}, description="Start."
    )
    to: datetime | None = Field(description="End, exclusive; null for the period holding now.")
    asserting_sources: int
    denying_sources: int
    explanation: str
    changed_by: StancePublic = Field(description="The stance that began the period.")


class Timeline(SQLModel):
    items: list[TimelinePeriod]
