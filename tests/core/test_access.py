"""The access matrix, derived from the OpenAPI document rather than from a list.

Every operation of app.openapi() that needs a key (its `x-required-scope` is write or
admin, and every POST/PUT/PATCH/DELETE must be one of them) is called with no key, a
malformed header, an unknown key, a revoked key and a key of too low a scope: each answer
is 401 (with WWW-Authenticate) or 403 problem+json, and the database is byte-for-byte what
it was. Routes that other branches add are covered the moment they are in the document.

Keys themselves: only their SHA-256 is stored (asserted on the api_key table); the lookup is
by that hash, and the match is confirmed with hmac.compare_digest (app/core/auth.py::lookup_key), so
no secret-dependent comparison is made on the key; revocation is immediate; last_used_at
moves with use.
"""

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.auth import Scope, create_key, revoke_key
from app.core.config import Settings
from app.http.idempotency.middleware import READ_ONLY_POSTS
from app.main import create_app
from tests.helpers import add_stance, make_claim, make_source
from tests.state import dump

WRITE_METHODS = {"post", "put", "patch", "delete"}
ALWAYS_OPEN = {"/healthz", "/readyz"}
DOCS_PATHS = ["/openapi.json", "/docs", "/redoc"]
RANK = {"read": 0, "write": 1, "admin": 2}


def operations(app: FastAPI) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, items in app.openapi()["paths"].items():
        for method, operation in items.items():
            yield method, path, operation


def example_body(app: FastAPI, operation: dict[str, Any]) -> Any:
    """The request body's documented example: a valid body, so that only the key is wrong."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    schema = content["schema"]
    if "$ref" in schema:
        schema = app.openapi()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    examples = schema.get("examples") or [{}]
    return examples[0]


@pytest.fixture
def world(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """One of each resource, so that every path names something that exists."""
    source = make_source(client, admin, "Syrian state media", kind="state_media")
    claim = make_claim(client, admin)
    report = client.post("/reports", headers=admin, json={"url": "https://example.org/r"})
    assert report.status_code == 201, report.text
    stance = add_stance(
        client, admin, claim["id"], source["id"], "denies", report_id=report.json()["id"]
    )
    verdict = {"source_id": source["id"], "rating": "false"}
    answer = client.put(f"/claims/{claim['id']}/verdict", headers=admin, json=verdict)
    assert answer.status_code == 201, answer.text
    return {
        "claim_id": claim["id"],
        "source_id": source["id"],
        "stance_id": stance["id"],
        "report_id": report.json()["id"],
    }


def concrete(path: str, ids: dict[str, str]) -> str:
    # An id this test did not make (another branch's resource) is "1": auth comes first.
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "1"), path)


def keys(app: FastAPI) -> dict[str, str]:
    engine = app.state.engine
    revoked = create_key(engine=engine, scope=Scope.admin)
    assert revoke_key(engine=engine, key_or_prefix=revoked) == 1
    return {
        "read": create_key(engine=engine, scope=Scope.read),
        "write": create_key(engine=engine, scope=Scope.write),
        "revoked": revoked,
    }


def refusals(made: dict[str, str], scope: str) -> dict[str, tuple[dict[str, str], int]]:
    """Header sets that must be refused by an operation needing `scope`, with the status."""
    cases = {
        "no key": ({}, 401),
        "empty bearer": ({"Authorization": "Bearer "}, 401),
        "other scheme": ({"Authorization": f"Basic {made['write']}"}, 401),
        "malformed": ({"Authorization": "Bearer not a key; DROP TABLE api_key"}, 401),
        "unknown key": ({"Authorization": "Bearer ck_" + "A" * 43}, 401),
        "revoked key": ({"Authorization": f"Bearer {made['revoked']}"}, 401),
    }
    for held in ("read", "write"):
        if RANK[held] < RANK[scope]:
            cases[f"{held} key"] = ({"Authorization": f"Bearer {made[held]}"}, 403)
    return cases


def test_every_write_operation_needs_a_key(app: FastAPI) -> None:
    found = {(m, p): op.get("x-required-scope") for m, p, op in operations(app)}
    writes = {
        key: scope
        for key, scope in found.items()
        if key[0] in WRITE_METHODS and key[1] not in READ_ONLY_POSTS
    }
    assert writes, "the document has no write operation"
    # A POST that only reads (claim matching) needs what GET needs.
    assert {found[("post", path)] for path in READ_ONLY_POSTS} == {"read"}
    assert {key for key, scope in writes.items() if scope not in ("write", "admin")} == set()
    assert {p for (m, p), scope in found.items() if p.startswith("/webhooks")} == {
        p for (m, p), scope in found.items() if scope == "admin"
    }


def test_guarded_operations_refuse_every_bad_key_and_change_nothing(
    app: FastAPI, client: TestClient, world: dict[str, str]
) -> None:
    made = keys(app)
    before = dump(app.state.engine)
    checked = []
    for method, path, operation in operations(app):
        scope = operation.get("x-required-scope")
        if scope not in ("write", "admin"):
            continue
        url = concrete(path, world)
        body = example_body(app, operation)
        for case, (headers, status) in refusals(made, scope).items():
            response = client.request(method, url, headers=headers, json=body)
            label = (method, path, case)
            assert response.status_code == status, (label, response.text)
            assert response.headers["content-type"] == "application/problem+json", label
            assert response.json()["status"] == status, label
            if status == 401:
                assert response.headers["www-authenticate"] == 'Bearer realm="claims-api"', label
            else:
                assert "www-authenticate" not in response.headers, label
            checked.append(label)
    assert dump(app.state.engine) == before
    assert {m for m, _, _ in checked} >= {"post", "patch", "delete"}


def test_admin_routes_take_an_admin_key(
    app: FastAPI, client: TestClient, world: dict[str, str], admin: dict[str, str]
) -> None:
    """The refusals above are about the key, not the request: an admin key gets through."""
    for method, path, operation in operations(app):
        if operation.get("x-required-scope") == "admin" and method == "get":
            response = client.get(concrete(path, world), headers=admin)
            assert response.status_code in (200, 404), (path, response.text)


@pytest.fixture
def closed_app(database_url: str) -> Iterator[FastAPI]:
    application = create_app(Settings(database_url=database_url, require_key_for_reads=True))
    yield application
    application.state.engine.dispose()


def test_closed_reads_need_a_key_except_probes_and_docs(
    closed_app: FastAPI, world: dict[str, str]
) -> None:
    engine = closed_app.state.engine
    read = {"Authorization": f"Bearer {create_key(engine=engine, scope=Scope.read)}"}
    revoked = create_key(engine=closed_app.state.engine, scope=Scope.read)
    revoke_key(engine=closed_app.state.engine, key_or_prefix=revoked)
    reads = [
        path
        for method, path, operation in operations(closed_app)
        if method == "get" and operation.get("x-required-scope") == "read"
    ]
    assert "/claims" in reads and "/sources/{source_id}" in reads
    with TestClient(closed_app, raise_server_exceptions=False) as client:
        for path in reads:
            url = concrete(path, world)
            for headers in ({}, {"Authorization": f"Bearer {revoked}"}):
                refused = client.get(url, headers=headers)
                assert refused.status_code == 401, (path, refused.text)
                assert refused.headers["www-authenticate"] == 'Bearer realm="claims-api"'
            assert client.get(url, headers=read).status_code == 200, path
        # Every GET of the document is either closed or one of the probes.
        gets = {path for method, path, _ in operations(closed_app) if method == "get"}
        open_gets = gets - set(reads) - {p for p in gets if p.startswith("/webhooks")}
        assert open_gets == ALWAYS_OPEN
        for path in [*ALWAYS_OPEN, *DOCS_PATHS]:
            assert client.get(path).status_code == 200, path
        # The document says so too: the key is no longer optional.
        for method, path, operation in operations(closed_app):
            if path in reads and method == "get":
                assert operation["security"] == [{"HTTPBearer": []}], path


def test_open_reads_say_the_key_is_optional(app: FastAPI, client: TestClient) -> None:
    for _method, path, operation in operations(app):
        if operation.get("x-required-scope") == "read":
            assert operation["security"] == [{"HTTPBearer": []}, {}], path
    assert client.get("/claims").status_code == 200


def test_keys_are_stored_as_hashes_only(app: FastAPI, client: TestClient) -> None:
    key = create_key(engine=app.state.engine, scope=Scope.write, name="desk")
    assert client.post("/claims", headers={"Authorization": f"Bearer {key}"}, json={"text": "x"})
    with app.state.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(sa.text("SELECT * FROM api_key"))]
        stored = conn.execute(
            sa.text("SELECT key_hash, prefix, last_used_at FROM api_key WHERE name = 'desk'")
        ).one()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:10]
    assert stored.last_used_at is not None
    everything = repr(rows)
    assert key not in everything
    assert key[10:] not in everything  # the secret part appears nowhere


BAD_KEYS = ("empty bearer", "other scheme", "malformed", "unknown key", "revoked key")


def test_a_bad_key_is_401_on_every_operation_open_or_not(
    app: FastAPI, client: TestClient, world: dict[str, str]
) -> None:
    """Issue 13, hole 4: a made-up `Bearer <random>` got 200 on every open read. A key that
    is presented is checked wherever it is sent, probes and docs included (as GitHub does)."""
    made = keys(app)
    cases = {case: headers for case, (headers, _) in refusals(made, "read").items()}
    paths = [(m, p) for m, p, _ in operations(app)] + [("get", p) for p in DOCS_PATHS]
    before = dump(app.state.engine)
    for method, path in paths:
        url = concrete(path, world)
        for case in BAD_KEYS:
            response = client.request(method, url, headers=cases[case])
            label = (method, path, case)
            assert response.status_code == 401, (label, response.text)
            assert response.headers["content-type"] == "application/problem+json", label
            assert response.headers["www-authenticate"] == 'Bearer realm="claims-api"', label
    assert dump(app.state.engine) == before
    # The same reads with a live key, or with none, still answer.
    for headers in ({}, {"Authorization": f"Bearer {made['read']}"}):
        assert client.get(concrete("/claims/{claim_id}", world), headers=headers).status_code == 200
