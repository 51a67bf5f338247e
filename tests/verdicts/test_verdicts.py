"""Verdicts over HTTP, on SQLite and PostgreSQL: PUT/GET/DELETE, the `verdict` filter,
the claim's `updated_at`, the webhook events, and the migration."""

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, col, select

from app.claims.filters import verdict_condition
from app.claims.models import Claim
from app.events.models import Event
from app.ops.migrate import downgrade, upgrade
from app.verdicts.rating import Rating
from tests.helpers import ids, make_claim, make_source, schema_drift

VERDICT = {
    "rating": "mostly_false",
    "textual_rating": "Misleading",
    "explanation": "Only the eastern districts were reached on 5 December.",
    "reviewed_at": "2024-12-06T12:00:00+02:00",
    "url": "https://factcheck.example.org/hama",
}


def _events(app: FastAPI) -> list[Event]:
    with Session(app.state.engine) as session:
        return list(session.exec(select(Event).order_by(col(Event.id))))


def _put(client: TestClient, auth: dict[str, str], claim_id: str, **body: Any) -> Response:
    return client.put(f"/claims/{claim_id}/verdict", headers=auth, json=body)


def test_put_creates_then_replaces_and_the_claim_shows_it(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    checker = make_source(client, auth, "Example Fact Check", "ngo")
    claim = make_claim(client, auth)
    assert claim["verdict"] is None

    created = _put(client, auth, claim["id"], source_id=checker["id"], **VERDICT)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/claims/{claim['id']}/verdict"
    verdict = created.json()
    assert {k: verdict[k] for k in ("claim_id", "rating", "textual_rating", "url")} == {
        "claim_id": claim["id"],
        "rating": "mostly_false",
        "textual_rating": "Misleading",
        "url": "https://factcheck.example.org/hama",
    }
    assert verdict["reviewed_at"] == "2024-12-06T10:00:00Z"
    assert verdict["source"] == {
        "id": checker["id"],
        "name": "Example Fact Check",
        "kind": "ngo",
        "affiliation": None,
    }

    detail = client.get(f"/claims/{claim['id']}").json()
    assert detail["verdict"] == verdict
    assert detail["updated_at"] == verdict["updated_at"]
    assert detail["updated_at"] > claim["updated_at"]
    assert client.get(f"/claims/{claim['id']}/verdict").json() == verdict

    # Replacing: 200, fields left out are cleared, the claim moves again.
    replaced = _put(client, auth, claim["id"], source_id=checker["id"], rating="false")
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["textual_rating"] is None
    assert replaced.json()["explanation"] is None
    assert replaced.json()["created_at"] == verdict["created_at"]
    after = client.get(f"/claims/{claim['id']}").json()
    assert after["verdict"]["rating"] == "false"
    assert after["updated_at"] > detail["updated_at"]

    published = [e for e in _events(app) if e.type == "verdict.published"]
    assert [e.data["verdict"]["rating"] for e in published] == ["mostly_false", "false"]
    assert published[0].data["previous_verdict"] is None
    assert published[1].data["previous_verdict"]["rating"] == "mostly_false"
    assert published[1].data["claim"]["id"] == claim["id"]
    assert published[1].data["claim"]["updated_at"] == after["updated_at"]


def test_the_same_put_twice_changes_nothing(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    checker = make_source(client, auth, "Example Fact Check")
    claim = make_claim(client, auth)
    body = {"source_id": checker["id"], "rating": "true"}  # reviewed_at defaults to now
    first = _put(client, auth, claim["id"], **body)
    assert first.status_code == 201
    before = client.get(f"/claims/{claim['id']}").json()
    events = len(_events(app))

    again = _put(client, auth, claim["id"], **body)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert client.get(f"/claims/{claim['id']}").json() == before
    assert len(_events(app)) == events


def test_delete_withdraws_and_emits_claim_updated(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    checker = make_source(client, auth, "Example Fact Check")
    claim = make_claim(client, auth)
    _put(client, auth, claim["id"], source_id=checker["id"], rating="mixed")
    with_verdict = client.get(f"/claims/{claim['id']}").json()

    assert client.delete(f"/claims/{claim['id']}/verdict", headers=auth).status_code == 204
    detail = client.get(f"/claims/{claim['id']}").json()
    assert detail["verdict"] is None
    assert detail["updated_at"] > with_verdict["updated_at"]
    missing = client.get(f"/claims/{claim['id']}/verdict")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.delete(f"/claims/{claim['id']}/verdict", headers=auth).status_code == 404

    last = _events(app)[-1]
    assert last.type == "claim.updated"
    assert last.data["changed"] == ["verdict"]
    assert last.data["withdrawn_verdict"]["rating"] == "mixed"
    assert last.data["claim"]["updated_at"] == detail["updated_at"]


def test_bad_verdicts_are_problems_and_write_nothing(
    client: TestClient, auth: dict[str, str], read_auth: dict[str, str], app: FastAPI
) -> None:
    checker = make_source(client, auth, "Example Fact Check")
    claim = make_claim(client, auth)
    good = {"source_id": checker["id"], "rating": "false"}
    events = len(_events(app))

    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "rating": "pants_on_fire"}, "rating"),
        ({"source_id": checker["id"]}, "rating"),
        ({"rating": "false"}, "source_id"),
        ({**good, "source_id": "999999"}, "source_id"),
        ({**good, "source_id": "abc"}, "source_id"),
        ({**good, "url": "ftp://example.org/x"}, "url"),
        ({**good, "reviewed_at": "2024-12-06T12:00:00"}, "reviewed_at"),
        ({**good, "textual_rating": "x" * 201}, "textual_rating"),
        ({**good, "status": "denied"}, "status"),
    ]
    for body, field in cases:
        response = _put(client, auth, claim["id"], **body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field], body

    assert _put(client, auth, "999999", **good).status_code == 404
    assert _put(client, auth, "nope", **good).status_code == 404
    assert client.put(f"/claims/{claim['id']}/verdict", json=good).status_code == 401
    assert _put(client, read_auth, claim["id"], **good).status_code == 403
    assert client.delete(f"/claims/{claim['id']}/verdict", headers=read_auth).status_code == 403
    assert client.get(f"/claims/{claim['id']}").json()["verdict"] is None
    assert len(_events(app)) == events


def test_verdict_filter_is_repeatable_and_combines(
    client: TestClient, auth: dict[str, str]
) -> None:
    checker = make_source(client, auth, "Example Fact Check")
    ruled = {}
    for rating in ("false", "mostly_false", "true"):
        claim = make_claim(client, auth, f"Claim rated {rating}.", tags=["t"])
        _put(client, auth, claim["id"], source_id=checker["id"], rating=rating)
        ruled[rating] = claim["id"]
    unrated = make_claim(client, auth, "Not rated.", tags=["t"])["id"]

    def listed(query: str) -> set[str]:
        response = client.get(f"/claims?{query}")
        assert response.status_code == 200, response.text
        return set(ids(response.json()))

    assert listed("verdict=false") == {ruled["false"]}
    assert listed("verdict=false&verdict=mostly_false") == {
        ruled["false"],
        ruled["mostly_false"],
    }
    assert listed("verdict=unproven") == set()
    assert listed("tag=t") == {*ruled.values(), unrated}
    assert listed("verdict=true&tag=t&status=unsourced") == {ruled["true"]}
    assert listed("verdict=true&status=disputed") == set()
    bad = client.get("/claims?verdict=pants_on_fire")
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["verdict.0"]


def test_verdict_filter_is_served_by_an_index(app: FastAPI) -> None:
    engine: sa.Engine = app.state.engine
    query = select(Claim.id).where(verdict_condition([Rating.false, Rating.mixed]))
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            plan = " | ".join(str(row[-1]) for row in rows)
            assert "SCAN verdict" not in plan, plan
            assert "SEARCH verdict USING" in plan, plan
        else:
            # An empty table is cheapest to scan: forbid that, to see which index serves it.
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " | ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))
            assert "Seq Scan on verdict" not in plan, plan
            assert "on verdict" in plan, plan


def test_a_source_with_verdicts_is_kept_and_a_deleted_claim_takes_its_verdict(
    client: TestClient, auth: dict[str, str]
) -> None:
    checker = make_source(client, auth, "Example Fact Check")
    claim = make_claim(client, auth)
    _put(client, auth, claim["id"], source_id=checker["id"], rating="false")
    refused = client.delete(f"/sources/{checker['id']}", headers=auth)
    assert refused.status_code == 409
    assert "verdicts" in refused.json()["detail"]

    assert client.delete(f"/claims/{claim['id']}", headers=auth).status_code == 204
    assert client.delete(f"/sources/{checker['id']}", headers=auth).status_code == 204


def test_migration_round_trips_and_matches_the_model(app: FastAPI) -> None:
    engine: sa.Engine = app.state.engine
    downgrade(engine, "0001")
    assert "verdict" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    assert "verdict" in sa.inspect(engine).get_table_names()
    assert [change for change in schema_drift(engine) if "verdict" in repr(change)] == []


def test_conditional_requests_on_the_verdict(client: TestClient, auth: dict[str, str]) -> None:
    claim = make_claim(client, auth)
    url = f"/claims/{claim['id']}/verdict"
    checker = make_source(client, auth, "Fact check desk", "news_outlet")
    body = {**VERDICT, "source_id": checker["id"]}
    # No verdict yet: nothing for If-Match to match, so 412 and nothing is written.
    refused = client.put(url, headers={**auth, "If-Match": "*"}, json=body)
    assert (refused.status_code, refused.json()["type"]) == (412, "/problems/precondition-failed")
    assert client.get(url).status_code == 404

    etag = client.put(url, headers=auth, json=body).headers["etag"]
    read = client.get(url)
    assert read.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304

    changed = {**body, "rating": "false"}
    replaced = client.put(url, headers={**auth, "If-Match": etag}, json=changed)
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] not in (etag, None)
    stale = client.put(url, headers={**auth, "If-Match": etag}, json=body)
    assert stale.status_code == 412
    assert client.delete(url, headers={**auth, "If-Match": etag}).status_code == 412
    assert client.get(url).json()["rating"] == "false"
    fresh = replaced.headers["etag"]
    assert client.delete(url, headers={**auth, "If-Match": fresh}).status_code == 204
    assert client.get(url).status_code == 404
