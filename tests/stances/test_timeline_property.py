"""Over random stance histories posted through the API (ties of stated_at, back-dating,
several sources and camps, every stance kind), the stored status periods are the replay of
the history, and at every boundary they hold what the present's rules give for the stances
stated by then; so do the list's as-of status and stance filters, which restate the
supersession rule in SQL."""

from datetime import UTC, datetime, timedelta
from itertools import count, pairwise
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.claims.models import Claim
from app.stances.periods_model import ClaimStatusPeriod
from app.stances.rules import (
    ClaimStatus,
    CurrentStance,
    StanceKind,
    derive_status,
    latest_per_source,
)
from app.stances.timeline import HistoryStance, replay
from tests.helpers import add_stance, make_claim, make_source

BASE = datetime(2024, 12, 5, 9, 0, tzinfo=UTC)
# Two of one camp (its name spelled two ways), one of another, one unaffiliated.
SOURCES = [
    ("A1", "Syrian government"),
    ("A2", " syrian GOVERNMENT"),
    ("B", "Opposition"),
    ("C", None),
]

# (source index, kind, hour of stated time): few hours, so ties and back-dating are common.
stance_steps = st.lists(
    st.tuples(
        st.integers(0, len(SOURCES) - 1),
        st.sampled_from(list(StanceKind)),
        st.integers(0, 4),
    ),
    min_size=1,
    max_size=7,
)


def _stored(app: FastAPI, claim_pk: int) -> tuple[list[Any], Any]:
    period: Any = ClaimStatusPeriod.__table__  # type: ignore[attr-defined]
    claim: Any = Claim.__table__  # type: ignore[attr-defined]
    with app.state.engine.connect() as conn:
        rows = conn.execute(
            sa.select(period).where(period.c.claim_id == claim_pk).order_by(period.c.valid_from)
        ).all()
        row = conn.execute(sa.select(claim).where(claim.c.id == claim_pk)).one()
    return rows, row


def _by_definition(history: list[HistoryStance], at: datetime) -> tuple[str, int, int]:
    """The status at `at` straight from the rules: no replay involved."""
    latest = latest_per_source(
        [s for s in history if s.stated_at <= at],
        source=lambda s: s.source_id,
        order=lambda s: (s.stated_at, s.id),
    )
    derived = derive_status(
        CurrentStance(StanceKind(s.stance), s.source_id, s.source_name, s.affiliation)
        for s in latest.values()
    )
    return derived.status.value, derived.asserting_sources, derived.denying_sources


def _holding(rows: list[Any], at: datetime) -> tuple[str, int, int]:
    for row in rows:
        if row.valid_from <= at and (row.valid_to is None or at < row.valid_to):
            return row.status, row.asserting_sources, row.denying_sources
    return ClaimStatus.unsourced.value, 0, 0


def _check_list_as_of(
    client: TestClient,
    tag: str,
    claim_id: str,
    history: list[HistoryStance],
    sources: list[dict[str, Any]],
    at: datetime,
) -> None:
    """GET /claims?as_of= restates supersession in SQL: it must agree with the pure rule,
    for the item's status and counts and for each source's stance filter."""
    as_of = at.isoformat()
    listed = client.get("/claims", params={"tag": tag, "as_of": as_of})
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["status"], item["asserting_sources"], item["denying_sources"]) == (
        _by_definition(history, at)
    )
    latest = latest_per_source(
        [s for s in history if s.stated_at <= at],
        source=lambda s: s.source_id,
        order=lambda s: (s.stated_at, s.id),
    )
    for source in sources:
        held = latest.get(int(source["id"]))
        kinds = {k.value for k in StanceKind}
        wanted = set() if held is None else {held.stance}
        for stances, expected in [(wanted, [claim_id]), (kinds - wanted, [])]:
            if not stances:
                continue
            params = {
                "tag": tag,
                "as_of": as_of,
                "source_id": source["id"],
                "stance": sorted(stances),
            }
            found = client.get("/claims", params=params).json()["items"]
            assert [i["id"] for i in found] == expected, (source["name"], stances, as_of)


def test_stored_periods_are_the_replay_at_every_boundary(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    sources = [
        make_source(client, auth, name, affiliation=affiliation) for name, affiliation in SOURCES
    ]
    counter = count()

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(steps=stance_steps)
    def check(steps: list[tuple[int, StanceKind, int]]) -> None:
        tag = f"p{next(counter)}"
        claim = make_claim(client, auth, tags=[tag])
        history = []
        for index, kind, hour in steps:
            stated_at = BASE + timedelta(hours=hour)
            posted = add_stance(
                client,
                auth,
                claim["id"],
                sources[index]["id"],
                kind.value,
                stated_at=stated_at.isoformat(),
            )
            history.append(
                HistoryStance(
                    id=int(posted["id"]),
                    source_id=int(sources[index]["id"]),
                    source_name=SOURCES[index][0],
                    affiliation=SOURCES[index][1],
                    stance=kind.value,
                    stated_at=stated_at,
                    created_at=datetime.fromisoformat(posted["created_at"]),
                )
            )
        rows, claim_row = _stored(app, int(claim["id"]))
        expected = replay(history)
        assert [
            (
                r.valid_from,
                r.valid_to,
                r.status,
                r.asserting_sources,
                r.denying_sources,
                r.status_since,
                r.changed_by_stance_id,
            )
            for r in rows
        ] == [p.key for p in expected]
        boundaries = sorted({s.stated_at for s in history})
        for at in [boundaries[0] - timedelta(seconds=1), *boundaries]:
            assert _holding(rows, at) == _by_definition(history, at)
        # The present is the as-of-now case.
        now = (claim_row.status, claim_row.asserting_sources, claim_row.denying_sources)
        assert now == _by_definition(history, boundaries[-1])
        for earlier, later in pairwise(rows):
            assert earlier.valid_to == later.valid_from
            assert (earlier.status, earlier.asserting_sources, earlier.denying_sources) != (
                later.status,
                later.asserting_sources,
                later.denying_sources,
            )
        for at in boundaries:
            _check_list_as_of(client, tag, claim["id"], history, sources, at)
        detail = client.get(f"/claims/{claim['id']}").json()
        since = None if not expected or expected[-1].status == "unsourced" else expected[-1]
        assert detail["status_since"] == (
            None if since is None else since.status_since.isoformat().replace("+00:00", "Z")
        )

    check()
