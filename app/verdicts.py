"""Verdicts: a fact-checker's rating of a claim, kept beside the claim's derived status.

One verdict per claim. Writing or withdrawing it is a change to the claim: the claim's
`updated_at` moves and a webhook event is recorded in the same transaction.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import CheckConstraint, Column, ColumnElement, ForeignKey, Index, String, Text
from sqlmodel import Field, Session, SQLModel, col, exists, select

from app.db import UTCDateTime, utcnow
from app.errors import NotFound, ValidationFailed
from app.events import EventType, claim_snapshot, emit
from app.fields import HttpUrlStr, LongText, ShortText, SourceRef, UtcDatetime
from app.models import Claim, IdType, RequestModel, Source, SourceSummary, VerdictPublic
from app.rating import Rating
from app.services import parse_id
from app.services.stances import lock_claim


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

    claim_id: int = Field(
        sa_column=Column(IdType, ForeignKey("claim.id", ondelete="CASCADE"), primary_key=True)
    )
    rating: str = Field(sa_type=String(16))
    textual_rating: str | None = Field(default=None, sa_type=String(200))
    explanation: str | None = Field(default=None, sa_type=Text)
    source_id: int = Field(
        sa_column=Column(IdType, ForeignKey("source.id", ondelete="RESTRICT"), nullable=False)
    )
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


class VerdictPut(RequestModel):
    """The whole verdict: PUT replaces it, and fields left out are cleared."""

    model_config = ConfigDict(json_schema_extra={"examples": [VERDICT_EXAMPLE]})

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


class VerdictOutcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"


def verdict_public(verdict: Verdict, source: Source) -> VerdictPublic:
    return VerdictPublic.model_validate(
        {
            **verdict.model_dump(),
            "source": SourceSummary.model_validate(source, from_attributes=True),
        }
    )


def find_verdict(*, session: Session, claim_id: int) -> VerdictPublic | None:
    """The claim's verdict with its source, or None."""
    row = session.exec(
        select(Verdict, Source)
        .join(Source, col(Source.id) == Verdict.source_id)
        .where(Verdict.claim_id == claim_id)
    ).first()
    return None if row is None else verdict_public(*row)


def get_verdict(*, session: Session, claim_id: str) -> VerdictPublic:
    claim = session.get(Claim, parse_id(claim_id, "claim"))
    if claim is None:
        raise NotFound(f"No claim has id '{claim_id}'.")
    verdict = find_verdict(session=session, claim_id=claim.id)  # type: ignore[arg-type]
    if verdict is None:
        raise NotFound(f"Claim '{claim_id}' has no verdict.")
    return verdict


def verdict_condition(ratings: list[Rating]) -> ColumnElement[bool]:
    """Claims whose verdict has one of these ratings (the `verdict` filter)."""
    return exists(
        select(Verdict.claim_id).where(
            Verdict.claim_id == Claim.id, col(Verdict.rating).in_([r.value for r in ratings])
        )
    )


def lock_source(*, session: Session, source_id: int) -> Source | None:
    """The source, share-locked on PostgreSQL (as stance writers do, source before claim),
    so that it cannot be deleted between this check and the verdict's insert."""
    query = (
        select(Source)
        .where(Source.id == source_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return session.exec(query).first()


def apply_verdict(
    *, session: Session, claim: Claim, source: Source, data: VerdictPut, now: datetime
) -> tuple[VerdictPublic, VerdictOutcome]:
    """Create or replace the locked claim's verdict, without committing. A verdict equal to
    the current one changes nothing: no new `updated_at`, no event."""
    existing = session.get(Verdict, claim.id)
    fields: dict[str, Any] = {
        "rating": data.rating.value,
        "textual_rating": data.textual_rating,
        "explanation": data.explanation,
        "source_id": source.id,
        "url": data.url,
    }
    same_time = existing is not None and data.reviewed_at in (None, existing.reviewed_at)
    if same_time and all(getattr(existing, k) == v for k, v in fields.items()):
        return verdict_public(existing, source), VerdictOutcome.unchanged  # type: ignore[arg-type]
    fields["reviewed_at"] = (data.reviewed_at or now).astimezone(UTC)
    previous = None
    if existing is None:
        verdict = Verdict(claim_id=claim.id, created_at=now, updated_at=now, **fields)  # type: ignore[arg-type]
        session.add(verdict)
        outcome = VerdictOutcome.created
    else:
        previous = find_verdict(session=session, claim_id=claim.id)  # type: ignore[arg-type]
        verdict = existing
        for name, value in fields.items():
            setattr(verdict, name, value)
        verdict.updated_at = now
        outcome = VerdictOutcome.updated
    claim.updated_at = now
    session.flush()
    public = verdict_public(verdict, source)
    emit(
        session,
        EventType.verdict_published,
        {
            "claim": claim_snapshot(claim),
            "verdict": public.model_dump(mode="json"),
            "previous_verdict": None if previous is None else previous.model_dump(mode="json"),
        },
    )
    return public, outcome


def put_verdict(
    *, session: Session, claim_id: str, data: VerdictPut
) -> tuple[VerdictPublic, VerdictOutcome]:
    """PUT /claims/{claim_id}/verdict: create or replace, in one transaction."""
    if session.get(Claim, parse_id(claim_id, "claim")) is None:
        raise NotFound(f"No claim has id '{claim_id}'.")
    source_key = data.source_id
    source = None
    if source_key.isascii() and source_key.isdigit() and len(source_key) <= 18:
        source = lock_source(session=session, source_id=int(source_key))
    if source is None:
        raise ValidationFailed.on(
            "body", "source_id", f"No source has id '{source_key}'.", "unknown_source"
        )
    claim = lock_claim(session=session, claim_id=claim_id)
    public, outcome = apply_verdict(
        session=session, claim=claim, source=source, data=data, now=utcnow()
    )
    session.commit()
    return public, outcome


def delete_verdict(*, session: Session, claim_id: str) -> None:
    """Withdraw the verdict. Recorded as claim.updated with `changed: ["verdict"]` and the
    withdrawn verdict, since the claim itself changed and no verdict was published."""
    claim = lock_claim(session=session, claim_id=claim_id)
    withdrawn = find_verdict(session=session, claim_id=claim.id)  # type: ignore[arg-type]
    verdict = session.get(Verdict, claim.id)
    if verdict is None or withdrawn is None:
        raise NotFound(f"Claim '{claim_id}' has no verdict.")
    session.delete(verdict)
    claim.updated_at = utcnow()
    emit(
        session,
        EventType.claim_updated,
        {
            "claim": claim_snapshot(claim),
            "changed": ["verdict"],
            "withdrawn_verdict": withdrawn.model_dump(mode="json"),
        },
    )
    session.commit()


def source_has_verdicts(*, session: Session, source_id: int) -> bool:
    return bool(session.exec(select(exists().where(col(Verdict.source_id) == source_id))).one())
