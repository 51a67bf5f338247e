"""Reports through /bulk and /changes, on both engines (export and import round-trip them:
tests/sync/test_export.py)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.bulk_helpers import changes, ndjson, post_bulk, summary
from tests.helpers import add_stance, error_fields, make_claim, make_source, walk

SOURCE = {"type": "source", "id": "s", "name": "Syrian state media", "kind": "state_media"}
REPORT = {
    "type": "report",
    "id": "r",
    "url": "https://apnews.com/hama",
    "publisher_id": "s",
    "published_at": "2024-12-05T11:21:00Z",
    "text": "State media denied that insurgents had breached the city.",
}
CLAIM = {"type": "claim", "id": "c", "text": "Insurgents breached Hama."}
STANCE = {
    "type": "stance",
    "id": "t",
    "claim_id": "c",
    "source_id": "s",
    "stance": "denies",
    "quote": "DENIED that insurgents  had breached",
    "report_id": "r",
}


def test_bulk_writes_reports_and_stances_citing_them(
    client: TestClient, auth: dict[str, str]
) -> None:
    retraction = {
        **STANCE,
        "id": "u",
        "stance": "retracts",
        "quote": "redeployed",
        "stated_at": "2030-01-01T00:00:00Z",
    }
    response = post_bulk(client, auth, ndjson(SOURCE, REPORT, CLAIM, STANCE, retraction))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["reports_created"], result["reports_matched"], result["stances_created"]) == (
        1,
        0,
        2,
    )
    report = client.get(f"/reports/{result['report_ids']['r']}").json()
    assert (report["publisher_id"], report["stance_count"], report["text"]) == (
        result["source_ids"]["s"],
        2,
        REPORT["text"],
    )
    stances = client.get(f"/claims/{result['claim_ids']['c']}/stances").json()["items"]
    assert [
        (s["stance"], s["report_id"], s["reported_via"], s["quote_found"]) for s in stances
    ] == [
        ("retracts", report["id"], "https://apnews.com/hama", False),
        ("denies", report["id"], "https://apnews.com/hama", True),
    ]
    claim = client.get(f"/claims/{result['claim_ids']['c']}").json()
    assert (claim["status"], claim["status_explanation"]) == (
        "unsourced",
        "unsourced: no source holds a position on it; withdrawn by 1 source "
        "(Syrian state media, unaffiliated); known through 1 report",
    )

    # The same url again (its fragment aside) is the same report, as for POST /reports.
    again = post_bulk(
        client,
        auth,
        ndjson(
            SOURCE, {**REPORT, "url": "https://APNEWS.com/hama#x"}, {**CLAIM, "text": "B."}, STANCE
        ),
    )
    assert again.status_code == 200, again.text
    assert (again.json()["reports_created"], again.json()["reports_matched"]) == (0, 1)
    assert again.json()["report_ids"] == {"r": report["id"]}
    assert [r["id"] for r in walk(client, "/reports")] == [report["id"]]
    assert client.get(f"/reports/{report['id']}").json()["stance_count"] == 3


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([SOURCE, CLAIM, STANCE], "line 3.report_id"),
        ([SOURCE, {**REPORT, "publisher_id": "nobody"}], "line 2.publisher_id"),
        ([SOURCE, {**REPORT, "url": "ftp://x"}], "line 2.url"),
        ([SOURCE, {**REPORT, "text": "x" * 500_001}], "line 2.text"),
        ([SOURCE, {**REPORT, "quote_found": True}], "line 2.quote_found"),
        ([SOURCE, REPORT, {**REPORT, "url": "https://other.example"}], "line 3.id"),
    ],
)
def test_bad_report_lines_are_422_and_write_nothing(
    client: TestClient, auth: dict[str, str], lines: list[dict[str, Any]], field: str
) -> None:
    assert error_fields(post_bulk(client, auth, ndjson(*lines))) == {field}
    assert client.get("/reports").json()["items"] == []
    assert client.get("/sources").json()["items"] == []


def test_reports_enter_the_change_feed(client: TestClient, auth: dict[str, str]) -> None:
    start = changes(client, expect=0)["sync_cursor"]
    created = client.post(
        "/reports", headers=auth, json={"url": "https://a.example/1", "text": "t"}
    )
    gone = client.post("/reports", headers=auth, json={"url": "https://a.example/2"})
    report, doomed = created.json(), gone.json()
    first = changes(client, expect=2, cursor=start)
    assert summary(first) == [("report", report["id"], False), ("report", doomed["id"], False)]
    item = first["items"][0]
    assert (item["claim"], item["source"]) == (None, None)
    assert item["report"] == {k: v for k, v in report.items() if k != "text"}

    client.patch(f"/reports/{report['id']}", headers=auth, json={"title": "Hama"})
    assert client.delete(f"/reports/{doomed['id']}", headers=auth).status_code == 204
    second = changes(client, expect=2, cursor=first["sync_cursor"])
    assert summary(second) == [("report", report["id"], False), ("report", doomed["id"], True)]
    assert second["items"][0]["report"]["title"] == "Hama"
    assert second["items"][1]["report"] is None

    # A stance citing it changes its stance_count: the feed says so.
    source = make_source(client, auth, "SANA", "state_media")
    claim = make_claim(client, auth)
    add_stance(client, auth, claim["id"], source["id"], "denies", report_id=report["id"])
    third = changes(client, expect=3, cursor=second["sync_cursor"])
    assert summary(third) == [
        ("source", source["id"], False),
        ("report", report["id"], False),  # the stance's trigger runs before the claim's update
        ("claim", claim["id"], False),
    ]
    assert third["items"][1]["report"]["stance_count"] == 1
