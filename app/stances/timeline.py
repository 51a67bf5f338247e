"""A claim's status over stated time: the replay of its stance history into status periods.

Pure functions over the same rules as the present (app/stances/rules.py): at each instant
a stance was stated, each source's current stance is `latest_per_source` of what it had
stated by then, and the status is `derive_status` of those. The current status is the
as-of-now case: the last period. Any stance kind other than `asserts` and `denies` counts
neither way, because derive_status says so, not because this module does.

Affiliations are the sources' present ones: the service keeps no history of them, so a
source's change of camp re-derives the claim's whole timeline (as it does its status).
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, groupby

from app.stances.rules import (
    ClaimStatus,
    CurrentStance,
    DerivedStatus,
    StanceKind,
    StanceOrder,
    derive_status,
    latest_per_source,
)


@dataclass(frozen=True)
class HistoryStance:
    """One stance of a claim's history, with what the rules need of its source."""

    id: int
    source_id: int
    source_name: str
    affiliation: str | None
    stance: str
    stated_at: datetime
    created_at: datetime
    # The report it is known through: the explanation counts them, as the present's does.
    report_id: int | None = None


@dataclass(frozen=True)
class Period:
    """A stretch [valid_from, valid_to) of stated time over which status and counts held;
    valid_to is None for the period that holds now."""

    valid_from: datetime
    valid_to: datetime | None
    status: ClaimStatus
    asserting_sources: int
    denying_sources: int
    # Since when the status has held without interruption (counts may have moved).
    status_since: datetime
    changed_by: int  # the stance that began the period
    explanation: str

    @property
    def key(self) -> tuple[object, ...]:
        """What the periods table stores of it (the explanation is derived on read)."""
        return (
            self.valid_from,
            self.valid_to,
            self.status.value,
            self.asserting_sources,
            self.denying_sources,
            self.status_since,
            self.changed_by,
        )


@dataclass(frozen=True)
class StateAt:
    """A claim as its sources had stated it by some time: what GET /claims/{id} shows."""

    current: list[HistoryStance]  # newest first, as the detail lists them
    derived: DerivedStatus
    status_since: datetime | None


def _order(stance: HistoryStance) -> StanceOrder:
    return (stance.stated_at, stance.id)


def _latest(stances: Iterable[HistoryStance]) -> dict[int, HistoryStance]:
    return latest_per_source(stances, source=lambda s: s.source_id, order=_order)


def _derive(current: Iterable[HistoryStance]) -> DerivedStatus:
    return derive_status(
        CurrentStance(StanceKind(s.stance), s.source_id, s.source_name, s.affiliation, s.report_id)
        for s in current
    )


def known_by(stances: Iterable[HistoryStance], known_at: datetime | None) -> list[HistoryStance]:
    """The stances this service had recorded at `known_at` (all of them for None)."""
    return [s for s in stances if known_at is None or s.created_at <= known_at]


def replay(stances: Iterable[HistoryStance]) -> list[Period]:
    """The claim's status periods, oldest first. Before its first stance a claim is
    unsourced, which is no period; consecutive periods differ in status or counts."""
    periods: list[Period] = []
    latest: dict[int, HistoryStance] = {}
    # In supersession order, so each instant's stances only ever replace older ones.
    ordered = sorted(stances, key=_order)
    for stated_at, group in groupby(ordered, key=lambda s: s.stated_at):
        instant = list(group)
        latest = _latest(chain(latest.values(), instant))
        derived = _derive(latest.values())
        state = (derived.status, derived.asserting_sources, derived.denying_sources)
        previous = periods[-1] if periods else None
        if previous is None and state == (ClaimStatus.unsourced, 0, 0):
            continue
        if previous is not None and state == (
            previous.status,
            previous.asserting_sources,
            previous.denying_sources,
        ):
            continue
        since = stated_at
        if previous is not None:
            periods[-1] = replace(previous, valid_to=stated_at)
            if previous.status == derived.status:
                since = previous.status_since
        periods.append(
            Period(
                valid_from=stated_at,
                valid_to=None,
                status=derived.status,
                asserting_sources=derived.asserting_sources,
                denying_sources=derived.denying_sources,
                status_since=since,
                # The highest id at this instant: current for its source, recorded last.
                changed_by=instant[-1].id,
                explanation=derived.explanation,
            )
        )
    return periods


def status_since(periods: list[Period]) -> datetime | None:
    """When the current status of a claim with these periods began; None while unsourced."""
    if periods and periods[-1].status != ClaimStatus.unsourced:
        return periods[-1].status_since
    return None


def period_at(periods: list[Period], as_of: datetime | None) -> Period | None:
    """The period holding at `as_of` (now for None); None while unsourced. Periods are
    contiguous, so it is the last one begun by then."""
    begun = [p for p in periods if as_of is None or p.valid_from <= as_of]
    return begun[-1] if begun else None


def state_at(
    stances: Iterable[HistoryStance], *, as_of: datetime | None, known_at: datetime | None
) -> StateAt:
    """The claim as stated by `as_of` and known at `known_at` (None: no bound)."""
    known = known_by(stances, known_at)
    stated = [s for s in known if as_of is None or s.stated_at <= as_of]
    current = sorted(_latest(stated).values(), key=_order, reverse=True)
    derived = _derive(current)
    period = period_at(replay(known), as_of)
    since = None
    if period is not None and derived.status != ClaimStatus.unsourced:
        since = period.status_since
    return StateAt(current, derived, since)
