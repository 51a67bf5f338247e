"""A claim's status over stated time: the replay of its stance history into status periods.

Pure functions over the same rules as the present (app/stances/rules.py): at each instant
a stance was stated, each source's current stance is `latest_per_source` of what it had
stated by then, and the status is `derive_status` of those (its status and counts alone,
`status_counts`, where no explanation is wanted). The current status is the
as-of-now case: the last period. Any stance kind other than `asserts` and `denies` counts
neither way, because derive_status says so, not because this module does.

Affiliations are the sources' present ones: the service keeps no history of them, so a
source's change of camp re-derives the claim's whole timeline (as it does its status).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, groupby

from app.stances.rules import (
    ClaimStatus,
    CurrentStance,
    DerivedStatus,
    StanceKind,
    StanceOrder,
    StatusCounts,
    derive_status,
    latest_per_source,
    status_counts,
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

    @property
    def key(self) -> tuple[object, ...]:
        """What the periods table stores of it."""
        return (
            self.valid_from,
            self.valid_to,
            self.status.value,
            self.asserting_sources,
            self.denying_sources,
            self.status_since,
            self.changed_by,
        )

    @property
    def state(self) -> StatusCounts:
        return (self.status, self.asserting_sources, self.denying_sources)


@dataclass(frozen=True)
class StateAt:
    """A claim as its sources had stated it by some time: what GET /claims/{id} shows."""

    current: list[HistoryStance]  # newest first, as the detail lists them
    derived: DerivedStatus
    status_since: datetime | None


@dataclass(frozen=True)
class Resume:
    """Where a replay of the stances stated from some time T on starts: each source's
    latest stance stated before T, and the period that held just before T (None when the
    claim was unsourced then)."""

    latest: dict[int, HistoryStance]
    previous: Period | None


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


def advance(periods: list[Period], at: datetime, state: StatusCounts, changed_by: int) -> bool:
    """Append to `periods` (oldest first) the period that `state` begins at `at`, closing
    the one before; False, and nothing appended, when `state` is what already held (or,
    before any period, unsourced). `changed_by`: the stance that began it."""
    previous = periods[-1] if periods else None
    if previous is None and state == (ClaimStatus.unsourced, 0, 0):
        return False
    if previous is not None and state == previous.state:
        return False
    status, asserting, denying = state
    since = at
    if previous is not None:
        periods[-1] = replace(previous, valid_to=at)
        if previous.status == status:
            since = previous.status_since
    periods.append(Period(at, None, status, asserting, denying, since, changed_by))
    return True


def _instants(
    stances: Iterable[HistoryStance], latest: dict[int, HistoryStance]
) -> Iterator[tuple[datetime, int, dict[int, HistoryStance]]]:
    """Each instant a stance was stated, the stance that would begin a period there (the
    highest id of the instant: current for its source, recorded last), and each source's
    current stance as of then; oldest first, starting from `latest`."""
    # In supersession order, so each instant's stances only ever replace older ones.
    ordered = sorted(stances, key=_order)
    for stated_at, group in groupby(ordered, key=lambda s: s.stated_at):
        instant = list(group)
        latest = _latest(chain(latest.values(), instant))
        yield stated_at, instant[-1].id, latest


def split_at(
    stances: Iterable[HistoryStance], at: datetime, previous: Period | None
) -> tuple[list[HistoryStance], Resume]:
    """The stances stated from `at` on, and where their replay resumes (`previous`: the
    period that held just before `at`). `stances` must hold every stance stated from `at`
    on and, of each source, at least its latest one stated before."""
    stances = list(stances)
    before = _latest(s for s in stances if s.stated_at < at)
    return [s for s in stances if s.stated_at >= at], Resume(before, previous)


def replay(stances: Iterable[HistoryStance], *, resume: Resume | None = None) -> list[Period]:
    """The claim's status periods, oldest first. Before its first stance a claim is
    unsourced, which is no period; consecutive periods differ in status or counts.

    With `resume`, `stances` are those stated from some time T on, and the answer is the
    period that held before T (extended or closed) and those that follow: the stored
    periods before that one cannot change."""
    periods = [] if resume is None or resume.previous is None else [resume.previous]
    if periods:
        periods[0] = replace(periods[0], valid_to=None)
    for at, changed_by, latest in _instants(stances, {} if resume is None else resume.latest):
        advance(periods, at, status_counts(latest.values()), changed_by)
    return periods


def explained_replay(stances: Iterable[HistoryStance]) -> list[tuple[Period, str]]:
    """replay's periods, each with the explanation of its status (what the timeline
    shows; the writes store no explanation, so only this read derives it)."""
    periods: list[Period] = []
    explanations: list[str] = []
    for at, changed_by, latest in _instants(stances, {}):
        derived = _derive(latest.values())
        state = (derived.status, derived.asserting_sources, derived.denying_sources)
        if advance(periods, at, state, changed_by):
            explanations.append(derived.explanation)
    return list(zip(periods, explanations, strict=True))


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
