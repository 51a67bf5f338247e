"""Idempotency-Key on POST, through HTTP, on SQLite and PostgreSQL: replays, mismatches,
requests in flight, scoping by API key, expiry and purge."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.requests import Request

from app.core.auth import Scope, create_key
from app.core.db import utcnow, write_engine
from app.http.idempotency import store
from app.http.idempotency.in_transaction import LeaseLost, hand_to_route, record_answer
from app.http.idempotency.models import IdempotencyKey
from app.sources.models import Source
from tests.helpers import make_claim, make_source

CLAIM = {"text": "Insurgents reached the edge of the Kazo neighbourhood of Hama."}


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _with_key(auth: dict[str, str], key: str) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key}


def _age_keys(engine: Engine, by: timedelta, column: str = "created_at") -> None:
    """Move every stored key's first use (or lease) back in time, rather than sleeping."""
    with Session(engine) as session:
        for record in session.exec(select(IdempotencyKey)):
            setattr(record, column, getattr(record, column) - by)
            session.add(record)
        session.commit()


def test_a_retry_replays_the_first_answer_and_creates_nothing(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    engine = app.state.engine
    first = client.post("/claims", headers=_with_key(auth, "create-kazo-1"), json=CLAIM)
    retry = client.post("/claims", headers=_with_key(auth, "create-kazo-1"), json=CLAIM)

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["Location"] == first.headers["Location"] == "/claims/1"
    assert retry.headers["Content-Type"] == first.headers["Content-Type"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(engine, "claim") == 1
    # Nor a second claim.created event for the webhook subscribers.
    assert _count(engine, "event") == 1


def test_stance_replay_records_one_stance(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    claim = make_claim(client, auth)
    source = make_source(client, auth, "Syrian state media", "state_media")
    body = {"source_id": source["id"], "stance": "denies"}
    url = f"/claims/{claim['id']}/stances"
    answers = [client.post(url, headers=_with_key(auth, "deny-1"), json=body) for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 201]
    assert {a.content for a in answers} == {answers[0].content}
    assert {a.headers["Location"] for a in answers} == {f"/claims/{claim['id']}/stances/1"}
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    assert _count(app.state.engine, "stance") == 1
    assert client.get(f"/claims/{claim['id']}").json()["denying_sources"] == 1


def test_client_errors_are_replayed_too(client: TestClient, auth: dict[str, str]) -> None:
    first = client.post(
        "/claims/999/stances",
        headers=_with_key(auth, "k"),
        json={"source_id": "1", "stance": "asserts"},
    )
    retry = client.post(
        "/claims/999/stances",
        headers=_with_key(auth, "k"),
        json={"source_id": "1", "stance": "asserts"},
    )
    assert first.status_code == retry.status_code == 404
    assert retry.content == first.content
    assert retry.headers["Content-Type"] == "application/problem+json"
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_request_is_422(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    assert client.post("/claims", headers=_with_key(auth, "k1"), json=CLAIM).status_code == 201
    other_body = client.post("/claims", headers=_with_key(auth, "k1"), json={"text": "Other."})
    other_path = client.post(
        "/sources", headers=_with_key(auth, "k1"), json={"name": "SANA", "kind": "state_media"}
    )

    for answer in (other_body, other_path):
        assert answer.status_code == 422
        assert answer.headers["Content-Type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"] == "/problems/idempotency-key-reused"
        assert [(e["location"], e["field"]) for e in problem["errors"]] == [
            ("header", "Idempotency-Key")
        ]
    assert _count(app.state.engine, "claim") == 1
    assert _count(app.state.engine, "source") == 0


def _in_flight(app: FastAPI, auth: dict[str, str], key: str, body: bytes) -> store.Proceed:
    """Claim a key exactly as the middleware does for a request that is still running."""
    engine = app.state.engine
    owner = store.key_owner(engine=engine, key=auth["Authorization"].removeprefix("Bearer "))
    assert owner is not None
    fingerprint = store.fingerprint(method="POST", path="/claims", query=b"", body=body)
    claimed = store.claim(engine=engine, api_key_id=owner, key=key, fingerprint=fingerprint)
    assert isinstance(claimed, store.Proceed)
    return claimed


def test_a_duplicate_while_the_first_is_in_flight_is_409_until_its_lease_ends(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    engine = app.state.engine
    body = json.dumps(CLAIM).encode()
    headers = {**_with_key(auth, "slow-1"), "Content-Type": "application/json"}
    _in_flight(app, auth, "slow-1", body)

    duplicate = client.post("/claims", headers=headers, content=body)
    assert duplicate.status_code == 409
    assert duplicate.headers["Retry-After"] == "1"
    assert duplicate.json()["type"] == "/problems/idempotency-key-in-use"
    assert _count(engine, "claim") == 0

    # The first request's process died: once its lease has run out, a retry takes over.
    _age_keys(engine, store.LEASE + timedelta(seconds=1), column="locked_until")
    retry = client.post("/claims", headers=headers, content=body)
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers
    again = client.post("/claims", headers=headers, content=body)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert _count(engine, "claim") == 1


def test_a_request_that_lost_its_lease_does_not_overwrite_the_new_owner(app: FastAPI) -> None:
    engine = app.state.engine
    owner_key = create_key(engine=engine, scope=Scope.write)
    owner = store.key_owner(engine=engine, key=owner_key)
    assert owner is not None
    start = utcnow()
    first = store.claim(engine=engine, api_key_id=owner, key="k", fingerprint="f", now=start)
    later = start + store.LEASE + timedelta(seconds=1)
    second = store.claim(engine=engine, api_key_id=owner, key="k", fingerprint="f", now=later)
    assert isinstance(first, store.Proceed) and isinstance(second, store.Proceed)

    assert not store.complete(
        engine=engine, claimed=first, status_code=201, headers={}, body=b"late"
    )
    assert store.complete(engine=engine, claimed=second, status_code=201, headers={}, body=b"ok")
    replay = store.claim(engine=engine, api_key_id=owner, key="k", fingerprint="f", now=later)
    assert replay == store.Replay(201, {}, b"ok")


def test_keys_are_scoped_by_api_key(client: TestClient, auth: dict[str, str], app: FastAPI) -> None:
    other = {"Authorization": f"Bearer {create_key(engine=app.state.engine, scope=Scope.write)}"}
    mine = client.post("/claims", headers=_with_key(auth, "shared"), json=CLAIM)
    theirs = client.post("/claims", headers=_with_key(other, "shared"), json=CLAIM)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert {mine.json()["id"], theirs.json()["id"]} == {"1", "2"}
    assert "Idempotent-Replayed" not in theirs.headers
    assert _count(app.state.engine, "idempotency_key") == 2


def test_keys_expire_after_24_hours(client: TestClient, auth: dict[str, str], app: FastAPI) -> None:
    engine = app.state.engine
    first = client.post("/claims", headers=_with_key(auth, "daily"), json=CLAIM)
    _age_keys(engine, timedelta(hours=23, minutes=59))
    within = client.post("/claims", headers=_with_key(auth, "daily"), json=CLAIM)
    assert within.headers["Idempotent-Replayed"] == "true"

    _age_keys(engine, timedelta(minutes=2))
    after = client.post("/claims", headers=_with_key(auth, "daily"), json=CLAIM)
    assert (first.json()["id"], after.json()["id"]) == ("1", "2")
    assert "Idempotent-Replayed" not in after.headers
    # The key starts a new life: its new answer is what retries get now.
    replay = client.post("/claims", headers=_with_key(auth, "daily"), json=CLAIM)
    assert (replay.json()["id"], replay.headers["Idempotent-Replayed"]) == ("2", "true")
    assert _count(engine, "claim") == 2


def test_purge_drops_only_expired_keys(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    engine = app.state.engine
    client.post("/claims", headers=_with_key(auth, "old"), json=CLAIM)
    _age_keys(engine, timedelta(hours=25))
    client.post("/claims", headers=_with_key(auth, "new"), json={"text": "Another claim."})

    assert store.purge_expired(engine=engine) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT key FROM idempotency_key")).scalars().all() == ["new"]


def test_a_server_error_releases_the_key(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    """A 5xx changed nothing, so a retry with the same key must run again, not replay it."""
    engine = app.state.engine
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        # A failure the database itself raises: no mock in the request path.
        if sqlite:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER fail_claims BEFORE INSERT ON claim "
                    "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION fail_claims() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER fail_claims BEFORE INSERT ON claim "
                    "FOR EACH ROW EXECUTE FUNCTION fail_claims()"
                )
            )
    failed = client.post("/claims", headers=_with_key(auth, "flaky"), json=CLAIM)
    assert failed.status_code == 500
    assert _count(engine, "idempotency_key") == 0

    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER fail_claims" + ("" if sqlite else " ON claim")))
    retry = client.post("/claims", headers=_with_key(auth, "flaky"), json=CLAIM)
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers
    assert _count(engine, "claim") == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "1 to 255 characters"),
        ("x" * 256, "1 to 255 characters"),
        ('""', "1 to 255 characters"),
        ("caf\u00e9", "printable ASCII"),
        ("tab\there", "printable ASCII"),
    ],
)
def test_a_malformed_key_is_422_and_nothing_happens(
    client: TestClient, auth: dict[str, str], app: FastAPI, value: str, message: str
) -> None:
    headers: dict[str, Any] = {**auth, "Idempotency-Key": value.encode("latin-1")}
    answer = client.post("/claims", headers=headers, json=CLAIM)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == "/problems/validation-error"
    assert message in problem["detail"]
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [
        ("header", "Idempotency-Key")
    ]
    assert _count(app.state.engine, "claim") == 0


def test_a_quoted_key_is_the_same_key(client: TestClient, auth: dict[str, str]) -> None:
    """The IETF draft sends a structured-field string; Stripe's clients send it bare."""
    bare = client.post("/claims", headers=_with_key(auth, "abc-123"), json=CLAIM)
    quoted = client.post("/claims", headers=_with_key(auth, '"abc-123"'), json=CLAIM)
    assert quoted.content == bare.content
    assert quoted.headers["Idempotent-Replayed"] == "true"


def test_without_a_valid_api_key_nothing_is_recorded(client: TestClient, app: FastAPI) -> None:
    for headers in ({}, {"Authorization": "Bearer ck_unknown"}):
        answer = client.post("/claims", headers={**headers, "Idempotency-Key": "k"}, json=CLAIM)
        assert answer.status_code == 401
    assert _count(app.state.engine, "idempotency_key") == 0


def test_a_read_only_keys_403_is_not_recorded(
    client: TestClient, app: FastAPI, read_auth: dict[str, str]
) -> None:
    """Issue 13, hole 8: the refusal of a key is no answer to the request to keep."""
    refused = client.post("/claims", headers=_with_key(read_auth, "read-only"), json=CLAIM)
    assert refused.status_code == 403
    assert _count(app.state.engine, "idempotency_key") == 0
    again = client.post("/claims", headers=_with_key(read_auth, "read-only"), json=CLAIM)
    assert (again.status_code, again.headers.get("idempotent-replayed")) == (403, None)
    assert _count(app.state.engine, "idempotency_key") == 0


def test_other_methods_ignore_the_header(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    claim = make_claim(client, auth)
    for text in ("First edit.", "Second edit."):
        answer = client.patch(
            f"/claims/{claim['id']}", headers=_with_key(auth, "edit"), json={"text": text}
        )
        assert answer.json()["text"] == text
    assert _count(app.state.engine, "idempotency_key") == 0


def test_every_post_operation_documents_the_header(client: TestClient) -> None:
    """Every POST that writes: POST /claims/match only reads, and ignores the header."""
    document: dict[str, Any] = client.get("/openapi.json").json()
    posts = {
        path: operations["post"]
        for path, operations in document["paths"].items()
        if "post" in operations and path != "/claims/match"
    }
    match = document["paths"]["/claims/match"]["post"]
    assert "Idempotency-Key" not in [p["name"] for p in match.get("parameters", [])]
    assert set(posts) >= {"/claims", "/sources", "/claims/{claim_id}/stances", "/webhooks"}
    for operation in posts.values():
        header = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert [(p["in"], p["required"]) for p in header] == [("header", False)]
        assert {"409", "422"} <= set(operation["responses"])


@contextmanager
def _statements_by_connection(engine: Engine) -> Iterator[dict[int, list[str]]]:
    """The statements and commits of each DBAPI connection inside the block, in order."""
    ran: dict[int, list[str]] = {}

    def on_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        ran.setdefault(id(conn.connection.dbapi_connection), []).append(statement)

    def on_commit(conn: Any) -> None:
        ran.setdefault(id(conn.connection.dbapi_connection), []).append("COMMIT")

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        yield ran
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)


@pytest.mark.parametrize(("path", "table"), [("stances", "stance"), ("claims", "claim")])
def test_the_answer_commits_in_the_same_transaction_as_the_write(
    app: FastAPI, client: TestClient, auth: dict[str, str], path: str, table: str
) -> None:
    """Issue 13, hole 3: recorded in a transaction after the write's, the answer was lost
    to a crash between the two, and a retry wrote again. Now the write's own transaction
    updates the key's row before its COMMIT."""
    claim = make_claim(client, auth)
    source = make_source(client, auth, "SANA", kind="state_media")
    url, body = (
        (f"/claims/{claim['id']}/stances", {"source_id": source["id"], "stance": "denies"})
        if path == "stances"
        else ("/claims", CLAIM)
    )
    with _statements_by_connection(app.state.engine) as ran:
        created = client.post(url, headers=_with_key(auth, "same-transaction"), json=body)
    assert created.status_code == 201, created.text
    (writer,) = [s for s in ran.values() if any(q.startswith(f"INSERT INTO {table} ") for q in s)]
    insert = next(i for i, q in enumerate(writer) if q.startswith(f"INSERT INTO {table} "))
    commit = writer.index("COMMIT", insert)
    assert [q.split(" SET ")[0] for q in writer[insert:commit] if "idempotency_key" in q] == [
        "UPDATE idempotency_key"
    ]
    replay = client.post(url, headers=_with_key(auth, "same-transaction"), json=body)
    assert (replay.status_code, replay.json()) == (201, created.json())


def _claimed(app: FastAPI, key: str, lease: timedelta = store.LEASE) -> store.Proceed:
    owner = create_key(engine=app.state.engine, scope=Scope.write)
    api_key_id = store.key_owner(engine=app.state.engine, key=owner)
    assert api_key_id is not None
    outcome = store.claim(
        engine=app.state.engine, api_key_id=api_key_id, key=key, fingerprint="f", lease=lease
    )
    assert isinstance(outcome, store.Proceed)
    return outcome


def _request_holding(claimed: store.Proceed) -> Request:
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/claims", "headers": []}
    hand_to_route(scope, claimed)
    return Request(scope)


def test_a_write_whose_lease_was_taken_over_is_rolled_back(app: FastAPI) -> None:
    stale = _claimed(app, "taken-over")
    engine = app.state.engine
    with engine.begin() as conn:  # a retry takes the key over: a new lease token
        conn.execute(sa.text("UPDATE idempotency_key SET lease_token = 'retry'"))
    with write_engine(engine).connect() as conn:
        now = utcnow()
        row = {"name": "lost", "name_key": "lost", "kind": "ngo", "created_at": now}
        conn.execute(sa.insert(Source.__table__).values(**row, updated_at=now))  # type: ignore[attr-defined]
        with pytest.raises(LeaseLost):
            record_answer(conn, _request_holding(stale), status_code=201, headers={}, body=b"{}")
    assert _count(engine, "source") == 0


def test_a_failure_after_the_commit_keeps_the_recorded_answer(app: FastAPI) -> None:
    claimed = _claimed(app, "answered")
    engine = app.state.engine
    with write_engine(engine).connect() as conn:
        record_answer(
            conn, _request_holding(claimed), status_code=201, headers={"Location": "/x"}, body=b"1"
        )
        conn.commit()
    store.release(engine=engine, claimed=claimed)  # a 5xx raised after the commit
    with Session(engine) as session:
        (record,) = session.exec(select(IdempotencyKey))
    assert (record.status_code, record.response_headers, record.response_body) == (
        201,
        {"location": "/x"},
        b"1",
    )
