"""The status rule, on its own table of cases (no database)."""

import pytest

from app.stances.rules import (
    ClaimStatus,
    CurrentStance,
    StanceKind,
    counts_after,
    derive_status,
    status_counts,
)

A, D, R = StanceKind.asserts, StanceKind.denies, StanceKind.retracts


def s(stance: StanceKind, source_id: int, affiliation: str | None) -> CurrentStance:
    return CurrentStance(stance, source_id, f"source {source_id}", affiliation)


# Every case of the rule: also run through the SQL of the write path on both engines
# (tests/stances/test_status_sql.py), which must agree with the pure function on each.
CASES: list[tuple[list[CurrentStance], ClaimStatus, int, int]] = [
    ([], ClaimStatus.unsourced, 0, 0),
    ([s(A, 1, "Syrian opposition")], ClaimStatus.asserted, 1, 0),
    ([s(A, 1, None)], ClaimStatus.asserted, 1, 0),
    ([s(A, 1, "Syrian opposition"), s(A, 2, "Syrian opposition")], ClaimStatus.asserted, 2, 0),
    (
        [s(A, 1, "Syrian opposition"), s(A, 2, " syrian OPPOSITION ")],
        ClaimStatus.asserted,
        2,
        0,
    ),
    (
        [s(A, 1, "Syrian opposition"), s(A, 2, "Syrian government")],
        ClaimStatus.corroborated,
        2,
        0,
    ),
    ([s(A, 1, None), s(A, 2, None)], ClaimStatus.corroborated, 2, 0),
    ([s(A, 1, "Syrian opposition"), s(A, 2, None)], ClaimStatus.corroborated, 2, 0),
    ([s(D, 1, "Syrian government")], ClaimStatus.denied, 0, 1),
    ([s(D, 1, "Syrian government"), s(D, 2, "Russia")], ClaimStatus.denied, 0, 2),
    ([s(A, 1, "Syrian opposition"), s(D, 2, "Syrian government")], ClaimStatus.disputed, 1, 1),
    ([s(A, 1, "X"), s(A, 2, "Y"), s(D, 3, "X")], ClaimStatus.disputed, 2, 1),
    # A retraction counts neither way: it is as if the source had no position.
    ([s(R, 1, "Syrian government")], ClaimStatus.unsourced, 0, 0),
    ([s(R, 1, "X"), s(R, 2, "Y")], ClaimStatus.unsourced, 0, 0),
    ([s(A, 1, "Syrian opposition"), s(R, 2, "Syrian government")], ClaimStatus.asserted, 1, 0),
    ([s(D, 1, "Syrian government"), s(R, 2, "Syrian opposition")], ClaimStatus.denied, 0, 1),
    ([s(A, 1, "X"), s(D, 2, "Y"), s(R, 3, "Z")], ClaimStatus.disputed, 1, 1),
    # A retracting source is no camp: one asserting camp stays asserted.
    ([s(A, 1, "X"), s(R, 2, "Y")], ClaimStatus.asserted, 1, 0),
    ([s(A, 1, "X"), s(A, 2, "Y"), s(R, 3, None)], ClaimStatus.corroborated, 2, 0),
]


@pytest.mark.parametrize(("stances", "status", "asserting", "denying"), CASES)
def test_rule(
    stances: list[CurrentStance], status: ClaimStatus, asserting: int, denying: int
) -> None:
    derived = derive_status(stances)
    assert (derived.status, derived.asserting_sources, derived.denying_sources) == (
        status,
        asserting,
        denying,
    )
    assert derived.explanation.startswith(f"{status.value}: ")


def test_explanation_names_the_camps_and_counts() -> None:
    derived = derive_status(
        [
            s(A, 1, "Syrian opposition"),
            s(A, 2, "Syrian opposition"),
            s(D, 3, "Syrian government"),
        ]
    )
    assert derived.explanation == (
        "disputed: asserted by 2 sources (Syrian opposition), "
        "denied by 1 source (Syrian government)"
    )


def test_explanation_names_unaffiliated_sources() -> None:
    derived = derive_status([s(A, 1, None), s(A, 2, "Syrian opposition")])
    assert derived.explanation == (
        "corroborated: asserted by 2 sources (Syrian opposition; source 1, unaffiliated), "
        "denied by none"
    )
    assert derive_status([s(D, 7, "Syrian government")]).explanation == (
        "denied: denied by 1 source (Syrian government), asserted by none"
    )
    assert derive_status([]).explanation == "unsourced: no source has taken a position on it"


def test_explanation_says_who_has_withdrawn() -> None:
    assert derive_status(
        [s(A, 1, "Syrian opposition"), s(D, 2, "Syrian government"), s(R, 3, None)]
    ).explanation == (
        "disputed: asserted by 1 source (Syrian opposition), "
        "denied by 1 source (Syrian government); withdrawn by 1 source (source 3, unaffiliated)"
    )
    assert derive_status([s(R, 1, "Syrian government"), s(R, 2, "Russia")]).explanation == (
        "unsourced: no source holds a position on it; "
        "withdrawn by 2 sources (Russia; Syrian government)"
    )
    assert derive_status([s(D, 7, "Syrian government"), s(R, 8, "X")]).explanation == (
        "denied: denied by 1 source (Syrian government), asserted by none; "
        "withdrawn by 1 source (X)"
    )


def r(stance: StanceKind, source_id: int, report_id: int | None) -> CurrentStance:
    return CurrentStance(stance, source_id, f"source {source_id}", None, report_id)


def test_explanation_says_through_how_many_distinct_reports() -> None:
    assert derive_status([r(A, 1, 10), r(A, 2, 10), r(D, 3, None)]).explanation == (
        "disputed: asserted by 2 sources (source 1, unaffiliated; source 2, unaffiliated), "
        "denied by 1 source (source 3, unaffiliated); known through 1 report"
    )
    assert derive_status([r(A, 1, 10), r(D, 2, 11), r(R, 3, 12)]).explanation == (
        "disputed: asserted by 1 source (source 1, unaffiliated), "
        "denied by 1 source (source 2, unaffiliated); "
        "withdrawn by 1 source (source 3, unaffiliated); known through 3 reports"
    )
    # No report cited: the explanation is exactly as before.
    assert derive_status([r(A, 1, None)]).explanation == (
        "asserted: asserted by 1 source (source 1, unaffiliated), denied by none"
    )


@pytest.mark.parametrize(("stances", "status", "asserting", "denying"), CASES)
def test_status_counts_is_derive_status_without_the_sentence(
    stances: list[CurrentStance], status: ClaimStatus, asserting: int, denying: int
) -> None:
    assert status_counts(stances) == (status, asserting, denying)


@pytest.mark.parametrize(
    ("retired", "added", "after"),
    [
        (None, A, (3, 1)),
        (None, D, (2, 2)),
        (None, R, (2, 1)),
        (A, D, (1, 2)),
        (D, A, (3, 0)),
        (A, A, (2, 1)),
        (A, R, (1, 1)),
        (D, R, (2, 0)),
        (R, A, (3, 1)),
    ],
)
def test_counts_after_a_source_changes_its_position(
    retired: StanceKind | None, added: StanceKind, after: tuple[int, int]
) -> None:
    # From 2 asserting and 1 denying, the source's current stance `retired` (if any) goes.
    assert counts_after(2, 1, retired=retired, added=added) == after
