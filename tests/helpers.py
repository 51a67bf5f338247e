"""Small builders the tests share: they go through the HTTP API like any client."""

from typing import Any

from fastapi.testclient import TestClient


def make_source(
    client: TestClient,
    auth: dict[str, str],
    name: str,
    kind: str = "news_outlet",
    affiliation: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        "/sources",
        headers=auth,
        json={"name": name, "kind": kind, "affiliation": affiliation, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()


def make_claim(
    client: TestClient, auth: dict[str, str], text: str = "Insurgents entered Hama.", **fields: Any
) -> dict[str, Any]:
    response = client.post("/claims", headers=auth, json={"text": text, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def add_stance(
    client: TestClient,
    auth: dict[str, str],
    claim_id: str,
    source_id: str,
    stance: str,
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        f"/claims/{claim_id}/stances",
        headers=auth,
        json={"source_id": source_id, "stance": stance, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()


def ids(response_json: dict[str, Any]) -> list[str]:
    return [item["id"] for item in response_json["items"]]
