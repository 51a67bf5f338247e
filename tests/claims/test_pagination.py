"""Keyset pagination: limits, opaque cursors bound to their sort, the Link header, and
walks that see every row once while rows are inserted between pages."""

import base64
import json
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.helpers import add_stance, error_fields, ids, make_claim, make_source, next_url, walk

LISTS = ("/claims", "/sources", "/claims/{claim}/stances", "/sources/{source}/stances")


def make_claims(client: TestClient, auth: dict[str, str], count: int) -> list[str]:
    return [make_claim(client, auth, f"Claim number {n}.", tags=["t"])["id"] for n in range(count)]


@pytest.fixture
def paths(client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    """Each list, with three items in it."""
    sources = [make_source(client, auth, f"Source {n}")["id"] for n in range(3)]
    claims = make_claims(client, auth, 3)
    for source in sources:
        add_stance(client, auth, claims[0], source, "asserts")
    for claim in claims[1:]:
        add_stance(client, auth, claim, sources[0], "denies")
    return {
        path: path.format(claim=claims[0], source=sources[0])
        for path in LISTS  # each list now holds exactly three items
    }


def test_limit_is_1_to_100_on_every_list(client: TestClient, paths: dict[str, str]) -> None:
    for path in paths.values():
        for limit in (0, 101, -1):
            assert error_fields(client.get(path, params={"limit": limit})) == {"limit"}, path
        assert error_fields(client.get(path, params={"limit": "ten"})) == {"limit"}
        assert len(client.get(path, params={"limit": 1}).json()["items"]) == 1, path
        assert len(client.get(path, params={"limit": 100}).json()["items"]) == 3, path


def test_default_page_is_20_and_the_last_page_has_a_null_cursor(
    client: TestClient, auth: dict[str, str]
) -> None:
    made = make_claims(client, auth, 21)
    first = client.get("/claims")
    assert len(first.json()["items"]) == 20
    assert first.json()["next_cursor"] is not None
    second = client.get("/claims", params={"cursor": first.json()["next_cursor"]})
    assert second.json()["next_cursor"] is None
    assert "link" not in second.headers
    assert ids(first.json()) + ids(second.json()) == made[::-1]


def test_an_exactly_full_page_is_the_last_one(client: TestClient, auth: dict[str, str]) -> None:
    make_claims(client, auth, 4)
    page = client.get("/claims", params={"limit": 4})
    assert (len(page.json()["items"]), page.json()["next_cursor"]) == (4, None)
    assert "link" not in page.headers
    assert client.get("/claims", params={"status": "denied"}).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_link_header_is_absolute_and_keeps_the_other_parameters(
    client: TestClient, auth: dict[str, str]
) -> None:
    made = make_claims(client, auth, 5)
    params = {"tag": "t", "status": ["unsourced", "denied"], "sort": "created_at", "limit": 2}
    first = client.get("/claims", params=params)
    url = next_url(first)
    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", "/claims")
    assert parse_qs(parts.query) == {
        "tag": ["t"],
        "status": ["unsourced", "denied"],
        "sort": ["created_at"],
        "limit": ["2"],
        "cursor": [first.json()["next_cursor"]],
    }
    second = client.get(url)
    assert ids(second.json()) == made[2:4]
    # The Link of a later page carries that page's cursor, not the one it was given.
    third_url = next_url(second)
    assert third_url is not None
    assert parse_qs(urlsplit(third_url).query)["cursor"] == [second.json()["next_cursor"]]
    third = client.get(third_url)
    assert (ids(third.json()), next_url(third)) == (made[4:], None)


def test_link_header_on_every_list(client: TestClient, paths: dict[str, str]) -> None:
    for path in paths.values():
        seen: list[str] = []
        url: str | None = f"{path}?limit=2"
        for _ in range(3):
            if url is None:
                break
            page = client.get(url)
            seen += ids(page.json())
            url = next_url(page)
            assert (url is None) == (page.json()["next_cursor"] is None), path
        assert url is None
        assert seen == ids(client.get(path, params={"limit": 100}).json()), path


def test_a_cursor_is_bound_to_its_sort(client: TestClient, auth: dict[str, str]) -> None:
    make_claims(client, auth, 3)
    for sort in ("-updated_at", "updated_at", "-created_at", "created_at"):
        cursor = client.get("/claims", params={"sort": sort, "limit": 1}).json()["next_cursor"]
        for other in {"-updated_at", "updated_at", "-created_at", "created_at"} - {sort}:
            response = client.get("/claims", params={"sort": other, "cursor": cursor})
            assert error_fields(response) == {"cursor"}
            assert response.json()["errors"][0]["code"] == "cursor_sort_mismatch"
        assert client.get("/claims", params={"sort": sort, "cursor": cursor}).status_code == 200
    # A claims cursor means nothing to the sources list, and the reverse.
    claims_cursor = client.get("/claims", params={"limit": 1}).json()["next_cursor"]
    make_source(client, auth, "A")
    make_source(client, auth, "B")
    sources_cursor = client.get("/sources", params={"limit": 1}).json()["next_cursor"]
    assert error_fields(client.get("/sources", params={"cursor": claims_cursor})) == {"cursor"}
    assert error_fields(client.get("/claims", params={"cursor": sources_cursor})) == {"cursor"}


def _encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "x" * 513,
        "\x00",
        "eyJ",
        _encoded({"sort": "-updated_at"}),
        _encoded(["-updated_at", "2024-12-05T00:00:00+00:00"]),
        _encoded(["-updated_at", "yesterday", 1]),
        _encoded(["-updated_at", "2024-12-05T00:00:00", 1]),  # naive
        _encoded(["-updated_at", "2024-12-05T00:00:00+00:00", "1"]),
        _encoded(["-updated_at", "2024-12-05T00:00:00+00:00", 0]),
        _encoded(["-updated_at", "2024-12-05T00:00:00+00:00", 2**63]),
        _encoded(["-updated_at", "2024-12-05T00:00:00+00:00", True]),
        _encoded(["-updated_at", 12, 1]),
        _encoded(["-updated_at", None, 1]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_we_did_not_issue_is_422(
    client: TestClient, auth: dict[str, str], cursor: str
) -> None:
    make_claims(client, auth, 2)
    response = client.get("/claims", params={"cursor": cursor})
    assert error_fields(response) == {"cursor"}
    for path in ("/sources", "/claims/1/stances"):
        assert client.get(path, params={"cursor": cursor}).status_code == 422, path


def _walk_while_inserting(
    client: TestClient, path: str, params: dict[str, Any], insert: Any, pages: int = 100
) -> list[str]:
    """Page through a list, inserting a row before fetching each next page."""
    seen: list[str] = []
    params = dict(params)
    for _ in range(pages):
        page = client.get(path, params=params).json()
        seen += ids(page)
        if page["next_cursor"] is None:
            return seen
        insert()
        params["cursor"] = page["next_cursor"]
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("sort", ["-updated_at", "updated_at", "-created_at", "created_at"])
def test_a_walk_sees_every_row_once_while_rows_are_inserted(
    client: TestClient, auth: dict[str, str], sort: str
) -> None:
    existing = make_claims(client, auth, 11)
    make_claim(client, auth, "Not tagged, so never listed.")
    inserted: list[str] = []

    def insert() -> None:
        inserted.append(make_claim(client, auth, "Inserted mid-walk.", tags=["t"])["id"])

    seen = _walk_while_inserting(client, "/claims", {"tag": "t", "sort": sort, "limit": 3}, insert)
    assert [claim for claim, n in Counter(seen).items() if n > 1] == []
    assert set(existing) <= set(seen)
    assert set(seen) - set(existing) <= set(inserted)
    expected_old = existing if sort in ("updated_at", "created_at") else existing[::-1]
    assert [claim for claim in seen if claim in existing] == expected_old
    if sort in ("updated_at", "created_at"):
        assert set(seen) == set(existing) | set(inserted)  # new rows land ahead of the walk
    else:
        assert set(seen) == set(existing)  # new rows land behind it


def test_a_walk_of_a_filtered_list_while_claims_change_status(
    client: TestClient, auth: dict[str, str]
) -> None:
    """A claim that changes during a -updated_at walk moves to the front: no duplicate."""
    source = make_source(client, auth, "Monitor", "monitor")
    existing = make_claims(client, auth, 9)
    pending = list(existing)

    def touch() -> None:
        add_stance(client, auth, pending.pop(0), source["id"], "asserts")

    seen = _walk_while_inserting(client, "/claims", {"limit": 2}, touch)
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(existing)


def test_stance_histories_page_newest_first_with_ties_broken_by_id(
    client: TestClient, auth: dict[str, str]
) -> None:
    sources = [make_source(client, auth, f"Source {n}")["id"] for n in range(3)]
    claim = make_claim(client, auth)["id"]
    at = "2024-12-05T11:21:00Z"
    made = [
        add_stance(client, auth, claim, sources[n % 3], "asserts", stated_at=at)["id"]
        for n in range(7)
    ]
    earlier = add_stance(
        client, auth, claim, sources[0], "denies", stated_at="2024-12-05T08:00:00Z"
    )
    expected = [*made[::-1], earlier["id"]]
    assert [s["id"] for s in walk(client, f"/claims/{claim}/stances", {"limit": 2})] == expected
    by_source = [s["id"] for s in walk(client, f"/sources/{sources[0]}/stances", {"limit": 1})]
    assert by_source == [made[6], made[3], made[0], earlier["id"]]


def test_a_stance_history_walk_while_stances_are_recorded(
    client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(client, auth, "Monitor", "monitor")["id"]
    claim = make_claim(client, auth)["id"]
    oldest_first = [
        add_stance(client, auth, claim, source, "asserts", stated_at=f"2024-12-05T{h:02}:00:00Z")[
            "id"
        ]
        for h in range(8)
    ]
    assert [s["id"] for s in walk(client, f"/claims/{claim}/stances")] == oldest_first[::-1]
    inserted: list[str] = []

    def insert() -> None:
        # One newer (lands before the walk's position) and one back-dated (lands after it).
        for at in ("2024-12-06T00:00:00Z", "2024-12-01T00:00:00Z"):
            inserted.append(add_stance(client, auth, claim, source, "denies", stated_at=at)["id"])

    for path in (f"/claims/{claim}/stances", f"/sources/{source}/stances"):
        existing = [s["id"] for s in walk(client, path, {"limit": 100})]
        inserted.clear()
        seen = _walk_while_inserting(client, path, {"limit": 3}, insert)
        assert len(seen) == len(set(seen)), path
        assert [s for s in seen if s in existing] == existing, path
        assert set(seen) - set(existing) <= set(inserted)
