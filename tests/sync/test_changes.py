"""GET /changes: a sync job stores a cursor and gets every change since, deletions as
tombstones, each record once with its current state."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.auth import Scope, create_key
from app.core.config import Settings
from app.main import create_app
from tests.bulk_helpers import changes, ndjson, post_bulk, summary
from tests.conftest import _postgres_database
from tests.helpers import add_stance, make_claim, make_source


def test_the_feed_gives_each_change_once_then_only_what_changed_since(
    client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(client, auth, "Syrian state media", "state_media")
    gone_source = make_source(client, auth, "Short-lived", "other")
    claim = make_claim(client, auth, "Insurgents entered Hama.")
    gone_claim = make_claim(client, auth, "Insurgents took Homs.")

    first = changes(client, expect=4)
    assert summary(first) == [
        ("source", source["id"], False),
        ("source", gone_source["id"], False),
        ("claim", claim["id"], False),
        ("claim", gone_claim["id"], False),
    ]
    assert first["next_cursor"] is None
    assert first["items"][0]["source"] == source
    assert first["items"][0]["claim"] is None
    assert first["items"][2]["claim"] == {
        k: v
        for k, v in client.get(f"/claims/{claim['id']}").json().items()
        if k not in ("stances", "status_explanation", "verdict")
    }
    assert changes(client, expect=0, cursor=first["sync_cursor"])["items"] == []

    add_stance(client, auth, claim["id"], source["id"], "denies")
    assert client.delete(f"/claims/{gone_claim['id']}", headers=auth).status_code == 204
    assert client.delete(f"/sources/{gone_source['id']}", headers=auth).status_code == 204
    second = changes(client, expect=3, cursor=first["sync_cursor"])
    assert summary(second) == [
        ("claim", claim["id"], False),
        ("claim", gone_claim["id"], True),
        ("source", gone_source["id"], True),
    ]
    assert second["items"][0]["claim"]["status"] == "denied"
    tombstone = second["items"][1]
    assert (tombstone["claim"], tombstone["source"]) == (None, None)
    assert tombstone["deleted_at"] == tombstone["changed_at"]
    assert tombstone["deleted_at"] >= claim["created_at"]

    # From the beginning, the feed now shows the present: each record once, tombstones kept.
    assert summary(changes(client, expect=4)) == [
        ("source", source["id"], False),
        ("claim", claim["id"], False),
        ("claim", gone_claim["id"], True),
        ("source", gone_source["id"], True),
    ]


def test_pages_follow_next_cursor_and_the_link_header(
    client: TestClient, auth: dict[str, str]
) -> None:
    made = [make_claim(client, auth, f"claim {i}")["id"] for i in range(5)]
    changes(client, expect=5)  # settled
    seen: list[str] = []
    response = client.get("/changes", params={"limit": 2})
    pages = 0
    while True:
        pages += 1
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            break
        assert page["sync_cursor"] == page["next_cursor"]
        assert response.headers["link"].endswith('>; rel="next"')
        response = client.get("/changes", params={"limit": 2, "cursor": page["next_cursor"]})
    assert (seen, pages) == (made, 3)


@pytest.mark.parametrize("cursor", ["nope", "WyJjbGFpbXMiLDEsMl0", "WyJjaGFuZ2VzIiwtMSwyXQ"])
def test_a_cursor_the_feed_did_not_issue_is_422(client: TestClient, cursor: str) -> None:
    response = client.get("/changes", params={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


def test_bulk_imports_and_updates_enter_the_feed(client: TestClient, auth: dict[str, str]) -> None:
    body = ndjson(
        {"type": "source", "id": "s", "name": "Monitor", "kind": "monitor"},
        {"type": "claim", "id": "a", "text": "a", "created_at": "2020-01-01T00:00:00Z"},
        {"type": "claim", "id": "b", "text": "b", "updated_at": "2020-01-01T00:00:00Z"},
    )
    ids = post_bulk(client, auth, body).json()
    start = changes(client, expect=3)
    assert summary(start) == [
        ("source", ids["source_ids"]["s"], False),
        ("claim", ids["claim_ids"]["a"], False),
        ("claim", ids["claim_ids"]["b"], False),
    ]
    # Back-dated updated_at is invisible to updated_since, but not to the feed.
    patched = client.patch(f"/claims/{ids['claim_ids']['a']}", headers=auth, json={"place": "Hama"})
    assert patched.status_code == 200
    after = changes(client, expect=1, cursor=start["sync_cursor"])
    assert summary(after) == [("claim", ids["claim_ids"]["a"], False)]
    assert after["items"][0]["claim"]["place"] == "Hama"


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _postgres_database(template=request.getfixturevalue("postgres_template"))


def test_postgres_feed_never_skips_a_change_committed_out_of_sequence_order(
    postgres_url: str,
) -> None:
    """A transaction takes its sequence number, a later one commits first: a reader that
    moved past the later one must still get the earlier one when it commits."""
    app = create_app(Settings(database_url=postgres_url))
    engine = app.state.engine
    try:
        with TestClient(app) as client, engine.connect() as slow:
            key = create_key(engine=engine, scope=Scope.write)
            auth = {"Authorization": f"Bearer {key}"}
            slow.execute(
                sa.text(
                    "INSERT INTO claim (text, language, tags, status, created_at, updated_at) "
                    "VALUES ('slow', 'en', '[]', 'unsourced', now(), now())"
                )
            )
            fast = make_claim(client, auth, "fast")
            held = client.get("/changes").json()
            assert held["items"] == []  # the fast one waits behind the open transaction
            slow.commit()
            page = changes(client, expect=2, cursor=held["sync_cursor"])
            assert [item["claim"]["text"] for item in page["items"]] == ["slow", "fast"]
            assert page["items"][1]["id"] == fast["id"]
    finally:
        engine.dispose()
