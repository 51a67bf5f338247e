"""Issue 13, hole 2: a date-time whose conversion to UTC leaves years 1-9999 is a 422 naming
the field, wherever a date-time is read, never a 500 (Python's astimezone overflows)."""

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.verdicts.claimreview import CLAIMREVIEW_EXAMPLE
from tests.bulk_helpers import NDJSON, cli, ndjson
from tests.helpers import make_claim, make_source, problem

# Both are valid RFC 3339 and inside years 1-9999 as written; in UTC they are not.
OUT_OF_RANGE = ["9999-12-31T23:59:59-00:01", "0001-01-01T00:00:00+00:01"]


def fields_of(response: Any) -> list[str]:
    return [error["field"] for error in problem(response, 422)["errors"]]


@pytest.mark.parametrize("when", OUT_OF_RANGE)
@pytest.mark.parametrize("name", ["occurred_from", "occurred_to", "updated_since"])
def test_query_parameters(client: TestClient, name: str, when: str) -> None:
    assert fields_of(client.get("/claims", params={name: when})) == [name]


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_body_fields(client: TestClient, auth: dict[str, str], when: str) -> None:
    assert fields_of(
        client.post("/claims", headers=auth, json={"text": "x", "occurred_at": when})
    ) == ["occurred_at"]
    claim = make_claim(client, auth)
    source = make_source(client, auth, "SANA", kind="state_media")
    patched = client.patch(f"/claims/{claim['id']}", headers=auth, json={"occurred_at": when})
    assert fields_of(patched) == ["occurred_at"]
    stance = {"source_id": source["id"], "stance": "denies", "stated_at": when}
    assert fields_of(client.post(f"/claims/{claim['id']}/stances", headers=auth, json=stance)) == [
        "stated_at"
    ]
    verdict = {"source_id": source["id"], "rating": "false", "reviewed_at": when}
    assert fields_of(client.put(f"/claims/{claim['id']}/verdict", headers=auth, json=verdict)) == [
        "reviewed_at"
    ]
    document = {**copy.deepcopy(CLAIMREVIEW_EXAMPLE), "datePublished": when}
    imported = client.post("/imports/claimreview", headers=auth, json=[document])
    assert fields_of(imported) == ["reviews.0.datePublished"]
    assert client.get(f"/claims/{claim['id']}/stances").json()["items"] == []
    assert [c["id"] for c in client.get("/claims").json()["items"]] == [claim["id"]]


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_bulk_lines_and_the_cli_import_name_the_line(
    client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path, when: str
) -> None:
    body = ndjson(
        {"type": "claim", "id": "a", "text": "fine"},
        {"type": "claim", "id": "b", "text": "bad", "occurred_at": when},
    )
    assert fields_of(client.post("/bulk", content=body, headers={**auth, **NDJSON})) == [
        "line 2.occurred_at"
    ]
    result = cli(database_url, tmp_path, "import", "-", stdin=body.decode())
    assert result.returncode == 1, result.stderr
    assert "Line 2 is invalid: occurred_at:" in result.stderr
    assert "Traceback" not in result.stderr
    assert client.get("/claims").json()["items"] == []
