"""The lists that page through app/core/pagination.py's Paging, beyond those
tests/claims/test_pagination.py walks (/claims, /sources, claim and source stances):
`limit` is 1..100, a `Link: rel="next"` header stands exactly when `next_cursor` does,
following it sees every item once, and a cursor the list did not issue is 422."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.webhooks.queue import fan_out
from tests.bulk_helpers import changes
from tests.helpers import (
    add_stance,
    error_fields,
    make_claim,
    make_report,
    make_source,
    next_url,
)

LISTS = (
    "/reports",
    "/reports/{report}/stances",
    "/webhooks",
    "/webhooks/{webhook}/deliveries",
    "/changes",
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Subscriptions to a local URL, which nothing sends to: only their deliveries are listed.
    return Settings(
        database_url=database_url, webhook_allow_private_urls=True, webhook_allow_http=True
    )


@pytest.fixture
def paths(app: FastAPI, client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """Each list, with at least three items in it."""
    subscription = {"url": "http://127.0.0.1:9/hook", "events": ["stance.created"]}
    hooks = [client.post("/webhooks", headers=admin, json=subscription) for _ in range(3)]
    assert [hook.status_code for hook in hooks] == [201] * 3
    source = make_source(client, admin, "Monitor", "monitor")
    claim = make_claim(client, admin)
    report, *_ = [make_report(client, admin, f"https://example.org/{n}") for n in range(3)]
    for stance in ("asserts", "denies", "asserts"):
        add_stance(client, admin, claim["id"], source["id"], stance, report_id=report["id"])
    fan_out(app.state.engine)  # the outbox's stance.created events become deliveries
    changes(client, expect=5)  # a source, a claim, three reports: settled on PostgreSQL too
    return {path: path.format(report=report["id"], webhook=hooks[0].json()["id"]) for path in LISTS}


def _items(client: TestClient, url: str, admin: dict[str, str]) -> tuple[list[Any], Any]:
    response = client.get(url, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()["items"], response


@pytest.mark.parametrize("name", LISTS)
def test_the_link_header_walks_every_item_once(
    client: TestClient, admin: dict[str, str], paths: dict[str, str], name: str
) -> None:
    path = paths[name]
    everything, _ = _items(client, f"{path}?limit=100", admin)
    assert len(everything) >= 3
    seen: list[Any] = []
    url: str | None = f"{path}?limit=2"
    pages = 0
    while url is not None and pages <= len(everything):
        items, response = _items(client, url, admin)
        pages += 1
        seen += items
        url = next_url(response)
        assert (url is None) == (response.json()["next_cursor"] is None), name
    assert url is None
    assert pages == (len(everything) + 1) // 2
    assert seen == everything


@pytest.mark.parametrize("name", LISTS)
def test_limit_is_1_to_100_and_a_foreign_cursor_is_422(
    client: TestClient, admin: dict[str, str], paths: dict[str, str], name: str
) -> None:
    path = paths[name]
    for limit in (0, 101, -1, "ten"):
        response = client.get(path, params={"limit": limit}, headers=admin)
        assert error_fields(response) == {"limit"}, (name, limit)
    assert len(_items(client, f"{path}?limit=1", admin)[0]) == 1
    assert len(_items(client, path, admin)[0]) >= 3  # the default, 20, holds them all
    for cursor in ("garbage", "eyJ", "x" * 513):
        response = client.get(path, params={"cursor": cursor}, headers=admin)
        assert error_fields(response) == {"cursor"}, (name, cursor)
