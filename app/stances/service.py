"""Stances: a claim's current stances and status, re-derivation, and the stance histories."""

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from app.claims.models import Claim
from app.core.errors import NotFound
from app.core.ids import parse_id
from app.core.pagination import (
    PageRequest,
    decode_cursor,
    encode_cursor,
    keyset_after,
    keyset_page,
)
from app.events.outbox import EventType, claim_snapshot, emit, emit_status_changed
from app.sources.models import Source, SourceSummary
from app.stances.models import Stance, StancePage, StancePublic, Timeline, TimelinePeriod
from app.stances.periods import history_stance, sync_periods
from app.stances.rules import CurrentStance, DerivedStatus, StanceKind, derive_status
from app.stances.timeline import explained_replay, known_by

HISTORY_SORT = "-stated_at"
# A stance with the source it embeds.
StanceRow = tuple[Stance, Source]


def stance_public(stance: Stance, source: Source) -> StancePublic:
    return StancePublic.model_validate(
        {
            **stance.model_dump(),
            "current": stance.is_current,
            "source": SourceSummary.model_validate(source, from_attributes=True),
        }
    )


def _current_stances(*columns: Any, of_claims: Any) -> Any:
    """The current stances of the claims `of_claims` picks, joined to their sources, newest
    first: served by the partial index of current stances."""
    return (
        select(*columns)
        .join(Source, col(Source.id) == Stance.source_id)
        .where(of_claims, col(Stance.is_current))
        .order_by(col(Stance.claim_id), col(Stance.stated_at).desc(), col(Stance.id).desc())
    )


# Built once: building a statement costs twice what running it does (bench/NOTES.md).
_CURRENT_STANCES_OF_CLAIM = _current_stances(
    Stance, Source, of_claims=col(Stance.claim_id) == bindparam("claim_id")
)


def current_stances(*, session: Session, claim_id: int) -> list[StanceRow]:
    rows = session.exec(_CURRENT_STANCES_OF_CLAIM, params={"claim_id": claim_id})
    return [(stance, source) for stance, source in rows]


class StanceGlance(NamedTuple):
    """What a claim's card shows of one current stance."""

    position: CurrentStance
    stated_at: datetime
    reported_via: str | None


def current_glances_of(*, session: Session, claim_ids: list[int]) -> dict[int, list[StanceGlance]]:
    """Each claim's current stances as plain columns, in one read for a whole page of
    claims: a page of cards shows some eighty stances, and building entities and public
    models for each cost more than the rest of the page."""
    query = _current_stances(
        Stance.claim_id,
        Stance.stance,
        Stance.source_id,
        Source.name,
        Source.affiliation,
        Stance.report_id,
        Stance.stated_at,
        Stance.reported_via,
        of_claims=col(Stance.claim_id).in_(claim_ids),
    )
    grouped: dict[int, list[StanceGlance]] = {claim_id: [] for claim_id in claim_ids}
    for claim_id, kind, source_id, name, affiliation, report_id, stated_at, via in session.exec(
        query
    ):
        position = CurrentStance(StanceKind(kind), source_id, name, affiliation, report_id)
        grouped[claim_id].append(StanceGlance(position, stated_at, via))
    return grouped


def claim_history(*, session: Session, claim_id: int) -> list[StanceRow]:
    """Every stance of the claim with its source, oldest first."""
    query = (
        select(Stance, Source)
        .join(Source, col(Source.id) == Stance.source_id)
        .where(Stance.claim_id == claim_id)
        .order_by(col(Stance.stated_at), col(Stance.id))
    )
    return [(stance, source) for stance, source in session.exec(query)]


def claim_timeline(*, session: Session, claim_id: int, known_at: datetime | None) -> Timeline:
    """The claim's status periods, oldest first, replayed from the stances recorded by
    `known_at` (all for None): the stored periods are the known_at=None case."""
    rows = {
        stance.id: (stance, source)
        for stance, source in claim_history(session=session, claim_id=claim_id)
    }
    periods = explained_replay(known_by([history_stance(*row) for row in rows.values()], known_at))
    return Timeline(
        items=[
            TimelinePeriod.model_validate(
                {
                    "status": p.status,
                    "from": p.valid_from,
                    "to": p.valid_to,
                    "asserting_sources": p.asserting_sources,
                    "denying_sources": p.denying_sources,
                    "explanation": explanation,
                    "changed_by": stance_public(*rows[p.changed_by]),
                }
            )
            for p, explanation in periods
        ]
    )


def derive_claim_status(pairs: list[tuple[Stance, Source]]) -> DerivedStatus:
    return derive_status(
        CurrentStance(stance.stance, source.id, source.name, source.affiliation, stance.report_id)  # type: ignore[arg-type]
        for stance, source in pairs
    )


def refresh_claim_status(*, session: Session, claim: Claim, now: datetime) -> bool:
    """Re-derive the locked claim's status and counts; True when any of them changed."""
    derived = derive_claim_status(current_stances(session=session, claim_id=claim.id))  # type: ignore[arg-type]
    new = (derived.status.value, derived.asserting_sources, derived.denying_sources)
    if new == (claim.status, claim.asserting_sources, claim.denying_sources):
        return False
    claim.status, claim.asserting_sources, claim.denying_sources = new
    claim.updated_at = now
    return True


def refresh_claims_of_source(*, session: Session, source_id: int, now: datetime) -> None:
    """Re-derive every claim on which this source holds a current stance."""
    claim_ids = select(Stance.claim_id).where(Stance.source_id == source_id, col(Stance.is_current))
    query = (
        select(Claim)
        .where(col(Claim.id).in_(claim_ids))
        .order_by(col(Claim.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    for claim in session.exec(query):
        old_status = claim.status
        refresh_claim_status(session=session, claim=claim, now=now)
        # The camp counts over all of stated time: the timeline is re-derived whole.
        session.flush()
        timeline = sync_periods(session.connection(), claim_pk=claim.id)  # type: ignore[arg-type]
        claim.status_since = timeline.status_since
        emit_status_changed(session, claim=claim, old_status=old_status)
        if timeline.history_rewritten:
            emit(session, EventType.claim_timeline_changed, {"claim": claim_snapshot(claim)})


def get_stance(*, session: Session, claim_id: str, stance_id: str) -> tuple[Stance, Source]:
    query = (
        select(Stance, Source)
        .join(Source, col(Source.id) == Stance.source_id)
        .where(
            Stance.id == parse_id(stance_id, "stance"),
            Stance.claim_id == parse_id(claim_id, "claim"),
        )
    )
    found = session.exec(query).first()
    if found is None:
        raise NotFound(f"Claim '{claim_id}' has no stance with id '{stance_id}'.")
    return found[0], found[1]


def list_stances(
    *,
    session: Session,
    claim_id: int | None = None,
    source_id: int | None = None,
    report_id: int | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[StanceRow], str | None]:
    """A claim's, a source's or a report's stance history, newest first."""
    query = select(Stance, Source).join(Source, col(Source.id) == Stance.source_id)
    if claim_id is not None:
        query = query.where(Stance.claim_id == claim_id)
    if source_id is not None:
        query = query.where(Stance.source_id == source_id)
    if report_id is not None:
        query = query.where(Stance.report_id == report_id)
    if cursor:
        stated_at, stance_id = decode_cursor(cursor, HISTORY_SORT, datetime)
        query = query.where(
            keyset_after(
                col(Stance.stated_at), col(Stance.id), stated_at, stance_id, descending=True
            )
        )
    query = query.order_by(col(Stance.stated_at).desc(), col(Stance.id).desc()).limit(limit + 1)
    rows = [(stance, source) for stance, source in session.exec(query)]
    return keyset_page(
        rows,
        limit,
        lambda row: encode_cursor(HISTORY_SORT, row[0].stated_at, row[0].id),  # type: ignore[arg-type]
    )


def history_page(
    *,
    session: Session,
    paging: PageRequest,
    claim_id: int | None = None,
    source_id: int | None = None,
    report_id: int | None = None,
) -> StancePage:
    """One page of a claim's, a source's or a report's stance history, as the lists answer."""
    rows, next_cursor = list_stances(
        session=session,
        claim_id=claim_id,
        source_id=source_id,
        report_id=report_id,
        limit=paging.limit,
        cursor=paging.cursor,
    )
    return paging.page(StancePage, [stance_public(*row) for row in rows], next_cursor)
