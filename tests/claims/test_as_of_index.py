"""GET /claims?as_of=T&status=S driven by the status periods (app/claims/as_of_list.py):
the same items, order and cursors as the claim side, through either of its indexes.

The archive: 1,200 claims, bulk-imported with shuffled created_at and updated_at. Claim i
is asserted at BASE + i minutes and denied 30 s later (disputed); for i % 3 == 1 the
denier comes round 20 minutes later (corroborated), for i % 3 == 2 the asserter retracts
40 minutes later (denied). Early (T_EARLY) few disputed periods have begun: the range
serves; late (T_LATE) all 1,200 have begun and only a third still hold: the walk serves
(SQLite picks by a bounded count, PostgreSQL by its statistics).

The oracle is the unfiltered list as of T (the claim side, checked against the replay by
tests/claims/test_as_of.py), filtered here by each item's status.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.bulk_helpers import ndjson, post_bulk
from tests.claims.test_query_plans import (
    assert_index_served,
    paged,
    postgres_plan,
    sqlite_plan,
)
from tests.helpers import add_stance, captured_sql, walk

CLAIMS = 1200
BASE = datetime(2024, 1, 1, tzinfo=UTC)
RECORDED = datetime(2024, 6, 1, tzinfo=UTC)


def _rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


T_EARLY = _rfc3339(BASE + timedelta(minutes=100))
T_LATE = _rfc3339(BASE + timedelta(minutes=CLAIMS + 100))
FUTURE = "2100-01-01T00:00:00Z"
SORTS = ["-updated_at", "updated_at", "-created_at", "created_at"]
WALK = {
    "updated_at": "ix_claim_status_period_status_claim_updated_at",
    "created_at": "ix_claim_status_period_status_claim_created_at",
}
RANGE = "ix_claim_status_period_status_valid_from"


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
                "created_at": _rfc3339(created),
                # Shuffled apart from created_at, with ties (the keyset breaks them by id).
                "updated_at": _rfc3339(created + timedelta(minutes=(i * 91) % CLAIMS // 2)),
            }
        )
        at = BASE + timedelta(minutes=i)
        story = [("a", "asserts", at), ("d", "denies", at + timedelta(seconds=30))]
        if i % 3 == 1:
            story.append(("d", "asserts", at + timedelta(minutes=20)))
        elif i % 3 == 2:
            story.append(("a", "retracts", at + timedelta(minutes=40)))
        stances += [
            {
                "type": "stance",
                "id": f"t{i}-{n}",
                "claim_id": f"c{i}",
                "source_id": source,
                "stance": kind,
                "stated_at": _rfc3339(stated),
            }
            for n, (source, kind, stated) in enumerate(story)
        ]
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
def test_the_status_list_as_of_t_is_the_claim_sides_on_both_indexes(
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
    trigger of migration 0013), on the walk and on the range."""
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


@pytest.mark.parametrize("sort", SORTS)
def test_the_late_status_list_walks_the_periods_in_the_lists_order(
    app: FastAPI, client: TestClient, archive: None, sort: str
) -> None:
    """Both pages read through the walk index: no scan, no sort, on both engines."""
    params = {"as_of": T_LATE, "status": "disputed", "sort": sort}
    assert_index_served(app, client, "/claims", params, WALK[sort.lstrip("-")])


def test_the_early_status_list_reads_the_periods_begun_by_t(
    app: FastAPI, client: TestClient, archive: None
) -> None:
    """On SQLite the range: periods of the status begun by T (a bounded count chose it),
    then their claims by primary key, sorted; never a scan of claims or periods."""
    engine: sa.Engine = app.state.engine
    params = {"as_of": T_EARLY, "status": "disputed", "limit": 1}
    with captured_sql(engine) as ran:
        assert client.get("/claims", params=params).status_code == 200
    [(statement, parameters)] = paged(ran)
    if engine.dialect.name == "sqlite":
        plan = sqlite_plan(engine, statement, parameters)
        assert [line for line in plan if not line.startswith("USE TEMP B-TREE")] == [
            f"SEARCH claim_status_period USING INDEX {RANGE} (status=? AND valid_from<?)",
            "SEARCH claim USING INTEGER PRIMARY KEY (rowid=?)",
        ], plan
    else:
        nodes = postgres_plan(engine, statement, parameters)
        types = [node["Node Type"] for node in nodes]
        assert [t for t in types if t == "Seq Scan"] == [], types
        assert {node.get("Index Name") for node in nodes} & {RANGE, WALK["updated_at"]}, nodes
