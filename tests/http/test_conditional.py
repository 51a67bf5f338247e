"""ETag, If-None-Match and If-Match (RFC 9110), through HTTP, on SQLite and PostgreSQL."""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import write_engine
from tests.helpers import add_stance, make_claim, make_source

STRONG_ETAG = re.compile(r'^"[0-9a-f]{32}"$')
WAIT = 20.0  # seconds a wait may take before the test fails


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Webhook subscriptions to a local URL, as an operator with an internal receiver allows.
    return Settings(
        database_url=database_url, webhook_allow_private_urls=True, webhook_allow_http=True
    )


@dataclass
class Resource:
    url: str
    change: dict[str, Any]  # a PATCH body that changes it
    deletable: bool = True


def _claim(client: TestClient, auth: dict[str, str]) -> Resource:
    claim = make_claim(client, auth)
    return Resource(f"/claims/{claim['id']}", {"place": "Hama"})


def _source(client: TestClient, auth: dict[str, str]) -> Resource:
    source = make_source(client, auth, "Syrian state media", "state_media")
    return Resource(f"/sources/{source['id']}", {"description": "SANA and state TV"})


def _webhook(client: TestClient, auth: dict[str, str]) -> Resource:
    subscription = {"url": "http://127.0.0.1:9/hook", "events": ["claim.created"]}
    answer = client.post("/webhooks", headers=auth, json=subscription)
    assert answer.status_code == 201, answer.text
    return Resource(f"/webhooks/{answer.json()['id']}", {"description": "newsroom desk"})


def _stance(client: TestClient, auth: dict[str, str]) -> Resource:
    claim = make_claim(client, auth)
    source = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group")
    stance = add_stance(client, auth, claim["id"], source["id"], "asserts")
    return Resource(f"/claims/{claim['id']}/stances/{stance['id']}", {}, deletable=False)


MAKERS: dict[str, Callable[[TestClient, dict[str, str]], Resource]] = {
    "claim": _claim,
    "source": _source,
    "webhook": _webhook,
    "stance": _stance,
}
WRITABLE = ["claim", "source", "webhook"]


@pytest.fixture
def make(
    client: TestClient, admin: dict[str, str]
) -> Callable[[str], tuple[Resource, dict[str, str]]]:
    """A resource of the kind asked for, and headers with a key that may change it.
    Webhooks are for admin keys only, even to read: the client sends one every time."""
    client.headers.update(admin)

    def build(kind: str) -> tuple[Resource, dict[str, str]]:
        return MAKERS[kind](client, admin), admin

    return build


@pytest.fixture(params=WRITABLE)
def writable(
    request: pytest.FixtureRequest, make: Callable[[str], tuple[Resource, dict[str, str]]]
) -> tuple[Resource, dict[str, str]]:
    """Each kind a PATCH may change, in turn (the ids name the kind), with its key."""
    return make(request.param)


def _etag(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    etag = answer.headers["ETag"]
    assert STRONG_ETAG.match(etag)
    return etag


@pytest.mark.parametrize("kind", list(MAKERS))
def test_a_read_carries_a_strong_etag_and_a_matching_if_none_match_is_304(
    client: TestClient, make: Callable[[str], tuple[Resource, dict[str, str]]], kind: str
) -> None:
    resource, _ = make(kind)
    etag = _etag(client.get(resource.url))
    assert _etag(client.get(resource.url)) == etag

    for if_none_match in (etag, f"W/{etag}", f'"0123", {etag}', "*"):
        answer = client.get(resource.url, headers={"If-None-Match": if_none_match})
        assert answer.status_code == 304, if_none_match
        assert answer.content == b""
        assert answer.headers["ETag"] == etag
    for stale in ('"0123"', f'"{etag[1:-1].upper()}"', "garbage"):
        answer = client.get(resource.url, headers={"If-None-Match": stale})
        assert (answer.status_code, answer.headers["ETag"]) == (200, etag)


def test_the_claim_etag_follows_its_stances_and_embedded_sources(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth)
    source = make_source(client, auth, "Syrian state media", "state_media")
    url = f"/claims/{claim['id']}"
    before = _etag(client.get(url))

    add_stance(client, auth, claim["id"], source["id"], "denies")
    with_stance = _etag(client.get(url, headers={"If-None-Match": before}))
    # A rename shows in the embedded source without moving the claim's updated_at.
    client.patch(f"/sources/{source['id']}", headers=auth, json={"name": "SANA"})
    renamed = _etag(client.get(url, headers={"If-None-Match": with_stance}))
    assert len({before, with_stance, renamed}) == 3


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(
    client: TestClient, writable: tuple[Resource, dict[str, str]]
) -> None:
    resource, auth = writable
    before = client.get(resource.url)
    for stale in ('"0123"', f"W/{before.headers['ETag']}", '"a", "b"'):
        answer = client.patch(
            resource.url, headers={**auth, "If-Match": stale}, json=resource.change
        )
        assert answer.status_code == 412, stale
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["type"] == "/problems/precondition-failed"
    assert client.get(resource.url).content == before.content


def test_patch_with_a_fresh_if_match_succeeds_and_returns_the_new_etag(
    client: TestClient, writable: tuple[Resource, dict[str, str]]
) -> None:
    resource, auth = writable
    etag = _etag(client.get(resource.url))
    answer = client.patch(
        resource.url, headers={**auth, "If-Match": f'"0123", {etag}'}, json=resource.change
    )
    new_etag = _etag(answer)
    assert new_etag != etag
    assert _etag(client.get(resource.url)) == new_etag
    # The old ETag is stale now; `*` only asks that the resource exist.
    stale = client.patch(resource.url, headers={**auth, "If-Match": etag}, json=resource.change)
    assert stale.status_code == 412
    assert client.patch(resource.url, headers={**auth, "If-Match": "*"}, json={}).status_code == 200


def test_delete_with_if_match(
    client: TestClient, writable: tuple[Resource, dict[str, str]]
) -> None:
    resource, auth = writable
    etag = _etag(client.get(resource.url))
    client.patch(resource.url, headers=auth, json=resource.change)

    stale = client.delete(resource.url, headers={**auth, "If-Match": etag})
    assert stale.status_code == 412
    assert client.get(resource.url).status_code == 200

    fresh = _etag(client.get(resource.url))
    assert client.delete(resource.url, headers={**auth, "If-Match": fresh}).status_code == 204
    assert client.get(resource.url).status_code == 404


def test_if_match_on_an_unknown_id_is_404_and_without_a_key_401(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth)
    missing = client.patch("/claims/999", headers={**auth, "If-Match": "*"}, json={"place": "x"})
    assert missing.status_code == 404
    anonymous = client.patch(
        f"/claims/{claim['id']}", headers={"If-Match": '"0123"'}, json={"place": "x"}
    )
    assert anonymous.status_code == 401


def _wait_until_blocked_on_a_lock(engine: sa.Engine) -> None:
    """PostgreSQL shows a waiting backend; SQLite cannot, so there a short pause must do."""
    if engine.dialect.name == "sqlite":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + WAIT
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one() == 1:
                return
        time.sleep(0.02)
    pytest.fail("the PATCH never waited for the row lock")


def test_a_change_committed_while_the_patch_waits_makes_it_412(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    """The check runs after the row lock is taken, in the write's own transaction: a change
    that commits while the conditional PATCH waits for the lock is seen, not overwritten."""
    engine: sa.Engine = app.state.engine
    claim = make_claim(client, auth)
    url = f"/claims/{claim['id']}"
    etag = _etag(client.get(url))
    answers: list[httpx.Response] = []

    # Another editor's transaction holds the row (PostgreSQL) or the write lock (SQLite).
    with write_engine(engine).connect() as other_writer:
        transaction = other_writer.begin()
        other_writer.execute(
            sa.text("UPDATE claim SET text = 'Changed by another editor.' WHERE id = :id"),
            {"id": int(claim["id"])},
        )
        patch = threading.Thread(
            target=lambda: answers.append(
                client.patch(url, headers={**auth, "If-Match": etag}, json={"place": "Homs"})
            )
        )
        patch.start()
        _wait_until_blocked_on_a_lock(engine)
        transaction.commit()
    patch.join(WAIT)

    assert [a.status_code for a in answers] == [412]
    now = client.get(url).json()
    assert (now["text"], now["place"]) == ("Changed by another editor.", None)


def test_openapi_declares_the_conditional_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    reads = ["/claims/{claim_id}", "/claims/{claim_id}/stances/{stance_id}"]
    reads += ["/sources/{source_id}", "/webhooks/{webhook_id}"]
    for path in reads:
        operation = paths[path]["get"]
        assert "304" in operation["responses"]
        assert "ETag" in operation["responses"]["200"]["headers"]
        assert "If-None-Match" in {p["name"] for p in operation["parameters"]}
    for path in ["/claims/{claim_id}", "/sources/{source_id}", "/webhooks/{webhook_id}"]:
        for method in ("patch", "delete"):
            operation = paths[path][method]
            assert "412" in operation["responses"], (path, method)
            assert "If-Match" in {p["name"] for p in operation["parameters"]}
        assert "ETag" in paths[path]["patch"]["responses"]["200"]["headers"]
