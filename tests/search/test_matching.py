"""Claim matching on the seeded claims, on both engines: POST /claims/match and
GET /claims/{claim_id}/similar, served by the search index."""

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.claims.test_query_plans import postgres_plan, sqlite_plan
from tests.helpers import captured_sql, make_claim
from tests.search.seeded import CENTRAL

HEADERS = {"Idempotency-Key": "one-key"}


def match(client: TestClient, text: str, **body: Any) -> list[dict[str, Any]]:
    response = client.post("/claims/match", json={"text": text, **body})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_rewording_finds_the_seeded_central_claim_first(
    client: TestClient, seeded: dict[str, str]
) -> None:
    items = match(client, "Insurgents have entered Hama")
    assert items[0]["claim"]["text"] == CENTRAL
    assert (items[0]["shared"], items[0]["score"]) == (["insurgents", "entered", "hama"], 0.75)
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)


def test_arabic_spellings_and_prefixes_match(client: TestClient, auth: dict[str, str]) -> None:
    claim = make_claim(client, auth, "دخلت فصائل المعارضة مدينة حماة", language="ar")["id"]
    make_claim(client, auth, "The army withdrew from Homs.")
    for text in ("دخلت المعارضة حماه", "وحماة دخلتها فصائل معارضة", "حَماة"):
        assert [item["claim"]["id"] for item in match(client, text, language="ar")] == [claim]


def test_a_text_of_stopwords_matches_nothing(client: TestClient, seeded: dict[str, str]) -> None:
    assert match(client, "the of and") == []


def test_similar_leaves_the_claim_itself_out(client: TestClient, seeded: dict[str, str]) -> None:
    response = client.get(f"/claims/{seeded[CENTRAL]}/similar", params={"limit": 3})
    items = response.json()["items"]
    assert (response.status_code, len(items)) == (200, 3)
    assert seeded[CENTRAL] not in [item["claim"]["id"] for item in items]
    assert client.get("/claims/999999/similar").status_code == 404


def test_match_is_a_read_that_ignores_idempotency_keys(
    app: FastAPI, client: TestClient, seeded: dict[str, str], read_auth: dict[str, str]
) -> None:
    headers = {**HEADERS, **read_auth}
    with captured_sql(app.state.engine) as ran:
        first = client.post("/claims/match", json={"text": "Hama"}, headers=headers)
        again = client.post("/claims/match", json={"text": "Aleppo"}, headers=headers)
    # The same key with another body would be a 409 for a write; a read just answers.
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() != again.json()
    assert "Idempotent-Replayed" not in again.headers
    writes = [s for s, _ in ran if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []


def test_match_takes_json_only(client: TestClient) -> None:
    response = client.post(
        "/claims/match", content=b"text=Hama", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415


def test_candidates_come_from_the_search_index(
    app: FastAPI, client: TestClient, seeded: dict[str, str]
) -> None:
    engine: sa.Engine = app.state.engine
    with captured_sql(engine) as ran:
        assert match(client, "Insurgents have entered Hama")
    [(statement, parameters)] = [(s, p) for s, p in ran if " LIMIT " in s]
    if engine.dialect.name == "sqlite":
        plan = sqlite_plan(engine, statement, parameters)
        assert [
            step for step in plan if step.startswith("SCAN") and "VIRTUAL TABLE" not in step
        ] == []
        assert any("claim_fts VIRTUAL TABLE" in step for step in plan)
    else:
        nodes = postgres_plan(engine, statement, parameters)
        assert [n for n in nodes if n["Node Type"] == "Seq Scan"] == []
        assert "ix_claim_search_vector" in {n.get("Index Name") for n in nodes}


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "Hama", "language": 5}])
def test_bad_bodies_are_422(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/claims/match", json=body)
    assert response.status_code == 422
