"""Hostile input: each request gets a clear 4xx problem+json (never a 500), and the data is
exactly what it was before (a dump of every table, compared before and after).

SQL and script fragments where a value is expected are only data: a query finds nothing, a
path names nothing, and stored text comes back byte for byte, never executed.
"""

import base64
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.http.context import SECURITY_HEADERS
from tests.helpers import make_claim, make_source
from tests.state import dump

PROBLEM = "application/problem+json"
SQL = "'; DROP TABLE claim; --"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, rate_limit_per_minute=0, max_body_bytes=200_000)


def cursor_of(value: Any) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def hostile_requests(claim: str, source: str) -> dict[str, tuple[str, str, dict[str, Any], int]]:
    """name -> (method, url, request kwargs, expected status)."""
    json_headers = {"Content-Type": "application/json"}
    deep = "[" * 50_000 + "]" * 50_000
    return {
        "invalid utf-8 body": (
            "POST",
            "/claims",
            {"content": b'{"text": "\xff\xfe\xfd"}', "headers": json_headers},
            400,
        ),
        "not json at all": ("POST", "/claims", {"content": b"{text", "headers": json_headers}, 422),
        "deeply nested json": (
            "POST",
            "/claims",
            {"content": ('{"text": ' + deep + "}").encode(), "headers": json_headers},
            400,
        ),
        "deeply nested tags": (
            "POST",
            "/claims",
            {"json": {"text": "x", "tags": [[[[[[["a"]]]]]]]}},
            422,
        ),
        "wrong content-type": (
            "POST",
            "/claims",
            {"content": b'{"text": "x"}', "headers": {"Content-Type": "text/plain"}},
            415,
        ),
        "form instead of json": ("POST", "/claims", {"data": {"text": "x"}}, 415),
        "NUL in body string": ("POST", "/claims", {"json": {"text": "a\x00b"}}, 422),
        "NUL in a tag": ("POST", "/claims", {"json": {"text": "x", "tags": ["a\x00"]}}, 422),
        "NUL in query": ("GET", "/claims?q=a%00b", {}, 422),
        "NUL in a repeated filter": ("GET", "/claims?tag=a%00", {}, 422),
        "NUL in path": ("GET", "/claims/1%00", {}, 404),
        "NUL in cursor": ("GET", "/claims?cursor=%00", {}, 422),
        "huge number as text": (
            "POST",
            "/claims",
            {"content": b'{"text": 1e999}', "headers": json_headers},
            422,
        ),
        "huge integer id": ("GET", "/claims/" + "9" * 400, {}, 404),
        "huge limit": ("GET", "/claims?limit=" + "9" * 400, {}, 422),
        "limit over the maximum": ("GET", "/claims?limit=101", {}, 422),
        "number as a date-time": (
            "POST",
            f"/claims/{claim}/stances",
            {"json": {"source_id": source, "stance": "asserts", "stated_at": 1e20}},
            422,
        ),
        "forged cursor: random": ("GET", "/claims?cursor=" + "A" * 100, {}, 422),
        "forged cursor: wrong sort": (
            "GET",
            "/claims?cursor=" + cursor_of(["name", "x", 1]),
            {},
            422,
        ),
        "forged cursor: SQL in the value": (
            "GET",
            "/claims?cursor=" + cursor_of(["-updated_at", SQL, 1]),
            {},
            422,
        ),
        "forged cursor: negative id": (
            "GET",
            "/claims?cursor=" + cursor_of(["-updated_at", "2024-12-05T08:00:00+00:00", -1]),
            {},
            422,
        ),
        "forged cursor: huge id": (
            "GET",
            "/claims?cursor=" + cursor_of(["-updated_at", "2024-12-05T08:00:00+00:00", 2**70]),
            {},
            422,
        ),
        "cursor too long": ("GET", "/claims?cursor=" + "A" * 600, {}, 422),
        "21 repeated filters": ("GET", "/claims?" + "&".join(["tag=a"] * 21), {}, 422),
        "21 tags": (
            "POST",
            "/claims",
            {"json": {"text": "x", "tags": list("abcdefghijklmnopqrstu")}},
            422,
        ),
        "no content-type": ("POST", "/claims", {"content": b'{"text": "x"}'}, 415),
        "text too long": ("POST", "/claims", {"json": {"text": "x" * 2001}}, 422),
        "tag too long": ("POST", "/claims", {"json": {"text": "x", "tags": ["t" * 65]}}, 422),
        "query too long": ("GET", "/claims?q=" + "q" * 201, {}, 422),
        "body over the limit": ("POST", "/claims", {"json": {"text": "x" * 300_000}}, 413),
        "read-only field": (
            "POST",
            "/claims",
            {"json": {"text": "x", "status": "corroborated", "asserting_sources": 9}},
            422,
        ),
        "SQL in an enum filter": ("GET", "/claims?status=" + SQL, {}, 422),
        "SQL in the sort": ("GET", "/claims?sort=" + SQL, {}, 422),
        "SQL in a path id": ("GET", "/claims/1%20OR%201=1", {}, 404),
        "script in a path id": ("GET", f"/sources/{SCRIPT}", {}, 404),
        "SQL as a source id": (
            "POST",
            f"/claims/{claim}/stances",
            {"json": {"source_id": SQL, "stance": "asserts"}},
            422,
        ),
        "script in a URL field": (
            "POST",
            "/sources",
            {"json": {"name": "n", "kind": "monitor", "url": "javascript:alert(1)"}},
            422,
        ),
        "PATCH with null for a required field": (
            "PATCH",
            f"/claims/{claim}",
            {"json": {"text": None}},
            422,
        ),
        "wrong method": ("PUT", "/claims", {"json": {"text": "x"}}, 405),
    }


def test_hostile_requests_get_a_clear_4xx_and_change_nothing(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth)["id"]
    source = make_source(client, auth, "State media", kind="state_media")["id"]
    before = dump(app.state.engine)
    answers = {}
    for name, (method, url, kwargs, _expected) in hostile_requests(claim, source).items():
        headers = {**auth, **kwargs.pop("headers", {})}
        response = client.request(method, url, headers=headers, **kwargs)
        answers[name] = response.status_code
        assert response.headers["content-type"] == PROBLEM, (name, response.text[:200])
        body = response.json()
        assert body["status"] == response.status_code, name
        assert body["type"].startswith("/problems/"), name
        assert len(response.content) < 5000, name  # a clear answer, not an echo of the input
        assert {k: response.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
    expected = {name: spec[3] for name, spec in hostile_requests(claim, source).items()}
    assert answers == expected
    assert dump(app.state.engine) == before


def test_sql_and_script_fragments_are_only_data(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    for fragment in (SQL, SCRIPT, "1 OR 1=1", "%' OR '%'='", "\\x00\\"):
        assert client.get("/claims", params={"q": fragment}).json()["items"] == []
        assert client.get("/claims", params={"tag": fragment}).json()["items"] == []
        assert client.get("/sources", params={"q": fragment}).json()["items"] == []
    text = f"{SQL} {SCRIPT} \u202e\u200b \U0001d54f عربي"
    created = make_claim(client, auth, text, tags=[SQL, SCRIPT], place=SCRIPT)
    fetched = client.get(f"/claims/{created['id']}")
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.json()["text"] == text
    assert fetched.json()["tags"] == [SQL, SCRIPT]
    assert client.get("/claims", params={"tag": SQL}).json()["items"][0]["id"] == created["id"]
    # Nothing was dropped or rewritten on the way.
    assert client.get("/claims").json()["items"][0]["text"] == text
    counts = {name: len(rows) for name, rows in dump(app.state.engine).items()}
    assert (counts["claim"], counts["claim_tag"]) == (1, 2)


def test_urls_outside_ascii_and_ipv6_literals_are_still_accepted(
    client: TestClient, auth: dict[str, str]
) -> None:
    """The URL pattern refuses whitespace, control characters and user:password@, not the
    Arabic paths and IPv6 hosts that real sources use."""
    for n, url in enumerate(["https://ar.wikipedia.org/wiki/حماة", "http://[2001:db8::1]:8080/x"]):
        created = make_source(client, auth, f"Source {n}", url=url)
        assert created["url"] == url
    for url in ("https://user:pw@example.org/", "https://example.org/a b", "ftp://example.org/"):
        body = {"name": url, "kind": "monitor", "url": url}
        refused = client.post("/sources", headers=auth, json=body)
        assert refused.status_code == 422, url
