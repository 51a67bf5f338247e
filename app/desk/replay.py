"""Stop-gap until v1.1 lands: a claim's status periods and its state as of a moment,
replayed from its stance history through the one status rule (app/status.py).

The contract's `GET /claims/{id}/timeline` and `?as_of=` are being built on stored status
periods; when they land, app/desk/views.py (its "v1.1 connection points") calls them and
this module goes. It reads only StancePublic, as the JSON API returns it.
"""

from collections.abc import Iterable
from datetime import datetime
from itertools import groupby
from typing import Any

from app.stances.models import StancePublic
from app.stances.rules import CurrentStance, DerivedStatus, StanceKind, derive_status


def _oldest_first(history: Iterable[StancePublic]) -> list[StancePublic]:
    # The supersession tie rule: latest stated_at, ties to the later recorded (higher id).
    return sorted(history, key=lambda s: (s.stated_at, int(s.id)))


def _derived(current: Iterable[StancePublic]) -> DerivedStatus:
    return derive_status(
        CurrentStance(StanceKind(s.stance), int(s.source_id), s.source.name, s.source.affiliation)
        for s in current
    )


def current_as_of(history: Iterable[StancePublic], as_of: datetime) -> list[StancePublic]:
    """Each source's latest stance stated at or before `as_of`, newest first."""
    latest: dict[str, StancePublic] = {}
    for stance in _oldest_first(s for s in history if s.stated_at <= as_of):
        latest[stance.source_id] = stance
    return sorted(latest.values(), key=lambda s: (s.stated_at, int(s.id)), reverse=True)


def derived_as_of(history: Iterable[StancePublic], as_of: datetime) -> DerivedStatus:
    return _derived(current_as_of(history, as_of))


def timeline(history: Iterable[StancePublic]) -> list[dict[str, Any]]:
    """The contract's timeline items, oldest first: a new period wherever the status or a
    count changes; stances stated at the same moment take effect together."""
    current: dict[str, StancePublic] = {}
    periods: list[dict[str, Any]] = []
    for stated_at, group in groupby(_oldest_first(history), key=lambda s: s.stated_at):
        stances = list(group)
        current.update((s.source_id, s) for s in stances)
        derived = _derived(current.values())
        counts = (derived.status.value, derived.asserting_sources, derived.denying_sources)
        if periods and counts == _counts(periods[-1]):
            continue
        if periods:
            periods[-1]["to"] = stated_at
        periods.append(
            {
                "status": derived.status.value,
                "from": stated_at,
                "to": None,
                "asserting_sources": derived.asserting_sources,
                "denying_sources": derived.denying_sources,
                "explanation": derived.explanation,
                "changed_by": stances[-1].model_dump(mode="json"),
            }
        )
    return periods


def _counts(period: dict[str, Any]) -> tuple[str, int, int]:
    return (period["status"], period["asserting_sources"], period["denying_sources"])
