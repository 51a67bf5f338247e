"""`claims-api check`: recompute every claim's current stances, status and counts, its
status periods, and its search column (app/search/column.py) from its stance history and
the reports its stances cite, report what disagrees with what is stored, and optionally
repair it.

A batch of claims at a time, each with a few set-based statements, so a check walks a
million-claim archive in bounded memory; a claim whose only fault is its search column is
repaired with the others of its batch, in one transaction."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Engine, or_, update
from sqlmodel import Session, col, select

from app.claims.models import Claim
from app.claims.service import get_claim
from app.core.db import utcnow, write_engine
from app.core.models import table_of
from app.search.column import same_column
from app.search.stored import chunked, expected_columns, rewrite_columns
from app.sources.models import Source
from app.stances.models import Stance
from app.stances.periods import expected_periods, periods_differ, stored_periods, sync_periods
from app.stances.periods_model import ClaimStatusPeriod
from app.stances.rules import (
    ClaimStatus,
    CurrentStance,
    StanceKind,
    derive_status,
    latest_per_source,
)
from app.stances.service import refresh_claim_status
from app.stances.timeline import Period

BATCH = 1000


@dataclass(frozen=True)
class Mismatch:
    claim_id: int
    stored: tuple[str, int, int]
    expected: tuple[str, int, int]
    wrong_current_flags: int
    wrong_periods: bool = False
    wrong_search_text: bool = False
    stale_period_times: bool = False

    @property
    def only_search_text(self) -> bool:
        """Whether the search column is all that disagrees (repaired a batch at a time)."""
        return (
            self.stored == self.expected
            and not self.wrong_current_flags
            and not self.wrong_periods
            and not self.stale_period_times
        )

    def describe(self) -> str:
        parts = []
        if self.stored != self.expected:
            parts.append(
                f"stored (status, asserting, denying) {self.stored}, expected {self.expected}"
            )
        if self.wrong_current_flags:
            parts.append(f"{self.wrong_current_flags} stance(s) with a wrong `current` flag")
        if self.wrong_periods:
            parts.append("status periods (or status_since) differ from the replay of its stances")
        if self.wrong_search_text:
            parts.append("search column differs from its text, quotes and cited reports' titles")
        if self.stale_period_times:
            parts.append("its status periods' copy of its created_at / updated_at is stale")
        return f"claim {self.claim_id}: " + "; ".join(parts)


def _latest_per_source(stances: list[Stance]) -> dict[int, Stance]:
    return latest_per_source(
        stances, source=lambda s: s.source_id, order=lambda s: (s.stated_at, s.id)
    )


def _since(periods: list[Period]) -> datetime | None:
    if not periods or periods[-1].status == ClaimStatus.unsourced:
        return None
    return periods[-1].status_since


def find_mismatches(*, engine: Engine) -> Iterator[Mismatch]:
    """Walk all claims in id order, a batch at a time, comparing stored with derived."""
    with Session(engine) as session:
        sources = {s.id: s for s in session.exec(select(Source))}
        after = 0
        while True:
            claims = list(
                session.exec(
                    select(Claim).where(col(Claim.id) > after).order_by(col(Claim.id)).limit(BATCH)
                )
            )
            if not claims:
                return
            after = claims[-1].id  # type: ignore[assignment]
            by_claim: dict[int, list[Stance]] = defaultdict(list)
            stances = session.exec(
                select(Stance).where(col(Stance.claim_id).in_([c.id for c in claims]))
            )
            for stance in stances:
                by_claim[stance.claim_id].append(stance)
            pks: list[int] = [c.id for c in claims]  # type: ignore[misc]
            expected = expected_periods(session.connection(), pks)
            stored = stored_periods(session.connection(), pks)
            columns = expected_columns(session.connection(), claims)
            stale = _stale_period_times(session.connection(), pks)
            for claim in claims:
                mismatch = _compare(claim, by_claim.get(claim.id, []), sources)  # type: ignore[arg-type]
                wrong_periods = periods_differ(stored[claim.id], expected[claim.id]) or (  # type: ignore[index]
                    claim.status_since != _since(expected[claim.id])  # type: ignore[index]
                )
                wrong_search = not same_column(claim.search_text, columns[claim.id])  # type: ignore[index]
                stale_times = claim.id in stale
                if mismatch is None and (wrong_periods or wrong_search or stale_times):
                    stored_state = (claim.status, claim.asserting_sources, claim.denying_sources)
                    mismatch = Mismatch(claim.id, stored_state, stored_state, 0)  # type: ignore[arg-type]
                if mismatch is not None:
                    yield replace(
                        mismatch,
                        wrong_periods=wrong_periods,
                        wrong_search_text=wrong_search,
                        stale_period_times=stale_times,
                    )
            session.expunge_all()


def _stale_period_times(conn: Connection, claim_pks: list[int]) -> set[int]:
    """The claims whose periods' copy of the claim's created_at / updated_at (the order of
    the as-of lists' indexes, kept by migration 0013's trigger) differs from the claim's."""
    period, claim = table_of(ClaimStatusPeriod), table_of(Claim)
    query = (
        select(period.c.claim_id)
        .distinct()
        .join(claim, claim.c.id == period.c.claim_id)
        .where(
            period.c.claim_id.in_(claim_pks),
            or_(
                period.c.claim_created_at != claim.c.created_at,
                period.c.claim_updated_at != claim.c.updated_at,
            ),
        )
    )
    return set(conn.execute(query).scalars())


def _compare(
    claim: Claim, stances: list[Stance], sources: dict[int | None, Source]
) -> Mismatch | None:
    latest = _latest_per_source(stances)
    current_ids = {s.id for s in latest.values()}
    wrong_flags = sum(1 for s in stances if s.is_current != (s.id in current_ids))
    derived = derive_status(
        CurrentStance(
            StanceKind(s.stance),
            s.source_id,
            sources[s.source_id].name,
            sources[s.source_id].affiliation,
        )
        for s in latest.values()
    )
    expected = (derived.status.value, derived.asserting_sources, derived.denying_sources)
    stored = (claim.status, claim.asserting_sources, claim.denying_sources)
    if stored == expected and not wrong_flags:
        return None
    return Mismatch(claim.id, stored, expected, wrong_flags)  # type: ignore[arg-type]


def repair_claim(*, engine: Engine, claim_id: int) -> None:
    """Re-derive one claim under its row lock: current flags first, then status and counts."""
    with Session(write_engine(engine)) as session:
        claim = get_claim(session=session, claim_id=str(claim_id), for_update=True)
        stances = list(session.exec(select(Stance).where(Stance.claim_id == claim_id)))
        current_ids = [s.id for s in _latest_per_source(stances).values()]
        # Clear before set: the partial unique index allows one current stance per source.
        session.exec(
            update(Stance).where(col(Stance.claim_id) == claim_id).values(is_current=False)
        )
        session.exec(update(Stance).where(col(Stance.id).in_(current_ids)).values(is_current=True))
        session.expire_all()
        claim = get_claim(session=session, claim_id=str(claim_id), for_update=True)
        refresh_claim_status(session=session, claim=claim, now=utcnow())
        session.flush()
        sync_periods(session.connection(), claim_pk=claim_id)
        session.exec(
            update(ClaimStatusPeriod)
            .where(col(ClaimStatusPeriod.claim_id) == claim_id)
            .values(claim_created_at=claim.created_at, claim_updated_at=claim.updated_at)
        )
        rewrite_columns(session.connection(), [claim_id])
        session.commit()


def repair_search_columns(*, engine: Engine, claim_ids: list[int]) -> None:
    """Write the search column of these claims again, a batch per transaction, each
    batch's rows locked as a stance writer locks its claim."""
    for chunk in chunked(sorted(claim_ids)):
        with write_engine(engine).begin() as conn:
            rewrite_columns(conn, chunk, lock=True)
