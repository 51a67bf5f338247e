"""The pure replay of a claim's history into status periods (app/stances/timeline.py)."""

from datetime import UTC, datetime, timedelta

from app.stances.timeline import HistoryStance, period_at, replay, state_at

T0 = datetime(2024, 12, 5, 9, tzinfo=UTC)
CAMPS = {1: ("HTS", "Syrian opposition"), 2: ("SANA", "Syrian government"), 3: ("Wire", None)}


def _s(stance_id: int, source: int, kind: str, hours: float, recorded: float = 0) -> HistoryStance:
    name, affiliation = CAMPS[source]
    return HistoryStance(
        stance_id,
        source,
        name,
        affiliation,
        kind,
        T0 + timedelta(hours=hours),
        T0 + timedelta(hours=recorded),
    )


def _shape(history: list[HistoryStance]) -> list[tuple[object, ...]]:
    return [
        (
            p.status.value,
            p.valid_from.hour,
            p.valid_to and p.valid_to.hour,
            p.asserting_sources,
            p.denying_sources,
            p.status_since.hour,
            p.changed_by,
        )
        for p in replay(history)
    ]


def test_no_stance_is_no_period() -> None:
    assert replay([]) == []


def test_periods_are_contiguous_and_status_since_survives_a_change_of_counts() -> None:
    history = [_s(1, 1, "asserts", 0), _s(2, 2, "denies", 2), _s(3, 3, "asserts", 9)]
    assert _shape(history) == [
        ("asserted", 9, 11, 1, 0, 9, 1),
        ("disputed", 11, 18, 1, 1, 11, 2),
        ("disputed", 18, None, 2, 1, 11, 3),
    ]


def test_a_stance_that_changes_nothing_begins_no_period() -> None:
    history = [_s(1, 1, "asserts", 0), _s(2, 1, "asserts", 3)]
    assert _shape(history) == [("asserted", 9, None, 1, 0, 9, 1)]


def test_one_instant_is_one_boundary_and_a_tie_goes_to_the_higher_id() -> None:
    # SANA denies, then (recorded later, same stated_at) asserts: the assertion is current.
    history = [_s(5, 2, "asserts", 1), _s(4, 2, "denies", 1), _s(1, 1, "asserts", 1)]
    assert _shape(history) == [("corroborated", 10, None, 2, 0, 10, 5)]


def test_back_dating_is_order_free() -> None:
    history = [_s(1, 1, "asserts", 0), _s(2, 2, "denies", 5), _s(3, 2, "denies", 2)]
    assert _shape(history) == _shape(list(reversed(history)))
    assert _shape(history) == [
        ("asserted", 9, 11, 1, 0, 9, 1),
        ("disputed", 11, None, 1, 1, 11, 3),
    ]


def test_state_at_is_the_rules_over_the_stances_stated_and_known_by_then() -> None:
    history = [_s(1, 1, "asserts", 0), _s(2, 2, "denies", 2, recorded=10)]
    at_noon = T0 + timedelta(hours=3)
    assert state_at(history, as_of=at_noon, known_at=None).derived.status == "disputed"
    known = state_at(history, as_of=at_noon, known_at=T0 + timedelta(hours=5))
    assert (known.derived.status, known.status_since) == ("asserted", T0)
    before = state_at(history, as_of=T0 - timedelta(seconds=1), known_at=None)
    assert (before.derived.status, before.current, before.status_since) == ("unsourced", [], None)
    assert period_at(replay(history), T0 - timedelta(seconds=1)) is None
