"""ClaimReview out (a claim as JSON-LD) and in (an idempotent import of published reviews)."""

from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from app.claims.detail import claim_detail
from app.claims.models import Claim
from app.core.db import utcnow
from app.core.errors import Conflict
from app.core.fields import HttpUrlStr, PublicId
from app.events.models import EventType
from app.events.outbox import claim_snapshot, emit
from app.reports.models import Report
from app.sources.models import Source, SourceKind, name_key
from app.stances.rules import ClaimStatus
from app.verdicts.claimreview import (
    Appearance,
    ClaimReviewIn,
    OrganizationIn,
    claim_review_jsonld,
)
from app.verdicts.models import Verdict, VerdictOutcome, VerdictPut
from app.verdicts.service import apply_verdict

_HTTP_URL: TypeAdapter[str] = TypeAdapter(HttpUrlStr)


def claim_as_jsonld(*, session: Session, claim: Claim, claim_url: str) -> dict[str, Any]:
    detail = claim_detail(session=session, claim=claim)
    reviewer = session.get(Source, int(detail.verdict.source_id)) if detail.verdict else None
    cited = {int(s.report_id) for s in detail.stances if s.report_id is not None}
    reports = (
        session.exec(
            select(Report.url, Report.title, Report.published_at).where(col(Report.id).in_(cited))
        ).all()
        if cited
        else []
    )
    appearances = [Appearance(url, title, published_at) for url, title, published_at in reports]
    return claim_review_jsonld(detail, claim_url, reviewer, appearances)


class ImportedReview(SQLModel):
    """What one imported ClaimReview did."""

    claim_id: PublicId
    claim_created: bool
    source_id: PublicId
    source_created: bool
    verdict: VerdictOutcome


class ClaimReviewImport(SQLModel):
    items: list[ImportedReview]


def _valid_url(value: str | None) -> str | None:
    try:
        return _HTTP_URL.validate_python(value) if value else None
    except ValidationError:
        return None


def _reviewer_source(session: Session, organization: OrganizationIn) -> tuple[Source, bool]:
    """The source named like the reviewing organisation (names are case-insensitive),
    created as kind `other` when there is none. An existing source is left as it is."""
    key = name_key(organization.name)
    found = session.exec(select(Source).where(Source.name_key == key)).first()
    if found is not None:
        return found, False
    now = utcnow()
    source = Source(
        name=organization.name,
        name_key=key,
        kind=SourceKind.other.value,
        url=_valid_url(organization.url),
        created_at=now,
        updated_at=now,
    )
    session.add(source)
    session.flush()
    return source, True


def _reviewed_claim(session: Session, review: ClaimReviewIn, source: Source) -> tuple[Claim, bool]:
    """The claim this review was imported into before (same text, reviewed by the same
    source, in the same article), or a new one."""
    url_matches = (
        col(Verdict.url).is_(None) if review.url is None else col(Verdict.url) == review.url
    )
    found = session.exec(
        select(Claim)
        .join(Verdict, col(Verdict.claim_id) == Claim.id)
        .where(Verdict.source_id == source.id, url_matches, Claim.text == review.claim_reviewed)
        .order_by(col(Claim.id))
        .with_for_update()
    ).first()
    if found is not None:
        return found, False
    now = utcnow()
    claim = Claim(
        text=review.claim_reviewed,
        language=review.language,
        tags=[],
        status=ClaimStatus.unsourced.value,
        created_at=now,
        updated_at=now,
    )
    session.add(claim)
    session.flush()
    emit(session, EventType.claim_created, {"claim": claim_snapshot(claim)})
    return claim, True


def import_claimreviews(*, session: Session, reviews: list[ClaimReviewIn]) -> ClaimReviewImport:
    """Create or update the claim, its verdict and the reviewer's source for each review,
    all in one transaction. Importing the same reviews again changes nothing."""
    if session.get_bind().dialect.name == "postgresql":
        # Imports take turns, so two concurrent imports of one review make one claim.
        session.exec(text("SELECT pg_advisory_xact_lock(hashtext('claims-api:import'))"))  # type: ignore[call-overload]
    try:
        items = [_import_one(session, review) for review in reviews]
        session.commit()
    except IntegrityError:
        # A source of the same name was created by another writer meanwhile.
        session.rollback()
        raise Conflict("A concurrent write created the same source; retry the import.") from None
    return ClaimReviewImport(items=items)


def _import_one(session: Session, review: ClaimReviewIn) -> ImportedReview:
    source, source_created = _reviewer_source(session, review.reviewer)
    claim, claim_created = _reviewed_claim(session, review, source)
    data = VerdictPut(
        rating=review.rating,
        textual_rating=review.textual_rating,
        explanation=review.review_rating.rating_explanation,
        source_id=str(source.id),
        reviewed_at=review.reviewed_at,
        url=review.url,
    )
    _, outcome = apply_verdict(session=session, claim=claim, source=source, data=data, now=utcnow())
    return ImportedReview(
        claim_id=str(claim.id),
        claim_created=claim_created,
        source_id=str(source.id),
        source_created=source_created,
        verdict=outcome,
    )
