"""Verdicts: a fact-checker's rating of a claim, kept beside the claim's derived status.

One verdict per claim. Writing or withdrawing it is a change to the claim: the claim's
`updated_at` moves and a webhook event is recorded in the same transaction.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, exists, select

from app.claims.models import Claim
from app.claims.service import get_claim
from app.core.db import utcnow
from app.core.errors import NotFound, ValidationFailed
from app.core.ids import id_or_none
from app.events.models import EventType
from app.events.outbox import claim_snapshot, emit
from app.sources.models import Source, SourceSummary
from app.verdicts.models import Verdict, VerdictOutcome, VerdictPublic, VerdictPut


def verdict_public(verdict: Verdict, source: Source) -> VerdictPublic:
    return VerdictPublic.model_validate(
        {
            **verdict.model_dump(),
            "source": SourceSummary.model_validate(source, from_attributes=True),
        }
    )


# Built once, as stances.service's current stances: every claim detail reads it.
_VERDICT_OF_CLAIM = (
    select(Verdict, Source)
    .join(Source, col(Source.id) == Verdict.source_id)
    .where(col(Verdict.claim_id) == bindparam("claim_id"))
)


def find_verdict(*, session: Session, claim_id: int) -> VerdictPublic | None:
    """The claim's verdict with its source, or None."""
    row = session.exec(_VERDICT_OF_CLAIM, params={"claim_id": claim_id}).first()
    return None if row is None else verdict_public(*row)


def get_verdict(*, session: Session, claim_id: str) -> VerdictPublic:
    claim = get_claim(session=session, claim_id=claim_id)
    verdict = find_verdict(session=session, claim_id=claim.id)  # type: ignore[arg-type]
    if verdict is None:
        raise NotFound(f"Claim '{claim_id}' has no verdict.")
    return verdict


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
    get_claim(session=session, claim_id=claim_id)  # 404 before the source's 422
    source_key = data.source_id
    source_pk = id_or_none(source_key)
    source = None if source_pk is None else lock_source(session=session, source_id=source_pk)
    if source is None:
        raise ValidationFailed.on(
            "body", "source_id", f"No source has id '{source_key}'.", "unknown_source"
        )
    claim = get_claim(session=session, claim_id=claim_id, for_update=True)
    public, outcome = apply_verdict(
        session=session, claim=claim, source=source, data=data, now=utcnow()
    )
    session.commit()
    return public, outcome


def delete_verdict(*, session: Session, claim_id: str) -> None:
    """Withdraw the verdict. Recorded as claim.updated with `changed: ["verdict"]` and the
    withdrawn verdict, since the claim itself changed and no verdict was published."""
    claim = get_claim(session=session, claim_id=claim_id, for_update=True)
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
