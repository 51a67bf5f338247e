"""Operations: request ids, access logs, security headers, CORS, rate limits, readiness,
key bookkeeping and the `claims-api` commands that revoke keys and check consistency."""

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.auth import Scope, create_key, list_keys, revoke_key
from app.core.config import Settings
from app.core.db import utcnow
from app.http import ratelimit
from app.main import create_app
from app.ops.logs import JsonFormatter
from app.ops.migrate import downgrade
from tests.helpers import add_stance, ids, make_claim, make_source, problem
from tests.helpers import run_cli as cli

GENERATED_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": API_CSP,
}
DESK = "https://desk.example"


@contextmanager
def running(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    """An app with settings of its own, over the test's database."""
    application = create_app(settings)
    try:
        with TestClient(application, raise_server_exceptions=False) as test_client:
            yield application, test_client
    finally:
        application.state.engine.dispose()


class Capture(logging.Handler):
    """Keeps every record, and each one as the JSON line the service would write for it
    (formatted at once: the request id lives in a context variable of the request)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@contextmanager
def captured(*logger_names: str) -> Iterator[Capture]:
    handler = Capture()
    loggers = [logging.getLogger(name) for name in logger_names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def type_title_status(response_json: dict[str, object]) -> tuple[object, object, object]:
    return response_json["type"], response_json["title"], response_json["status"]


# --- Request id ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_id",
    ["abc-123", "7f3c2a10-4b1e-4c55-9d0e-1a2b3c4d5e6f", "edge:desk_01.retry-2", "x" * 128],
)
def test_a_valid_request_id_is_echoed(client: TestClient, request_id: str) -> None:
    response = client.get("/claims", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [None, "", "x" * 129, "has space", "semi;colon", "slash/path", "quote'", "<script>"],
    ids=["absent", "empty", "too-long", "space", "semicolon", "slash", "quote", "markup"],
)
def test_a_request_id_is_generated_when_absent_or_invalid(
    client: TestClient, request_id: str | None
) -> None:
    headers = {} if request_id is None else {"X-Request-ID": request_id}
    first = client.get("/claims", headers=headers).headers["x-request-id"]
    second = client.get("/claims", headers=headers).headers["x-request-id"]
    assert GENERATED_REQUEST_ID.fullmatch(first)
    assert GENERATED_REQUEST_ID.fullmatch(second)
    assert first != second


# --- Access log -----------------------------------------------------------------------


def test_one_json_access_line_per_request_with_its_request_id(
    client: TestClient, auth: dict[str, str]
) -> None:
    with captured("claims_api.access") as log:
        answers = [
            client.get("/claims", headers={"X-Request-ID": "req-list"}),
            client.post("/claims", headers=auth, json={"text": "Insurgents entered Hama."}),
            client.get("/claims/999999"),
            client.get("/claims", params={"limit": 0}),
            client.delete("/claims/1"),
        ]
    assert [r.status_code for r in answers] == [200, 201, 404, 422, 401]
    entries = [json.loads(line) for line in log.lines]
    fields = ("logger", "level", "message", "request_id", "method", "path", "status")
    assert [{k: entry[k] for k in fields} for entry in entries] == [
        {
            "logger": "claims_api.access",
            "level": "info",
            "message": "request",
            "request_id": response.headers["x-request-id"],
            "method": method,
            "path": path,
            "status": response.status_code,
        }
        for response, (method, path) in zip(
            answers,
            [
                ("GET", "/claims"),
                ("POST", "/claims"),
                ("GET", "/claims/999999"),
                ("GET", "/claims"),
                ("DELETE", "/claims/1"),
            ],
            strict=True,
        )
    ]
    assert entries[0]["request_id"] == "req-list"
    assert all(isinstance(entry["duration_ms"], float) for entry in entries)
    assert all("\n" not in line for line in log.lines)


def test_an_api_key_never_appears_in_any_log_record(app: FastAPI, client: TestClient) -> None:
    write_key = create_key(engine=app.state.engine, scope=Scope.write)
    read_key = create_key(engine=app.state.engine, scope=Scope.read)
    revoked_key = create_key(engine=app.state.engine, scope=Scope.write)
    unknown_key = "ck_" + "A" * 43
    client.post("/claims", headers={"Authorization": f"Bearer {write_key}"}, json={"text": "x"})
    revoke_key(engine=app.state.engine, key_or_prefix=revoked_key)
    with captured("", "claims_api", "uvicorn", "sqlalchemy") as log:
        statuses = [
            client.post(
                "/claims", headers={"Authorization": f"Bearer {key}"}, json={"text": "x"}
            ).status_code
            for key in (write_key, read_key, revoked_key, unknown_key)
        ]
        statuses.append(
            client.post(
                "/claims", headers={"Authorization": f"Basic {write_key}"}, json={"text": "x"}
            ).status_code
        )
        statuses.append(
            client.post(
                "/claims", headers={"Authorization": write_key}, json={"text": "x"}
            ).status_code
        )
    assert statuses == [201, 403, 401, 401, 401, 401]
    assert len(log.records) >= len(statuses)
    everything = "\n".join(log.lines) + "\n".join(repr(vars(r)) for r in log.records)
    for key in (write_key, read_key, revoked_key, unknown_key):
        assert key not in everything
        assert key[len("ck_") :] not in everything


# --- Security headers -------------------------------------------------------------------


def test_security_headers_on_every_kind_of_answer(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    too_large = b'{"text": "' + b"x" * settings.max_body_bytes + b'"}'
    answers = {
        200: client.get("/claims"),
        201: client.post("/claims", headers=auth, json={"text": "Insurgents entered Hama."}),
        401: client.post("/claims", json={"text": "Insurgents entered Hama."}),
        404: client.get("/claims/999999"),
        405: client.put("/claims"),
        413: client.post(
            "/claims",
            headers={**auth, "Content-Type": "application/json"},
            content=too_large,
        ),
        422: client.get("/claims", params={"limit": 1000}),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert {k: response.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
        assert GENERATED_REQUEST_ID.fullmatch(response.headers["x-request-id"])
        expected_type = "application/json" if status < 400 else "application/problem+json"
        assert response.headers["content-type"] == expected_type
    assert type_title_status(answers[413].json()) == (
        "/problems/payload-too-large",
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE.phrase,
        413,
    )
    # RFC 9110: a 405 names every method the resource takes.
    assert answers[405].headers["allow"] == "GET, POST"
    assert client.request("OPTIONS", "/claims/1").headers["allow"] == "DELETE, GET, PATCH"


# --- CORS ---------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str) -> httpx.Response:
    return client.options(
        "/claims",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = preflight(client, DESK)
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-methods" not in response.headers
    simple = client.get("/claims", headers={"Origin": DESK})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


def test_cors_allows_the_listed_origin_only(database_url: str) -> None:
    with running(Settings(database_url=database_url, cors_origins=[DESK])) as (_, client):
        allowed = preflight(client, DESK)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == DESK
        assert allowed.headers["access-control-allow-methods"] == "GET, POST, PATCH, PUT, DELETE"
        assert allowed.headers["access-control-max-age"] == "600"
        assert "access-control-allow-credentials" not in allowed.headers

        refused = preflight(client, "https://evil.example")
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        simple = client.get("/claims", headers={"Origin": DESK})
        assert simple.status_code == 200
        assert simple.headers["access-control-allow-origin"] == DESK
        exposed = {h.strip() for h in simple.headers["access-control-expose-headers"].split(",")}
        assert {"X-Request-ID", "RateLimit", "Retry-After", "Link", "Location"} <= exposed

        foreign = client.get("/claims", headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 200
        assert "access-control-allow-origin" not in foreign.headers
        assert foreign.headers["x-frame-options"] == "DENY"


# --- Rate limits ---------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rate limiter's clock, frozen; tests move it by hand."""
    now = [1000.0]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_rate_limit_headers_then_429_with_retry_after(
    database_url: str, clock: list[float]
) -> None:
    with running(Settings(database_url=database_url, rate_limit_per_minute=5)) as (app, client):
        key = {"Authorization": f"Bearer {create_key(engine=app.state.engine, scope=Scope.read)}"}
        answers = [client.get("/claims", headers=key) for _ in range(6)]
        assert [r.status_code for r in answers] == [200, 200, 200, 200, 200, 429]
        assert [r.headers["ratelimit-policy"] for r in answers] == ['"default";q=5;w=60'] * 6
        assert [r.headers["ratelimit"] for r in answers] == [
            '"default";r=4;t=12',
            '"default";r=3;t=24',
            '"default";r=2;t=36',
            '"default";r=1;t=48',
            '"default";r=0;t=60',
            '"default";r=0;t=12',
        ]
        limited = answers[5]
        assert limited.headers["retry-after"] == "12"
        assert problem(limited, 429) == {
            "type": "/problems/rate-limited",
            "title": "Too Many Requests",
            "status": 429,
            "detail": "Too many requests: the limit is 5 per 60 s. Retry after 12 s.",
        }
        assert limited.headers["x-frame-options"] == "DENY"
        assert GENERATED_REQUEST_ID.fullmatch(limited.headers["x-request-id"])

        # One token comes back every 12 s.
        clock[0] += 12
        assert client.get("/claims", headers=key).status_code == 200
        assert client.get("/claims", headers=key).status_code == 429


def test_each_key_and_each_client_has_its_own_bucket(database_url: str, clock: list[float]) -> None:
    with running(Settings(database_url=database_url, rate_limit_per_minute=5)) as (app, client):
        first, second = (
            {"Authorization": f"Bearer {create_key(engine=app.state.engine, scope=Scope.write)}"}
            for _ in range(2)
        )
        assert [client.get("/claims", headers=first).status_code for _ in range(6)] == [
            200,
            200,
            200,
            200,
            200,
            429,
        ]
        other = client.post("/claims", headers=second, json={"text": "Insurgents entered Hama."})
        assert other.status_code == 201
        assert other.headers["ratelimit"] == '"default";r=4;t=12'
        anonymous = client.get("/claims")
        assert anonymous.status_code == 200
        assert anonymous.headers["ratelimit"] == '"default";r=4;t=12'
        assert client.post("/claims", headers=first, json={"text": "x"}).status_code == 429


def test_made_up_keys_share_their_client_address_bucket(
    database_url: str, clock: list[float]
) -> None:
    """Issue 13, hole 4: each made-up key used to get a bucket of its own, which escaped the
    limit. Requests whose key is not valid are limited by client address."""
    with running(Settings(database_url=database_url, rate_limit_per_minute=5)) as (_, client):
        statuses = [
            client.get("/claims", headers={"Authorization": f"Bearer ck_made_up_{n}"}).status_code
            for n in range(6)
        ]
        assert statuses == [401, 401, 401, 401, 401, 429]
        assert client.get("/claims").status_code == 429


def test_health_probes_are_exempt_from_the_rate_limit(
    database_url: str, clock: list[float]
) -> None:
    with running(Settings(database_url=database_url, rate_limit_per_minute=5)) as (_, client):
        for path in ("/healthz", "/readyz"):
            answers = [client.get(path) for _ in range(12)]
            assert [r.status_code for r in answers] == [200] * 12
            assert all("ratelimit" not in r.headers for r in answers)
        assert client.get("/claims").headers["ratelimit"] == '"default";r=4;t=12'


# --- Readiness ------------------------------------------------------------------------------


def test_readyz_is_200_at_the_head_migration(app: FastAPI, client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": app.state.engine.dialect.name,
        "migration": app.state.migration_head,
    }
    assert client.get("/healthz").json() == {
        "status": "ok",
        "database": app.state.engine.dialect.name,
    }


def test_readyz_is_503_after_a_downgrade(app: FastAPI, client: TestClient) -> None:
    downgrade(app.state.engine, "base")
    response = client.get("/readyz")
    assert problem(response, 503) == {
        "type": "/problems/service-unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": f"The database schema is at None, the code needs {app.state.migration_head}; "
        "run `claims-api migrate`.",
        "instance": "/readyz",
    }
    assert client.get("/healthz").status_code == 200


def test_readyz_is_503_when_the_recorded_migration_is_not_the_head(
    app: FastAPI, client: TestClient
) -> None:
    with app.state.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0000_elsewhere'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"] == (
        f"The database schema is at 0000_elsewhere, the code needs {app.state.migration_head}; "
        "run `claims-api migrate`."
    )


def test_readyz_is_503_on_a_database_never_migrated(app: FastAPI, client: TestClient) -> None:
    with app.state.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert type_title_status(response.json()) == (
        "/problems/service-unavailable",
        "Service Unavailable",
        503,
    )


# --- Keys -----------------------------------------------------------------------------------


def test_last_used_at_is_set_by_a_write_with_the_key(app: FastAPI, client: TestClient) -> None:
    key = create_key(engine=app.state.engine, scope=Scope.write, name="desk")
    [stored] = [k for k in list_keys(engine=app.state.engine) if k.name == "desk"]
    assert stored.last_used_at is None
    before = utcnow()
    response = client.post(
        "/claims", headers={"Authorization": f"Bearer {key}"}, json={"text": "Hama."}
    )
    after = utcnow()
    assert response.status_code == 201
    [stored] = [k for k in list_keys(engine=app.state.engine) if k.name == "desk"]
    assert stored.last_used_at is not None
    assert before - timedelta(seconds=1) <= stored.last_used_at <= after + timedelta(seconds=1)


def test_keys_revoke_makes_the_key_401_and_keys_list_never_shows_a_key(
    app: FastAPI, client: TestClient, database_url: str, tmp_path: Path
) -> None:
    kept = create_key(engine=app.state.engine, scope=Scope.write, name="kept")
    doomed = create_key(engine=app.state.engine, scope=Scope.write, name="doomed")
    body = {"text": "Insurgents entered Hama."}
    assert (
        client.post("/claims", headers={"Authorization": f"Bearer {doomed}"}, json=body).status_code
        == 201
    )

    [doomed_id] = [k.id for k in list_keys(engine=app.state.engine) if k.name == "doomed"]
    revoked = cli(database_url, tmp_path, "keys", "revoke", str(doomed_id))
    assert (revoked.returncode, revoked.stdout) == (0, "revoked 1 key(s)\n")

    refused = client.post("/claims", headers={"Authorization": f"Bearer {doomed}"}, json=body)
    assert problem(refused, 401) == {
        "type": "/problems/unauthorized",
        "title": "Unauthorized",
        "status": 401,
        "detail": "The API key is unknown or revoked.",
        "instance": "/claims",
    }
    assert (
        client.post("/claims", headers={"Authorization": f"Bearer {kept}"}, json=body).status_code
        == 201
    )

    # The prefix `keys list` shows is accepted too; the key is already revoked.
    again = cli(database_url, tmp_path, "keys", "revoke", doomed[:10])
    assert (again.returncode, again.stdout, again.stderr) == (
        2,
        "",
        f"Error: no active key has ID or prefix '{doomed[:10]}'\n",
    )

    listed = cli(database_url, tmp_path, "keys", "list")
    assert listed.returncode == 0
    header, *lines = listed.stdout.splitlines()
    assert header.split() == [
        "ID",
        "PREFIX",
        "SCOPE",
        "NAME",
        "CREATED_AT",
        "LAST_USED_AT",
        "REVOKED_AT",
    ]
    rows = [line.split() for line in lines]
    stored = {k.name: k for k in list_keys(engine=app.state.engine)}
    assert [row[:4] for row in rows] == [
        [str(stored["kept"].id), kept[:10], "write", "kept"],
        [str(doomed_id), doomed[:10], "write", "doomed"],
    ]
    # Times as the API writes them: RFC 3339 in UTC with a Z; "-" for never.
    rfc3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
    assert [(bool(rfc3339.fullmatch(r[4])), bool(rfc3339.fullmatch(r[5]))) for r in rows] == [
        (True, True),
        (True, True),
    ]
    assert rows[0][6] == "-"
    assert rfc3339.fullmatch(rows[1][6])
    for key in (kept, doomed):
        assert key not in listed.stdout + listed.stderr
        assert key[10:] not in listed.stdout + listed.stderr


# --- Consistency check ------------------------------------------------------------------------


def test_check_finds_and_repairs_a_corrupted_claim(
    app: FastAPI, client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    rebels = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition")
    state = make_source(client, auth, "SANA", "state_media", "Syrian government")
    claim = make_claim(client, auth, "Insurgents entered Hama.")
    other = make_claim(client, auth, "Clashes in eastern Hama.")
    add_stance(client, auth, claim["id"], rebels["id"], "asserts")
    denial = add_stance(client, auth, claim["id"], state["id"], "denies")
    add_stance(client, auth, other["id"], state["id"], "asserts")

    clean = cli(database_url, tmp_path, "check")
    assert (clean.returncode, clean.stdout) == (0, "0 mismatch(es) found\n")

    with app.state.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE claim SET status = 'corroborated', asserting_sources = 5, "
                "denying_sources = 0 WHERE id = :id"
            ),
            {"id": int(claim["id"])},
        )
        conn.execute(
            sa.text("UPDATE stance SET is_current = :flag WHERE id = :id"),
            {"flag": False, "id": int(denial["id"])},
        )
    corrupted = client.get(f"/claims/{claim['id']}").json()
    assert (corrupted["status"], corrupted["asserting_sources"]) == ("corroborated", 5)

    found = cli(database_url, tmp_path, "check")
    assert found.returncode == 1
    assert found.stdout == (
        f"claim {claim['id']}: stored (status, asserting, denying) ('corroborated', 5, 0), "
        "expected ('disputed', 1, 1); 1 stance(s) with a wrong `current` flag\n"
        "1 mismatch(es) found\n"
    )

    repaired = cli(database_url, tmp_path, "check", "--repair")
    assert repaired.returncode == 0
    assert repaired.stdout.splitlines()[-1] == "0 mismatch(es) remain"

    after = cli(database_url, tmp_path, "check")
    assert (after.returncode, after.stdout) == (0, "0 mismatch(es) found\n")

    body = client.get(f"/claims/{claim['id']}").json()
    assert (body["status"], body["asserting_sources"], body["denying_sources"]) == (
        "disputed",
        1,
        1,
    )
    assert {(s["source_id"], s["stance"], s["current"]) for s in body["stances"]} == {
        (rebels["id"], "asserts", True),
        (state["id"], "denies", True),
    }
    assert datetime.fromisoformat(body["updated_at"]) >= datetime.fromisoformat(
        corrupted["updated_at"]
    )
    untouched = client.get(f"/claims/{other['id']}").json()
    assert (untouched["status"], untouched["asserting_sources"]) == ("asserted", 1)


def test_check_finds_and_repairs_a_stale_search_column(
    app: FastAPI, client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    wire = make_source(client, auth, "Wire agency", "news_agency")
    report = client.post(
        "/reports",
        headers=auth,
        json={"url": "https://example.com/madiq", "title": "Insurgents overrun Qalaat al-Madiq"},
    ).json()
    tampered = make_claim(client, auth, "Insurgents entered Hama.")
    citing = make_claim(client, auth, "A fortress fell.")
    untouched = make_claim(client, auth, "Clashes in eastern Hama.")
    add_stance(client, auth, tampered["id"], wire["id"], "asserts", quote="They breached it.")
    add_stance(client, auth, citing["id"], wire["id"], "asserts", report_id=report["id"])
    assert cli(database_url, tmp_path, "check").stdout == "0 mismatch(es) found\n"

    with app.state.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE claim SET search_text = 'nothing' WHERE id = :id"),
            {"id": int(tampered["id"])},
        )
        # A title changed behind the service's back: the citing claim's column is stale.
        conn.execute(
            sa.text("UPDATE report SET title = 'Latamneh taken' WHERE id = :id"),
            {"id": int(report["id"])},
        )
    assert ids(client.get("/claims", params={"q": "breached"}).json()) == []
    assert ids(client.get("/claims", params={"q": "latamneh"}).json()) == []

    found = cli(database_url, tmp_path, "check")
    assert found.returncode == 1
    wrong = "search column differs from its text, quotes and cited reports' titles"
    assert found.stdout == (
        f"claim {tampered['id']}: {wrong}\nclaim {citing['id']}: {wrong}\n2 mismatch(es) found\n"
    )
    repaired = cli(database_url, tmp_path, "check", "--repair")
    assert repaired.returncode == 0
    assert repaired.stdout.splitlines()[-1] == "0 mismatch(es) remain"
    assert cli(database_url, tmp_path, "check").stdout == "0 mismatch(es) found\n"

    assert ids(client.get("/claims", params={"q": "breached hama"}).json()) == [tampered["id"]]
    assert ids(client.get("/claims", params={"q": "latamneh"}).json()) == [citing["id"]]
    assert ids(client.get("/claims", params={"q": "madiq"}).json()) == []
    assert ids(client.get("/claims", params={"q": "eastern"}).json()) == [untouched["id"]]
