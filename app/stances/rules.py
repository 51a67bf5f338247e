"""The stance rules, their only home: which stance is current (supersession), which camp a
source belongs to, and the status a claim's current stances give it. Pure functions."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar


class StanceKind(StrEnum):
    asserts = "asserts"
    denies = "denies"
    # The source withdraws its earlier position without taking the opposite one: current
    # like any other stance, it counts neither as asserting nor as denying.
    retracts = "retracts"


class ClaimStatus(StrEnum):
    unsourced = "unsourced"
    asserted = "asserted"
    corroborated = "corroborated"
    denied = "denied"
    disputed = "disputed"


T = TypeVar("T")
# When a stance was stated, and its id: None for one not yet stored (its id will be higher).
StanceOrder = tuple[datetime, int | None]


def supersedes(new: StanceOrder, held: StanceOrder | None) -> bool:
    """Whether a source's stance `new` replaces its current one `held` on a claim: the latest
    `stated_at` wins, and a tie goes to the stance recorded later (the higher id)."""
    if held is None:
        return True
    (new_at, new_id), (held_at, held_id) = new, held
    if new_at != held_at:
        return new_at > held_at
    return new_id is None or (held_id is not None and new_id > held_id)


def latest_per_source(
    stances: Iterable[T], *, source: Callable[[T], int], order: Callable[[T], StanceOrder]
) -> dict[int, T]:
    """Each source's current stance among `stances` (one claim's history)."""
    latest: dict[int, T] = {}
    for stance in stances:
        held = latest.get(source(stance))
        if held is None or supersedes(order(stance), order(held)):
            latest[source(stance)] = stance
    return latest


class Positioned(Protocol):
    """What the status rule needs of a current stance: its kind and its source's camp."""

    @property
    def stance(self) -> str: ...
    @property
    def source_id(self) -> int: ...
    @property
    def affiliation(self) -> str | None: ...


@dataclass(frozen=True)
class CurrentStance:
    """One source's current position on a claim, with what the rules need of the source."""

    stance: StanceKind
    source_id: int
    source_name: str
    affiliation: str | None
    # The report through which we know of the stance, if any.
    report_id: int | None = None


@dataclass(frozen=True)
class DerivedStatus:
    status: ClaimStatus
    asserting_sources: int
    denying_sources: int
    explanation: str


def affiliation_key(affiliation: str | None) -> str | None:
    """The identity of an affiliation: case and surrounding spaces do not count; blank is none."""
    return affiliation.strip().casefold() if affiliation and affiliation.strip() else None


def camp(stance: Positioned) -> tuple[str, str]:
    """Sources sharing an affiliation form one camp; an unaffiliated source is its own."""
    key = affiliation_key(stance.affiliation)
    return ("affiliation", key) if key else ("source", str(stance.source_id))


def camp_label(stance: CurrentStance) -> str:
    """How a camp is named: its affiliation, or the unaffiliated source itself."""
    if stance.affiliation and stance.affiliation.strip():
        return stance.affiliation.strip()
    return f"{stance.source_name}, unaffiliated"


def _describe(verb: str, stances: list[CurrentStance]) -> str:
    if not stances:
        return f"{verb} by none"
    labels: dict[tuple[str, str], str] = {}
    for stance in stances:
        labels.setdefault(camp(stance), camp_label(stance))
    noun = "source" if len(stances) == 1 else "sources"
    return f"{verb} by {len(stances)} {noun} ({'; '.join(sorted(labels.values()))})"


def status_of(asserting: int, denying: int, asserting_camps: int) -> ClaimStatus:
    """The status from how many current stances assert and deny, and how many camps the
    asserting ones come from (counting camps past two changes nothing)."""
    if asserting and denying:
        return ClaimStatus.disputed
    if denying:
        return ClaimStatus.denied
    if asserting_camps >= 2:
        return ClaimStatus.corroborated
    if asserting:
        return ClaimStatus.asserted
    return ClaimStatus.unsourced


# The status and the counts, without the explanation: what is stored of a derivation.
StatusCounts = tuple[ClaimStatus, int, int]


def status_counts(stances: Iterable[Positioned]) -> StatusCounts:
    """derive_status's status and counts alone, for the writes that store no explanation."""
    asserting = denying = 0
    camps: set[tuple[str, str]] = set()
    for s in stances:
        if s.stance == StanceKind.asserts:
            asserting += 1
            camps.add(camp(s))
        elif s.stance == StanceKind.denies:
            denying += 1
    return status_of(asserting, denying, len(camps)), asserting, denying


def counts_after(
    asserting: int, denying: int, *, retired: str | None, added: str
) -> tuple[int, int]:
    """A claim's asserting and denying counts once a source's new stance `added` becomes
    current, replacing the source's current one `retired` (None: it had none)."""
    asserting += (added == StanceKind.asserts) - (retired == StanceKind.asserts)
    denying += (added == StanceKind.denies) - (retired == StanceKind.denies)
    return asserting, denying


def derive_status(stances: Iterable[CurrentStance]) -> DerivedStatus:
    """Apply the contract's status rules to the current stances of one claim."""
    current = list(stances)
    asserting = [s for s in current if s.stance == StanceKind.asserts]
    denying = [s for s in current if s.stance == StanceKind.denies]
    retracting = [s for s in current if s.stance == StanceKind.retracts]
    status = status_of(len(asserting), len(denying), len({camp(s) for s in asserting}))
    explanation = _explain(status, asserting, denying, withdrawn=bool(retracting))
    if retracting:
        explanation += f"; {_describe('withdrawn', retracting)}"
    reports = {s.report_id for s in current if s.report_id is not None}
    if reports:
        noun = "report" if len(reports) == 1 else "reports"
        explanation += f"; known through {len(reports)} {noun}"
    return DerivedStatus(status, len(asserting), len(denying), explanation)


def _explain(
    status: ClaimStatus,
    asserting: list[CurrentStance],
    denying: list[CurrentStance],
    *,
    withdrawn: bool,
) -> str:
    """The sentence of the status and its inputs (before what was withdrawn, and through
    which reports)."""
    if status == ClaimStatus.unsourced:
        # Sources that withdrew did take a position once: say so rather than "no source".
        held = "holds" if withdrawn else "has taken"
        return f"unsourced: no source {held} a position on it"
    if status == ClaimStatus.denied:
        return f"denied: {_describe('denied', denying)}, asserted by none"
    return f"{status}: {_describe('asserted', asserting)}, {_describe('denied', denying)}"
