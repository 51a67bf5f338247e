"""GET /claims?as_of=T&status=S driven by the status periods (app/claims/as_of_list.py):
the same items, order and cursors as the claim side, early and late, walking each lag class
of the period index (app/stances/period_lag.py).

The archive: 1,200 claims, bulk-imported with shuffled created_at and updated_at. Claim i
is asserted at BASE + i minutes and denied 30 s later (disputed); for i % 3 == 1 the
denier comes round 20 minutes later (corroborated), for i % 3 == 2 the asserter retracts
40 minutes later (denied). Early (T_EARLY) few disputed periods have begun; late (T_LATE)
all 1,200 have begun and only a third still hold.

The oracle is the unfiltered list as of T (the claim side, checked against the replay by
tests/claims/test_as_of.py), filtered here by each item's status.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.stances.period_lag import CLASSES
from tests.bulk_helpers import ndjson, post_bulk, rfc3339, stance_records
from tests.claims.test_query_plans import (
    paged,
    postgres_plan,
    sqlite_plan,
)
from tests.helpers import add_stance, captured_sql, walk

CLAIMS = 1200
BASE = datetime(2024, 1, 1, tzinfo=UTC)
RECORDED = datetime(2024, 6, 1, tzinfo=UTC)


T_EARLY = rfc3339(BASE + timedelta(minutes=100))
T_LATE = rfc3339(BASE + timedelta(minutes=CLAIMS + 100))
FUTURE = "2100-01-01T00:00:00Z"
SORTS = ["-updated_at", "updated_at", "-created_at", "created_at"]
WALK = {
    "updated_at": "ix_claim_status_period_status_lag_claim_updated_at",
    "created_at": "ix_claim_status_period_status_lag_claim_created_at",
}


def _records(numbers: range) -> list[dict[str, Any]]:
    sources = [
        {"type": "source", "id": "a", "name": "Asserter", "kind": "armed_group"},
        {"type": "source", "id": "d", "name": "Denier", "kind": "state_media"},
    ]
    claims, stances = [], []
    for i in numbers:
        created = RECORDED + timedelta(minutes=(i * 37) % CLAIMS)
        claims.append(
            {
                "type": "claim",
                "id": f"c{i}",
                "text": f"Claim {i}",
                "created_at": rfc3339(created),
                # Shuffled apart from created_at, with ties (the keyset breaks them by id).
                "updated_at": rfc3339(created + timedelta(minutes=(i * 91) % CLAIMS // 2)),
            }
        )
        at = BASE + timedelta(minutes=i)
        story = [("a", "asserts", at), ("d", "denies", at + timedelta(seconds=30))]
        if i % 3 == 1:
            story.append(("d", "asserts", at + timedelta(minutes=20)))
        elif i % 3 == 2:
            story.append(("a", "retracts", at + timedelta(minutes=40)))
        stances += stance_records(f"c{i}", story)
    return sources + claims + stances


@pytest.fixture
def archive(client: TestClient, auth: dict[str, str]) -> None:
    for start in range(0, CLAIMS, 400):  # within the body limit
        response = post_bulk(client, auth, ndjson(*_records(range(start, start + 400))))
        assert response.status_code == 200, response.text


def _oracle(client: TestClient, as_of: str, sort: str, status: str) -> list[dict[str, Any]]:
    every = walk(client, "/claims", {"as_of": as_of, "sort": sort, "limit": 100})
    return [item for item in every if item["status"] == status]


def _first_pages(client: TestClient, params: dict[str, Any], pages: int) -> list[Any]:
    """The first `pages` items one page (of one) at a time, through the cursors."""
    items, params = [], {**params, "limit": 1}
    for _ in range(pages):
        body = client.get("/claims", params=params).json()
        items += body["items"]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    return items


@pytest.mark.parametrize("sort", SORTS)
def test_the_status_list_as_of_t_is_the_claim_sides_early_and_late(
    client: TestClient, archive: None, sort: str
) -> None:
    for as_of in (T_EARLY, T_LATE):
        expected = _oracle(client, as_of, sort, "disputed")
        assert expected, as_of
        params = {"as_of": as_of, "status": "disputed", "sort": sort}
        assert walk(client, "/claims", {**params, "limit": 50}) == expected
        assert _first_pages(client, params, 6) == expected[:6]
    # At T_LATE only the claims with i % 3 == 0 are still disputed.
    assert len(_oracle(client, T_LATE, sort, "disputed")) == CLAIMS // 3


@pytest.mark.parametrize("status", ["denied", "corroborated", "asserted", "unsourced"])
def test_every_status_as_of_t_matches_the_claim_side(
    client: TestClient, archive: None, status: str
) -> None:
    for as_of in (T_EARLY, T_LATE):
        expected = _oracle(client, as_of, "-updated_at", status)
        params = {"as_of": as_of, "status": status, "limit": 100}
        assert walk(client, "/claims", params) == expected, (as_of, status)


@pytest.mark.parametrize("sort", ["-updated_at", "created_at"])
def test_as_of_after_every_stance_is_the_present_list(
    client: TestClient, archive: None, sort: str
) -> None:
    present = walk(client, "/claims", {"status": "disputed", "sort": sort, "limit": 100})
    assert len(present) == CLAIMS // 3
    as_of = {"status": "disputed", "sort": sort, "as_of": FUTURE}
    assert walk(client, "/claims", {**as_of, "limit": 100}) == present
    assert _first_pages(client, as_of, 4) == present[:4]


def test_the_order_follows_the_claims_writes(
    client: TestClient, auth: dict[str, str], archive: None
) -> None:
    """A PATCH and a new stance move the claim's updated_at: its periods follow (the
    trigger of migration 0013), late and early."""
    for as_of in (T_LATE, T_EARLY):
        params = {"as_of": as_of, "status": "disputed"}
        last = walk(client, "/claims", {**params, "limit": 100})[-1]
        patched = client.patch(f"/claims/{last['id']}", json={"place": "Hama"}, headers=auth)
        assert patched.status_code == 200, patched.text
        for limit in (1, 50):
            first = client.get("/claims", params={**params, "limit": limit}).json()["items"][0]
            assert (first["id"], first["updated_at"]) == (last["id"], patched.json()["updated_at"])
    # A stance stated after T_LATE changes nothing at T_LATE but the claim's updated_at.
    after = "2024-03-01T00:00:00Z"
    params = {"as_of": T_LATE, "status": "disputed"}
    oldest = walk(client, "/claims", {**params, "limit": 100})[-1]
    sources = {s["name"]: s["id"] for s in client.get("/sources").json()["items"]}
    add_stance(client, auth, oldest["id"], sources["Asserter"], "asserts", stated_at=after)
    assert (
        client.get("/claims", params={**params, "limit": 1}).json()["items"][0]["id"]
        == (oldest["id"])
    )


@pytest.mark.parametrize("as_of", [T_EARLY, T_LATE])
@pytest.mark.parametrize("sort", SORTS)
def test_the_status_list_walks_each_lag_class_in_the_lists_order(
    app: FastAPI, client: TestClient, archive: None, sort: str, as_of: str
) -> None:
    """Both pages read the periods only through the walk index, one bounded walk a lag
    class; then the page's own periods and claims by primary key. No scan of a table, and
    the only sorts are of the walks' pages (at most `limit` rows each), on both engines."""
    engine: sa.Engine = app.state.engine
    index = WALK[sort.lstrip("-")]
    params = {"as_of": as_of, "status": "disputed", "sort": sort, "limit": 1}
    with captured_sql(engine) as ran:
        first = client.get("/claims", params=params).json()
        assert first["next_cursor"] is not None
        assert client.get("/claims", params={**params, "cursor": first["next_cursor"]}).is_success
    statements = paged(ran)
    assert len(statements) == 2
    for statement, parameters in statements:
        if engine.dialect.name == "sqlite":
            _assert_sqlite_walks(sqlite_plan(engine, statement, parameters), index)
        else:
            nodes = postgres_plan(engine, statement, parameters)
            assert [node for node in nodes if node["Node Type"] == "Seq Scan"] == [], nodes
            reads = [
                node.get("Index Name")
                for node in nodes
                if node.get("Relation Name") == "claim_status_period"
            ]
            assert reads.count(index) == len(CLASSES), nodes
            assert set(reads) == {index, "pk_claim_status_period"}, nodes


def _assert_sqlite_walks(plan: list[str], index: str) -> None:
    reads = [line for line in plan if line.startswith(("SEARCH", "SCAN"))]
    walks = [line for line in reads if index in line]
    assert len(walks) == len(CLASSES), plan
    assert all(f"USING COVERING INDEX {index} (status=? AND <expr>=?" in w for w in walks), plan
    assert set(reads) - set(walks) <= {
        "SEARCH claim_status_period USING INTEGER PRIMARY KEY (rowid=?)",
        "SEARCH claim USING INTEGER PRIMARY KEY (rowid=?)",
        *(line for line in reads if line.startswith("SCAN anon_")),  # a walk's page
    }, plan
    # The sorts are of pages: each walk's, the walks' together, and the page itself.
    sorts = [line for line in plan if "TEMP B-TREE" in line]
    assert len(sorts) <= len(CLASSES) + 2, plan
