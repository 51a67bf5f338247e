"""Webhooks, end to end, on SQLite and PostgreSQL, against a real HTTP receiver.

The receiver is http.server in a thread on 127.0.0.1 (so these tests allow private URLs
and plain http, as an operator with an internal receiver would). Signatures are checked
with the `standardwebhooks` package, an implementation independent of ours. The sender is
driven pass by pass (`Sender.run_once`) where a test needs determinism, in two threads at
once for the double-send test, inside the app's lifespan, and as `claims-api worker` and
`claims-api serve` subprocesses, one of which is SIGKILLed mid-flight.

Every wait is bounded in time, and all traffic stays on 127.0.0.1.
"""

import base64
import json
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from standardwebhooks import Webhook as StandardWebhook

from app.core.auth import Scope, create_key
from app.core.config import Settings
from app.core.db import make_engine
from app.events.models import Event
from app.main import create_app
from app.ops.migrate import downgrade, upgrade
from app.webhooks import queue, ssrf
from app.webhooks.models import WebhookDelivery
from app.webhooks.queue import filter_matches, parse_retry_after, retry_delay
from app.webhooks.sender import Sender
from tests.helpers import add_stance, make_claim, make_source, schema_drift
from tests.server import claims_api, free_port, service_env

HOST = "127.0.0.1"
WAIT = 20.0  # seconds any single wait may take before the test fails
ALL_EVENTS = [
    "claim.created",
    "claim.updated",
    "claim.deleted",
    "claim.status_changed",
    "stance.created",
    "verdict.published",
]
# What an operator with a receiver on its own network sets, plus short test timings.
RECEIVER_SETTINGS: dict[str, Any] = {
    "webhook_allow_private_urls": True,
    "webhook_allow_http": True,
    "webhook_retry_schedule": [0.1] * 9,
    "webhook_timeout_seconds": 5.0,
    "webhook_lease_seconds": 10.0,
    "webhook_poll_seconds": 0.05,
    "webhook_concurrency": 1,
    "rate_limit_per_minute": 0,
}


# --- the receiver -------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers as `plan` says."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.plan: Callable[[int], Reply] = lambda _n: Reply()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    number = len(receiver.received)
                    receiver.received.append(Received(headers, body))
                reply = receiver.plan(number)
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, *_args: Any) -> None:
                pass  # a sender killed mid-request leaves a broken pipe: expected here

        self.server = Server((HOST, 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/hooks"

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(received := self.snapshot()) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"the receiver got {len(received)} of {count} requests in {timeout} s")
            time.sleep(0.02)
        return received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, **RECEIVER_SETTINGS)


def make_webhook(
    client: TestClient,
    admin: dict[str, str],
    url: str,
    events: list[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        "/webhooks", headers=admin, json={"url": url, "events": events or ALL_EVENTS, **fields}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def drain(sender: Sender, until: Callable[[], bool], timeout: float = WAIT) -> None:
    """Run sender passes until `until()` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            pytest.fail(f"the condition did not hold within {timeout} s")
        if sender.run_once() == 0:
            time.sleep(0.02)


def deliveries(client: TestClient, admin: dict[str, str], webhook_id: str) -> list[Any]:
    response = client.get(f"/webhooks/{webhook_id}/deliveries?limit=100", headers=admin)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def state(client: TestClient, admin: dict[str, str], webhook_id: str) -> dict[str, Any]:
    """The subscription's one delivery ({} before the event is fanned out)."""
    listed = deliveries(client, admin, webhook_id)
    assert len(listed) <= 1
    return dict(listed[0]) if listed else {}


def verify(secret: str, request: Received) -> dict[str, Any]:
    """The standardwebhooks package's check: signature, and a timestamp within 5 minutes."""
    return dict(StandardWebhook(secret).verify(request.body, request.headers))


@dataclass
class Hooks:
    """The webhook side of an end-to-end test: subscriptions for the receiver, made and read
    with the admin key, and the app's sender, run pass by pass."""

    app: FastAPI
    client: TestClient
    admin: dict[str, str]
    receiver: Receiver
    sender: Sender

    def subscribe(self, events: list[str] | None = None, **fields: Any) -> dict[str, Any]:
        return make_webhook(self.client, self.admin, self.receiver.url, events, **fields)

    def drain(self, until: Callable[[], bool]) -> None:
        drain(self.sender, until)

    def deliveries(self, webhook_id: str) -> list[Any]:
        return deliveries(self.client, self.admin, webhook_id)

    def state(self, webhook_id: str) -> dict[str, Any]:
        return state(self.client, self.admin, webhook_id)

    def all_fanned_out(self) -> bool:
        return _all_fanned_out(self.app)


@pytest.fixture
def hooks(
    app: FastAPI, client: TestClient, admin: dict[str, str], receiver: Receiver
) -> Iterator[Hooks]:
    sender = Sender(app.state.engine, app.state.settings)
    yield Hooks(app, client, admin, receiver, sender)
    sender.close()


# --- subscriptions ------------------------------------------------------------------------


def test_create_shows_the_secret_once(
    client: TestClient, admin: dict[str, str], receiver: Receiver
) -> None:
    response = client.post(
        "/webhooks",
        headers=admin,
        json={
            "url": receiver.url,
            "events": ["claim.created", "claim.status_changed", "claim.created"],
            "filter": {"status": ["disputed", "disputed"]},
            "description": "Syria desk",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/webhooks/{created['id']}"
    secret = created.pop("secret")
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert {k: created[k] for k in ("url", "events", "filter", "description", "enabled")} == {
        "url": receiver.url,
        "events": ["claim.created", "claim.status_changed"],
        "filter": {"status": ["disputed"], "tag": None, "language": None},
        "description": "Syria desk",
        "enabled": True,
    }
    fetched = client.get(f"/webhooks/{created['id']}", headers=admin).json()
    assert fetched == created
    listed = client.get("/webhooks", headers=admin).json()
    assert listed == {"items": [created], "next_cursor": None}
    assert secret not in client.get(f"/webhooks/{created['id']}", headers=admin).text


def test_webhooks_need_an_admin_key(
    client: TestClient, auth: dict[str, str], admin: dict[str, str], receiver: Receiver
) -> None:
    hook = make_webhook(client, admin, receiver.url)
    body = {"url": receiver.url, "events": ["claim.created"]}
    assert client.post("/webhooks", json=body).status_code == 401
    for method, path in [
        ("POST", "/webhooks"),
        ("GET", "/webhooks"),
        ("GET", f"/webhooks/{hook['id']}"),
        ("PATCH", f"/webhooks/{hook['id']}"),
        ("DELETE", f"/webhooks/{hook['id']}"),
        ("GET", f"/webhooks/{hook['id']}/deliveries"),
        ("POST", f"/webhooks/{hook['id']}/rotate-secret"),
    ]:
        response = client.request(method, path, headers=auth, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body, field_name",
    [
        ({"url": "https://example.org/h", "events": []}, "events"),
        ({"url": "https://example.org/h", "events": ["claim.exploded"]}, "events.0"),
        ({"url": "ftp://example.org/h", "events": ["claim.created"]}, "url"),
        (
            {"url": "https://example.org/h", "events": ["claim.created"], "filter": {"x": [1]}},
            "filter.x",
        ),
        (
            {"url": "https://example.org/h", "events": ["claim.created"], "secret": "mine"},
            "secret",
        ),
    ],
)
def test_invalid_subscriptions_are_422(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], field_name: str
) -> None:
    response = client.post("/webhooks", headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert field_name in {error["field"] for error in response.json()["errors"]}


def test_update_pauses_and_resumes_and_delete_removes(
    client: TestClient, admin: dict[str, str], receiver: Receiver
) -> None:
    hook = make_webhook(client, admin, receiver.url)
    path = f"/webhooks/{hook['id']}"
    paused = client.patch(path, headers=admin, json={"enabled": False}).json()
    assert (paused["enabled"], paused["disabled_reason"]) == (False, "disabled through the API")
    resumed = client.patch(
        path, headers=admin, json={"enabled": True, "events": ["stance.created"], "filter": None}
    ).json()
    assert (resumed["enabled"], resumed["disabled_reason"], resumed["events"]) == (
        True,
        None,
        ["stance.created"],
    )
    assert client.patch(path, headers=admin, json={"url": None}).status_code == 422
    assert client.delete(path, headers=admin).status_code == 204
    assert client.get(path, headers=admin).status_code == 404
    assert client.get("/webhooks/abc", headers=admin).status_code == 404


# --- SSRF ---------------------------------------------------------------------------------


@pytest.fixture
def guarded_client(database_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app with the operator defaults: https only, public addresses only."""
    app = create_app(Settings(database_url=database_url, rate_limit_per_minute=0))
    key = create_key(engine=app.state.engine, scope=Scope.admin)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {key}"}
    app.state.engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://127.1.2.3:8443/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/hooks",
        "https://192.168.1.1/hooks",
        "https://172.16.0.1/hooks",
        "https://100.64.0.1/hooks",
        "https://0.0.0.0/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://localhost/hooks",
        "https://192.0.0.8/",
    ],
)
def test_private_addresses_are_refused(
    guarded_client: tuple[TestClient, dict[str, str]], url: str
) -> None:
    client, admin = guarded_client
    response = client.post(
        "/webhooks", headers=admin, json={"url": url, "events": ["claim.created"]}
    )
    assert response.status_code == 422, response.text
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("url", "url_not_allowed")
    ]
    assert client.get("/webhooks", headers=admin).json()["items"] == []


def test_plain_http_is_refused_and_so_is_patching_to_a_private_url(
    guarded_client: tuple[TestClient, dict[str, str]],
) -> None:
    client, admin = guarded_client
    refused = client.post(
        "/webhooks",
        headers=admin,
        json={"url": "http://93.184.215.14/", "events": ["claim.created"]},
    )
    assert refused.status_code == 422
    assert "https" in refused.json()["errors"][0]["message"]
    created = client.post(
        "/webhooks",
        headers=admin,
        json={"url": "https://93.184.215.14/hooks", "events": ["claim.created"]},
    )
    assert created.status_code == 201, created.text
    patched = client.patch(
        f"/webhooks/{created.json()['id']}",
        headers=admin,
        json={"url": "https://169.254.169.254/latest/meta-data/"},
    )
    assert patched.status_code == 422
    fetched = client.get(f"/webhooks/{created.json()['id']}", headers=admin).json()
    assert fetched["url"] == "https://93.184.215.14/hooks"


def test_the_sender_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "hooks.example.org":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    target = ssrf.target(
        "https://hooks.example.org:8443/in?x=1", allow_private=False, allow_http=False
    )
    assert target == ssrf.Target(
        "https://93.184.215.14:8443/in?x=1",
        {"Host": "hooks.example.org:8443"},
        {"sni_hostname": "hooks.example.org"},
    )


def test_a_host_that_turns_private_after_subscribing_is_not_called(
    database_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name resolved to a public address when the subscription was
    saved, and to 127.0.0.1 when the sender looks again. Nothing is sent."""
    answers = {"hooks.example.org": "93.184.215.14"}

    real = socket.getaddrinfo

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    settings = Settings(
        database_url=database_url,
        **{**RECEIVER_SETTINGS, "webhook_allow_private_urls": False},
    )
    app = create_app(settings)
    key = create_key(engine=app.state.engine, scope=Scope.admin)
    admin = {"Authorization": f"Bearer {key}"}
    port = receiver.server.server_address[1]
    running = Sender(app.state.engine, settings)
    try:
        with TestClient(app) as client:
            hook = make_webhook(client, admin, f"http://hooks.example.org:{port}/hooks")
            answers["hooks.example.org"] = HOST  # the rebinding
            make_claim(client, admin)
            drain(
                running, lambda: any(d["attempts"] for d in deliveries(client, admin, hook["id"]))
            )
            attempt = deliveries(client, admin, hook["id"])[0]["attempts"][0]
    finally:
        running.close()
        app.state.engine.dispose()
    assert attempt["status_code"] is None
    assert "127.0.0.1" in attempt["error"] and attempt["error"].startswith("not sent")
    assert receiver.snapshot() == []


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.215.14", True),
        ("2606:4700::1", True),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("10.1.2.3", False),
        ("224.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("fc00::1", False),
        # Issue 13, hole 8: IANA special-purpose blocks that Python 3.11's is_global passes.
        ("192.0.0.8", False),
        ("192.0.0.9", False),
        ("192.88.99.1", False),
        ("3fff::1", False),
        ("5f00::1", False),
        ("64:ff9b:1::1", False),
    ],
)
def test_public_address_rule(address: str, public: bool) -> None:
    import ipaddress

    assert ssrf.is_public(ipaddress.ip_address(address)) is public


# --- events and signed deliveries ---------------------------------------------------------


def test_events_arrive_signed_with_old_and_new_status(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    hook = hooks.subscribe()
    hts = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition")
    state = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    claim = make_claim(client, auth, "Insurgents entered Hama.", tags=["syria"])
    assertion = add_stance(client, auth, claim["id"], hts["id"], "asserts")
    add_stance(client, auth, claim["id"], state["id"], "denies")
    client.patch(f"/claims/{claim['id']}", headers=auth, json={"place": "Hama"})
    assert client.delete(f"/claims/{claim['id']}", headers=auth).status_code == 204

    hooks.drain(lambda: len(hooks.receiver.snapshot()) >= 7)
    received = hooks.receiver.snapshot()
    payloads = [verify(hook["secret"], request) for request in received]
    assert [p["type"] for p in payloads] == [
        "claim.created",
        "stance.created",
        "claim.status_changed",
        "stance.created",
        "claim.status_changed",
        "claim.updated",
        "claim.deleted",
    ]
    created, stance, first_change, _, second_change, updated, deleted = payloads
    assert created["data"]["claim"]["id"] == claim["id"]
    assert created["data"]["claim"]["status"] == "unsourced"
    assert stance["data"]["stance"]["id"] == assertion["id"]
    assert stance["data"]["stance"]["source"]["name"] == "Hayat Tahrir al-Sham"
    assert stance["data"]["claim"]["status"] == "asserted"
    assert (first_change["data"]["old_status"], first_change["data"]["new_status"]) == (
        "unsourced",
        "asserted",
    )
    assert (second_change["data"]["old_status"], second_change["data"]["new_status"]) == (
        "asserted",
        "disputed",
    )
    assert second_change["data"]["claim"]["denying_sources"] == 1
    assert updated["data"]["changed"] == ["place"]
    assert deleted["data"]["claim"]["id"] == claim["id"]
    for payload in payloads:
        assert set(payload) == {"type", "timestamp", "data"}
        assert payload["timestamp"].endswith("Z")
    for request in received:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"].startswith("msg_")
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert len({r.message_id for r in received}) == 7
    # What the deliveries list shows is what was sent.
    listed = hooks.deliveries(hook["id"])
    assert {d["message_id"]: d["payload"] for d in listed} == {
        r.message_id: r.payload for r in received
    }
    assert {(d["status"], d["attempt_count"], len(d["attempts"])) for d in listed} == {
        ("delivered", 1, 1)
    }
    assert {d["attempts"][0]["status_code"] for d in listed} == {200}


def test_an_affiliation_change_that_changes_a_status_is_an_event(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    first = make_source(client, auth, "Monitor A", "monitor", "Camp A")
    second = make_source(client, auth, "Monitor B", "monitor", "Camp A")
    claim = make_claim(client, auth)
    add_stance(client, auth, claim["id"], first["id"], "asserts")
    add_stance(client, auth, claim["id"], second["id"], "asserts")
    hook = hooks.subscribe(["claim.status_changed"])
    client.patch(f"/sources/{second['id']}", headers=auth, json={"affiliation": "Camp B"})
    hooks.drain(lambda: len(hooks.receiver.snapshot()) >= 1)
    data = verify(hook["secret"], hooks.receiver.snapshot()[0])["data"]
    assert (data["claim"]["id"], data["old_status"], data["new_status"]) == (
        claim["id"],
        "asserted",
        "corroborated",
    )


def test_a_back_dated_stance_is_a_timeline_event_for_those_who_subscribe(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    hook = hooks.subscribe(["claim.timeline_changed"], filter={"tag": ["syria"]})
    rebels = make_source(client, auth, "Rebels", "armed_group", "A")
    state = make_source(client, auth, "State", "state_media", "B")
    claims = [
        make_claim(client, auth, text, tags=[tag]) for text, tag in [("T", "syria"), ("U", "x")]
    ]
    for claim in claims:
        add_stance(
            client, auth, claim["id"], rebels["id"], "asserts", stated_at="2024-12-05T09:00:00Z"
        )
        add_stance(
            client, auth, claim["id"], state["id"], "denies", stated_at="2024-12-05T12:00:00Z"
        )
        # Known only now: the state had denied it at 10:00 already. The present holds.
        add_stance(
            client, auth, claim["id"], state["id"], "denies", stated_at="2024-12-05T10:00:00Z"
        )
    hooks.drain(hooks.all_fanned_out)
    received = [verify(hook["secret"], r) for r in hooks.receiver.snapshot()]
    assert [(r["type"], r["data"]["claim"]["id"]) for r in received] == [
        ("claim.timeline_changed", claims[0]["id"])
    ]
    assert received[0]["data"]["claim"]["status_since"] == "2024-12-05T10:00:00Z"


def test_events_and_filters_choose_what_is_sent(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    hook = hooks.subscribe(
        ["claim.status_changed"],
        filter={"status": ["disputed"], "tag": ["syria"]},
    )
    pro = make_source(client, auth, "Pro", "armed_group", "A")
    contra = make_source(client, auth, "Contra", "state_media", "B")
    elsewhere = make_claim(client, auth, "Not tagged", tags=["other"])
    tagged = make_claim(client, auth, "Tagged", tags=["syria"])
    for claim in (elsewhere, tagged):
        add_stance(client, auth, claim["id"], pro["id"], "asserts")  # -> asserted: filtered out
        add_stance(client, auth, claim["id"], contra["id"], "denies")  # -> disputed
    hooks.drain(hooks.all_fanned_out)
    received = hooks.receiver.snapshot()
    assert [verify(hook["secret"], r)["data"]["claim"]["id"] for r in received] == [tagged["id"]]


def _all_fanned_out(app: FastAPI) -> bool:
    with Session(app.state.engine) as session:
        pending = session.exec(select(Event).where(Event.fanned_out_at == None)).first()  # noqa: E711
        due = session.exec(
            select(WebhookDelivery).where(WebhookDelivery.status == "pending")
        ).first()
    return pending is None and due is None


def test_filter_rule() -> None:
    claim = {"status": "disputed", "tags": ["syria", "hama"], "language": "en"}
    assert filter_matches(None, claim)
    assert filter_matches({"status": ["disputed", "denied"]}, claim)
    assert not filter_matches({"status": ["denied"]}, claim)
    assert filter_matches({"status": ["disputed"], "tag": ["hama"], "language": ["en"]}, claim)
    assert not filter_matches({"status": ["disputed"], "tag": ["idlib"]}, claim)
    assert not filter_matches({"status": ["disputed"]}, None)


def test_a_failed_change_writes_no_event(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    claim = make_claim(client, auth)
    response = client.post(
        f"/claims/{claim['id']}/stances",
        headers=auth,
        json={"source_id": "999", "stance": "asserts"},
    )
    assert response.status_code == 422
    with Session(app.state.engine) as session:
        assert [e.type for e in session.exec(select(Event))] == ["claim.created"]


def test_a_subscription_gets_events_from_its_creation_on(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    make_claim(client, auth, "Before the subscription")
    hook = hooks.subscribe()
    after = make_claim(client, auth, "After the subscription")
    hooks.drain(hooks.all_fanned_out)
    assert [
        verify(hook["secret"], r)["data"]["claim"]["id"] for r in hooks.receiver.snapshot()
    ] == [after["id"]]


# --- retries, 410, redelivery -------------------------------------------------------------


def test_a_500_is_retried_with_the_same_webhook_id_until_it_succeeds(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    hooks.receiver.plan = lambda n: Reply(500, body=b"database down") if n < 2 else Reply(204)
    hook = hooks.subscribe()
    make_claim(client, auth)
    hooks.drain(lambda: hooks.state(hook["id"]).get("status") == "delivered")
    received = hooks.receiver.snapshot()
    assert len(received) == 3
    assert len({r.message_id for r in received}) == 1
    assert len({r.body for r in received}) == 1
    for request in received:
        verify(hook["secret"], request)
    (delivery,) = hooks.deliveries(hook["id"])
    assert (delivery["attempt_count"], delivery["next_attempt_at"]) == (3, None)
    assert delivery["delivered_at"] is not None
    assert [(a["status_code"], a["response_body"]) for a in delivery["attempts"]] == [
        (204, None),
        (500, "database down"),
        (500, "database down"),
    ]
    assert all(a["duration_ms"] >= 0 and a["error"] is None for a in delivery["attempts"])


def test_retry_after_is_honoured(client: TestClient, auth: dict[str, str], hooks: Hooks) -> None:
    hooks.receiver.plan = lambda n: Reply(429, {"Retry-After": "30"}) if n == 0 else Reply()
    hook = hooks.subscribe()
    make_claim(client, auth)
    hooks.drain(lambda: hooks.state(hook["id"]).get("attempt_count") == 1)
    hooks.sender.run_once()
    (delivery,) = hooks.deliveries(hook["id"])
    attempted = datetime.fromisoformat(delivery["attempts"][0]["attempted_at"])
    due = datetime.fromisoformat(delivery["next_attempt_at"])
    assert (delivery["status"], delivery["attempts"][0]["status_code"]) == ("pending", 429)
    assert timedelta(seconds=29) < due - attempted < timedelta(seconds=32)
    # Not before Retry-After, although the schedule says 0.1 s.
    assert len(hooks.receiver.snapshot()) == 1


def test_the_schedule_ends_in_failure_and_redeliver_starts_it_again(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    hooks.app.state.settings = hooks.app.state.settings.model_copy(
        update={"webhook_retry_schedule": [0.05, 0.05]}
    )
    short = Sender(hooks.app.state.engine, hooks.app.state.settings)
    hooks.receiver.plan = lambda n: Reply(503) if n < 3 else Reply()
    try:
        hook = hooks.subscribe()
        make_claim(client, auth)
        drain(short, lambda: hooks.state(hook["id"]).get("status") == "failed")
        (failed,) = hooks.deliveries(hook["id"])
        assert (failed["attempt_count"], failed["next_attempt_at"]) == (3, None)
        path = f"/webhooks/{hook['id']}/deliveries/{failed['id']}/redeliver"
        response = client.post(path, headers=hooks.admin)
        assert response.status_code == 202, response.text
        assert (response.json()["status"], response.json()["attempt_count"]) == ("pending", 0)
        drain(short, lambda: hooks.state(hook["id"]).get("status") == "delivered")
    finally:
        short.close()
    received = hooks.receiver.snapshot()
    assert len(received) == 4 and len({r.message_id for r in received}) == 1
    (delivered,) = hooks.deliveries(hook["id"])
    assert [a["status_code"] for a in delivered["attempts"]] == [200, 503, 503, 503]
    one = client.get(f"/webhooks/{hook['id']}/deliveries/{delivered['id']}", headers=hooks.admin)
    assert one.json() == delivered
    assert client.post(path.replace(hook["id"], "999"), headers=hooks.admin).status_code == 404


def test_410_disables_the_subscription_until_it_is_enabled_again(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    hooks.receiver.plan = lambda n: Reply(410) if n == 0 else Reply()
    hook = hooks.subscribe()
    make_claim(client, auth, "First")
    hooks.drain(
        lambda: not client.get(f"/webhooks/{hook['id']}", headers=hooks.admin).json()["enabled"]
    )
    fetched = client.get(f"/webhooks/{hook['id']}", headers=hooks.admin).json()
    assert fetched["disabled_reason"] == "the receiver answered 410 Gone"
    (gone,) = hooks.deliveries(hook["id"])
    assert (gone["status"], gone["attempts"][0]["status_code"]) == ("failed", 410)
    make_claim(client, auth, "While disabled")
    hooks.drain(hooks.all_fanned_out)
    assert len(hooks.receiver.snapshot()) == 1
    redeliver = f"/webhooks/{hook['id']}/deliveries/{gone['id']}/redeliver"
    assert client.post(redeliver, headers=hooks.admin).status_code == 409
    client.patch(f"/webhooks/{hook['id']}", headers=hooks.admin, json={"enabled": True})
    make_claim(client, auth, "After enabling")
    hooks.drain(lambda: len(hooks.receiver.snapshot()) == 2)
    texts = [verify(hook["secret"], r)["data"]["claim"]["text"] for r in hooks.receiver.snapshot()]
    assert texts == ["First", "After enabling"]


def test_rotation_signs_with_both_secrets(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    hook = hooks.subscribe()
    rotated = client.post(f"/webhooks/{hook['id']}/rotate-secret", headers=hooks.admin)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != hook["secret"]
    make_claim(client, auth)
    hooks.drain(lambda: bool(hooks.receiver.snapshot()))
    (request,) = hooks.receiver.snapshot()
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify(new_secret, request) == verify(hook["secret"], request)


def test_retry_schedule_and_retry_after_parsing() -> None:
    schedule = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    assert sum(schedule) > 24 * 3600
    assert Settings().webhook_retry_schedule == schedule
    for attempts, base in enumerate(schedule, start=1):
        delay = retry_delay(schedule, attempts)
        assert delay is not None and 0.8 * base <= delay <= 1.2 * base
    assert retry_delay(schedule, len(schedule) + 1) is None
    now = datetime.fromisoformat("2026-11-24T12:00:00+00:00")
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Tue, 24 Nov 2026 12:01:00 GMT", now) == 60
    assert parse_retry_after("9999999", now) == 24 * 3600
    assert parse_retry_after("soon", now) is None


# --- lists --------------------------------------------------------------------------------


def test_deliveries_are_keyset_paginated_newest_first(
    client: TestClient, auth: dict[str, str], hooks: Hooks
) -> None:
    hook = hooks.subscribe(["claim.created"])
    for i in range(5):
        make_claim(client, auth, f"Claim {i}")
    hooks.drain(lambda: len(hooks.receiver.snapshot()) == 5)
    seen: list[str] = []
    url = f"/webhooks/{hook['id']}/deliveries?limit=2"
    for _ in range(5):
        response = client.get(url, headers=hooks.admin)
        page = response.json()
        seen.extend(d["payload"]["data"]["claim"]["text"] for d in page["items"])
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            break
        assert response.headers["link"].endswith('rel="next"')
        url = f"/webhooks/{hook['id']}/deliveries?limit=2&cursor={page['next_cursor']}"
    assert seen == [f"Claim {i}" for i in reversed(range(5))]
    failed = client.get(f"/webhooks/{hook['id']}/deliveries?status=failed", headers=hooks.admin)
    assert failed.json() == {"items": [], "next_cursor": None}
    bad = client.get(f"/webhooks/{hook['id']}/deliveries?cursor=nope", headers=hooks.admin)
    assert bad.status_code == 422


def test_webhooks_list_is_keyset_paginated(
    client: TestClient, admin: dict[str, str], receiver: Receiver
) -> None:
    made = [make_webhook(client, admin, receiver.url)["id"] for _ in range(3)]
    first = client.get("/webhooks?limit=2", headers=admin).json()
    second = client.get(f"/webhooks?limit=2&cursor={first['next_cursor']}", headers=admin).json()
    assert [w["id"] for w in first["items"] + second["items"]] == made
    assert second["next_cursor"] is None


# --- concurrency and crashes --------------------------------------------------------------


def test_two_senders_never_send_the_same_delivery_twice(
    client: TestClient, auth: dict[str, str], hooks: Hooks, settings: Settings
) -> None:
    claims = 40
    hooks.receiver.plan = lambda _n: Reply(delay=0.01)
    hook = hooks.subscribe(["claim.created"])
    for i in range(claims):
        make_claim(client, auth, f"Claim {i}")
    concurrent = settings.model_copy(update={"webhook_concurrency": 4})
    engines = [make_engine(concurrent) for _ in range(2)]
    senders = [Sender(engine, concurrent) for engine in engines]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(running: Sender) -> None:
        start.wait()
        deadline = time.monotonic() + WAIT
        try:
            while len(hooks.receiver.snapshot()) < claims and time.monotonic() < deadline:
                if running.run_once() == 0:
                    time.sleep(0.01)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT + 10)
    for engine in engines:
        engine.dispose()
    assert errors == []
    counts = Counter(r.message_id for r in hooks.receiver.snapshot())
    assert len(counts) == claims
    assert set(counts.values()) == {1}
    listed = hooks.deliveries(hook["id"])
    assert {(d["status"], d["attempt_count"]) for d in listed} == {("delivered", 1)}
    assert {d["message_id"] for d in listed} == set(counts)


def test_concurrent_claims_take_disjoint_deliveries(
    client: TestClient, auth: dict[str, str], hooks: Hooks, settings: Settings
) -> None:
    """Six senders race to lease the same 60 due deliveries: each is leased exactly once."""
    total, racers = 60, 6
    hooks.subscribe(["claim.created"])
    for i in range(total):
        make_claim(client, auth, f"Claim {i}")
    engines = [make_engine(settings) for _ in range(racers)]
    assert queue.fan_out(engines[0]) == total
    start = threading.Barrier(racers)
    leased: list[list[int]] = [[] for _ in range(racers)]

    def race(number: int) -> None:
        start.wait()
        for _ in range(total):  # bounded: each pass leases at least one, or stops
            claimed = queue.claim_due(engines[number], limit=4, lease=timedelta(minutes=5))
            if not claimed:
                return
            leased[number].extend(c.delivery_id for c in claimed)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    for engine in engines:
        engine.dispose()
    every = [delivery_id for mine in leased for delivery_id in mine]
    assert len(every) == total
    assert len(set(every)) == total
    assert sum(1 for mine in leased if mine) > 1  # they did race
    assert hooks.receiver.snapshot() == []


# What RECEIVER_SETTINGS are to the app, as the environment of a child process.
RECEIVER_ENV = {
    "CLAIMS_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "CLAIMS_WEBHOOK_ALLOW_HTTP": "true",
    "CLAIMS_WEBHOOK_POLL_SECONDS": "0.05",
}


def receiver_env(database_url: str, **extra: str) -> dict[str, str]:
    return service_env(database_url, **{**RECEIVER_ENV, **extra})


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_sigkill_of_a_worker_mid_flight_loses_nothing(
    client: TestClient, auth: dict[str, str], hooks: Hooks, database_url: str, tmp_path: Path
) -> None:
    """`claims-api worker` is killed while the receiver holds its requests open. Events
    written meanwhile wait in the outbox; after a restart every event is delivered, the
    interrupted ones again under the same webhook-id."""
    hooks.receiver.plan = lambda _n: Reply(delay=1.5)
    hook = hooks.subscribe(["claim.created"])
    texts = [f"Before the crash {i}" for i in range(3)]
    for text in texts:
        make_claim(client, auth, text)
    env = receiver_env(
        database_url,
        CLAIMS_WEBHOOK_TIMEOUT_SECONDS="3",
        CLAIMS_WEBHOOK_LEASE_SECONDS="6",
        CLAIMS_WEBHOOK_CONCURRENCY="2",
    )
    log = (tmp_path / "worker.log").open("ab")
    worker = subprocess.Popen([claims_api(), "worker"], env=env, stdout=log, stderr=log)
    try:
        hooks.receiver.wait_for(1)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        time.sleep(0.3)  # let the receiver finish reading what reached it before the kill
        interrupted = {r.message_id for r in hooks.receiver.snapshot()}
        listed = hooks.deliveries(hook["id"])
        assert {d["status"] for d in listed} == {"pending"}
        assert sum(d["attempt_count"] for d in listed) == 0  # killed before recording
        texts += [f"While the worker is down {i}" for i in range(2)]
        for text in texts[3:]:
            make_claim(client, auth, text)
        hooks.receiver.plan = lambda _n: Reply()
        worker = subprocess.Popen([claims_api(), "worker"], env=env, stdout=log, stderr=log)
        wait_until(
            lambda: (
                {d["status"] for d in hooks.deliveries(hook["id"])} == {"delivered"}
                and len(hooks.deliveries(hook["id"])) == len(texts)
            ),
            "every delivery to be delivered after the restart",
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        log.close()
    received = hooks.receiver.snapshot()
    for request in received:
        verify(hook["secret"], request)
    assert sorted({r.payload["data"]["claim"]["text"] for r in received}) == sorted(texts)
    counts = Counter(r.message_id for r in received)
    assert {d["message_id"] for d in hooks.deliveries(hook["id"])} == set(counts)
    assert {m for m, n in counts.items() if n > 1} <= interrupted  # at least once, no more
    assert all(counts[m] == 2 for m in interrupted)


def test_serve_sends_webhooks_by_default(
    database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    engine = make_engine(Settings(database_url=database_url))
    key = create_key(engine=engine, scope=Scope.admin)
    engine.dispose()
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    log = (tmp_path / "serve.log").open("ab")
    server = subprocess.Popen(
        [claims_api(), "serve", "--host", HOST, "--port", str(port)],
        env=receiver_env(database_url),
        stdout=log,
        stderr=log,
    )
    base = f"http://{HOST}:{port}"
    try:

        def ready() -> bool:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(base + "/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, "the server to answer /healthz")
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            hook = http.post("/webhooks", json={"url": receiver.url, "events": ["claim.created"]})
            assert hook.status_code == 201, hook.text
            claim = http.post("/claims", json={"text": "Served and sent."})
            assert claim.status_code == 201, claim.text
        (request,) = receiver.wait_for(1)
        assert verify(hook.json()["secret"], request)["data"]["claim"]["id"] == claim.json()["id"]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def test_the_sender_runs_in_the_app_lifespan_when_enabled(
    database_url: str, receiver: Receiver
) -> None:
    app = create_app(Settings(database_url=database_url, webhook_sender=True, **RECEIVER_SETTINGS))
    admin = {"Authorization": f"Bearer {create_key(engine=app.state.engine, scope=Scope.admin)}"}
    try:
        with TestClient(app) as client:
            hook = make_webhook(client, admin, receiver.url, ["claim.created"])
            make_claim(client, admin, "Sent from the lifespan")
            (request,) = receiver.wait_for(1)
        assert verify(hook["secret"], request)["data"]["claim"]["text"] == "Sent from the lifespan"
        assert not any(t.name == "webhook-sender" for t in threading.enumerate())
    finally:
        app.state.engine.dispose()


# --- the migration ------------------------------------------------------------------------

WEBHOOK_TABLES = {"webhook", "event", "webhook_delivery", "webhook_attempt"}


def test_migration_round_trips_and_matches_the_models(app: FastAPI) -> None:
    engine: sa.Engine = app.state.engine
    downgrade(engine, "0006")  # just before the webhooks revision
    assert WEBHOOK_TABLES.isdisjoint(sa.inspect(engine).get_table_names())
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= WEBHOOK_TABLES
    diff = schema_drift(engine)  # the whole schema's drift: tests/ops/test_migrations.py

    def tables(change: Any) -> set[str]:
        if isinstance(change, list):
            return set().union(*(tables(part) for part in change))
        names = set()
        for part in change:
            if isinstance(part, sa.Table):
                names.add(part.name)
            elif isinstance(part, sa.Index | sa.Column | sa.Constraint):
                table = getattr(part, "table", None)
                if isinstance(table, sa.Table):
                    names.add(table.name)
            elif isinstance(part, str):
                names.add(part)
        return names

    assert [change for change in diff if tables(change) & WEBHOOK_TABLES] == []


def test_a_replay_leaves_the_secret_out_and_the_stored_answer_never_holds_it(
    app: FastAPI, client: TestClient, admin: dict[str, str], receiver: Receiver
) -> None:
    """Issue 13, hole 7: replaying POST /webhooks or /rotate-secret with the same
    Idempotency-Key showed the secret again for 24 h, and stored it a second time."""
    body = {"url": receiver.url, "events": ALL_EVENTS}
    keyed = {**admin, "Idempotency-Key": "hook-1"}
    created = client.post("/webhooks", headers=keyed, json=body)
    assert created.status_code == 201, created.text
    rotate = f"/webhooks/{created.json()['id']}/rotate-secret"
    rotated = client.post(rotate, headers={**admin, "Idempotency-Key": "rotate-1"})
    assert rotated.status_code == 200, rotated.text
    secrets = {created.json()["secret"], rotated.json()["secret"]}
    for first, path, key in ((created, "/webhooks", "hook-1"), (rotated, rotate, "rotate-1")):
        sent = body if path == "/webhooks" else None
        again = client.post(path, headers={**admin, "Idempotency-Key": key}, json=sent)
        assert (again.status_code, again.headers["idempotent-replayed"]) == (
            first.status_code,
            "true",
        )
        assert again.json() == {k: v for k, v in first.json().items() if k != "secret"}
    with app.state.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT response_body FROM idempotency_key")).scalars()
        bodies = b"".join(bytes(b) for b in stored)
    assert [secret for secret in secrets if secret.encode() in bodies] == []
