"""A stance posted without `stated_at` is stated at the time of the request, and the answer
says so (README: "stated_at defaults to the time of the request")."""

from datetime import datetime

from fastapi.testclient import TestClient

from app.core.db import utcnow
from tests.helpers import make_claim, make_source


def test_a_missing_stated_at_is_the_request_time_echoed_back(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth)
    source = make_source(client, auth, "Syrian state media", kind="state_media")
    before = utcnow()
    created = client.post(
        f"/claims/{claim['id']}/stances",
        headers=auth,
        json={"source_id": source["id"], "stance": "denies"},
    )
    after = utcnow()
    assert created.status_code == 201, created.text
    stated_at = datetime.fromisoformat(created.json()["stated_at"])
    assert before <= stated_at <= after
    assert (
        client.get(created.headers["location"]).json()["stated_at"] == created.json()["stated_at"]
    )
