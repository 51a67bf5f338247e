"""The report list and GET /claims?report_id= are served by indexes on both engines (the
method of tests/claims/test_query_plans.py)."""

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.claims.test_query_plans import (
    assert_index_served,
    assert_stances_and_sources_reached_by_index,
    paged,
    postgres_plan,
    sqlite_plan,
)
from tests.helpers import add_stance, captured_sql, make_claim, make_source


@pytest.fixture
def cited(client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    """Reports dated and undated, and three claims state media deny through one of them."""
    state = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    ids = []
    for n, at in enumerate(["2024-12-05T11:21:00Z", None, "2024-12-04T00:00:00Z", None]):
        response = client.post(
            "/reports",
            headers=auth,
            json={
                "url": f"https://example.org/{n}",
                "published_at": at,
                "publisher_id": state["id"],
            },
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for n in range(3):
        claim = make_claim(client, auth, f"Insurgents entered district {n}.")["id"]
        add_stance(client, auth, claim, state["id"], "denies", report_id=ids[0])
    return {"report": ids[0], "publisher": state["id"]}


def test_claims_by_report_are_index_served_in_one_exists(
    app: FastAPI, client: TestClient, cited: dict[str, str]
) -> None:
    params = {"report_id": cited["report"], "source_kind": "state_media"}
    assert_index_served(app, client, "/claims", params, "ix_claim_updated_at_id")
    engine: sa.Engine = app.state.engine
    with captured_sql(engine) as ran:
        client.get("/claims", params=params)
    [(statement, parameters)] = paged(ran)
    assert statement.upper().count("EXISTS") == 1, statement
    assert_stances_and_sources_reached_by_index(engine, statement, parameters)


def _report_walks_are_index_served(
    app: FastAPI, client: TestClient, params: dict[str, Any], index: str
) -> None:
    """Every page's statements (the dated walk and the undated one) read through `index`,
    with no sort and no full scan, from the first page to the last."""
    engine: sa.Engine = app.state.engine
    with captured_sql(engine) as ran:
        cursor = None
        for _ in range(5):
            page = client.get(
                "/reports", params={**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
            )
            assert page.status_code == 200, page.text
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
    statements = paged(ran)
    assert len(statements) >= 5
    used: set[str | None] = set()
    for statement, parameters in statements:
        if engine.dialect.name == "sqlite":
            plan = sqlite_plan(engine, statement, parameters)
            assert [
                line for line in plan if "TEMP B-TREE" in line or line.startswith("SCAN ")
            ] == [], plan
            assert any(index in line for line in plan), plan
        else:
            nodes = postgres_plan(engine, statement, parameters)
            types = [node["Node Type"] for node in nodes]
            assert [t for t in types if t == "Seq Scan" or "Sort" in t] == [], types
            used |= {node.get("Index Name") for node in nodes}
    if engine.dialect.name == "postgresql":
        # PostgreSQL prices the undated walk on a tiny table as a backward scan of the
        # primary key; the dated walk needs the index.
        assert index in used, used


def test_the_report_list_is_index_served(
    app: FastAPI, client: TestClient, cited: dict[str, str]
) -> None:
    _report_walks_are_index_served(app, client, {}, "ix_report_published_at_id")
    _report_walks_are_index_served(
        app,
        client,
        {"publisher_id": cited["publisher"]},
        "ix_report_publisher_id_published_at_id",
    )
