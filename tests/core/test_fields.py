"""The field rules of the contract for claims and stances: bounds, formats, defaults,
and a refused body writes nothing."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import error_fields, make_claim, make_source


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": " \n\t"}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "Hama.", "language": "english!"}, "language"),
        ({"text": "Hama.", "language": None}, "language"),
        ({"text": "Hama.", "occurred_at": "2024-12-05T08:00:00"}, "occurred_at"),
        ({"text": "Hama.", "occurred_at": "last Thursday"}, "occurred_at"),
        ({"text": "Hama.", "tags": "syria"}, "tags"),
        ({"text": "Hama.", "tags": ["x" * 65]}, "tags.0"),
        ({"text": "Hama.", "tags": ["ok", ""]}, "tags.1"),
        ({"text": "Hama.", "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"text": "Hama.", "place": "x" * 201}, "place"),
        ({"text": "Hama.", "status": "disputed"}, "status"),
        ({"text": "Hama.", "asserting_sources": 3}, "asserting_sources"),
        ({"text": "Hama.", "id": "1"}, "id"),
    ],
)
def test_bad_claim_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    assert error_fields(client.post("/claims", headers=auth, json=body)) == {field}
    assert client.get("/claims").json() == {"items": [], "next_cursor": None}


def test_claim_field_bounds_and_normalisation(client: TestClient, auth: dict[str, str]) -> None:
    longest = make_claim(
        client,
        auth,
        "x" * 2000,
        language="en-gb",
        tags=[f" t{n} " for n in range(20)],
        occurred_at="2024-12-05T10:00:00+02:00",
    )
    assert (len(longest["text"]), longest["language"], longest["occurred_at"]) == (
        2000,
        "en-GB",
        "2024-12-05T08:00:00Z",
    )
    assert longest["tags"] == [f"t{n}" for n in range(20)]
    patched = client.patch(
        f"/claims/{longest['id']}", headers=auth, json={"occurred_at": "2024-12-05T03:00:00-05:00"}
    )
    assert patched.json()["occurred_at"] == "2024-12-05T08:00:00Z"
    assert patched.json()["updated_at"] == longest["updated_at"]  # the same instant: no change
    spaced = make_claim(client, auth, "  Hama.\n", language="zh-hant-tw")
    assert (spaced["text"], spaced["language"]) == ("  Hama.\n", "zh-Hant-TW")


def test_patch_claim_with_bad_fields_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth, "Hama.", tags=["syria"])
    for body, field in (
        ({"text": ""}, "text"),
        ({"tags": None}, "tags"),
        ({"language": None}, "language"),
        ({"tags": ["ok", "x" * 65]}, "tags.1"),
        ({"occurred_at": "2024-12-05"}, "occurred_at"),
        ({"text": "Aleppo.", "current": True}, "current"),
    ):
        response = client.patch(f"/claims/{claim['id']}", headers=auth, json=body)
        assert error_fields(response) == {field}, body
    assert client.get(f"/claims/{claim['id']}").json() == claim


@pytest.fixture
def claim_and_source(client: TestClient, auth: dict[str, str]) -> tuple[str, str]:
    source = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    return make_claim(client, auth)["id"], source["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stance": "denies"}, "source_id"),
        ({"source_id": "SOURCE"}, "stance"),
        ({"source_id": "SOURCE", "stance": "doubts"}, "stance"),
        (
            {"source_id": "SOURCE", "stance": "denies", "stated_at": "2024-12-05T09:00:00"},
            "stated_at",
        ),
        ({"source_id": "SOURCE", "stance": "denies", "url": "sana.sy/x"}, "url"),
        ({"source_id": "SOURCE", "stance": "denies", "reported_via": "AP"}, "reported_via"),
        ({"source_id": "SOURCE", "stance": "denies", "quote": "x" * 5001}, "quote"),
        ({"source_id": "SOURCE", "stance": "denies", "note": "x" * 5001}, "note"),
        ({"source_id": "SOURCE", "stance": "denies", "current": False}, "current"),
        ({"source_id": "SOURCE", "stance": "denies", "claim_id": "1"}, "claim_id"),
        ({"source_id": "999999", "stance": "denies"}, "source_id"),
    ],
)
def test_bad_stance_is_422_naming_the_field_and_writes_nothing(
    client: TestClient,
    auth: dict[str, str],
    claim_and_source: tuple[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    claim, source = claim_and_source
    before = client.get(f"/claims/{claim}").json()
    body = {k: (source if v == "SOURCE" else v) for k, v in body.items()}
    response = client.post(f"/claims/{claim}/stances", headers=auth, json=body)
    assert error_fields(response) == {field}
    assert client.get(f"/claims/{claim}").json() == before
    assert client.get(f"/claims/{claim}/stances").json()["items"] == []


def test_stance_quote_of_5000_and_every_field_round_trip(
    client: TestClient, auth: dict[str, str], claim_and_source: tuple[str, str]
) -> None:
    claim, source = claim_and_source
    body = {
        "source_id": source,
        "stance": "denies",
        "stated_at": "2024-12-05T13:21:00+02:00",
        "url": "https://sana.sy/en/?p=1",
        "quote": "ن" * 5000,
        "reported_via": "https://apnews.com/article/x",
        "note": "Confirmed clashes in the east in the same statement.",
    }
    response = client.post(f"/claims/{claim}/stances", headers=auth, json=body)
    assert response.status_code == 201, response.text
    stance = response.json()
    assert stance | {"stated_at": body["stated_at"]} == stance | body | {
        "source_id": source,
        "claim_id": claim,
    }
    assert stance["stated_at"] == "2024-12-05T11:21:00Z"
    assert stance["current"] is True
    assert stance["source"] == {
        "id": source,
        "name": "Syrian state media",
        "kind": "state_media",
        "affiliation": "Syrian government",
    }
