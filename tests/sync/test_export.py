"""GET /export: the whole database as NDJSON; imported into an empty database, the same
data comes back."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.auth import Scope, create_key
from app.core.config import Settings
from app.main import create_app
from tests.bulk_helpers import changes, cli, empty_database
from tests.helpers import add_stance, make_claim, make_source


@pytest.fixture
def second_database(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    yield from empty_database(request, database_url, tmp_path)


VERDICT = {
    "rating": "mostly_false",
    "textual_rating": "Misleading",
    "explanation": "The city centre was not breached that day.",
    "url": "https://factcheck.example.org/x",
    "reviewed_at": "2024-12-06T10:00:00Z",
}


def _build(client: TestClient, auth: dict[str, str]) -> str:
    """A history with gaps in the ids, edits, a mind changed, ties, back-dated stances and
    a verdict replaced once; returns the id of the claim with the verdict."""
    state = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    hts = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition")
    gone = make_source(client, auth, "Deleted source", "other")
    wire = make_source(
        client, auth, 'Wire, "agency"', "news_agency", country="GB", url="https://wire.example"
    )
    assert client.delete(f"/sources/{gone['id']}", headers=auth).status_code == 204
    client.patch(f"/sources/{wire['id']}", headers=auth, json={"description": "Reports."})

    reports = [
        client.post("/reports", headers=auth, json=body).json()
        for body in (
            {
                "url": "https://wire.example/hama#top",
                "title": "Insurgents enter Hama",
                "publisher_id": wire["id"],
                "published_at": "2024-12-05T11:21:00Z",
                "text": "State media said: \u201cwe denied it\u201d.\n"
                + "قالوا إنهم دخلوا المدينة",
            },
            {"url": "https://example.org/gone"},
            {"url": "https://sana.sy/hama", "language": "ar"},
        )
    ]
    cited, gone_report, bare = (r["id"] for r in reports)
    assert client.delete(f"/reports/{gone_report}", headers=auth).status_code == 204

    hama = make_claim(
        client,
        auth,
        "Syrian insurgents entered the city of Hama.",
        place="Hama",
        occurred_at="2024-12-05T08:00:00+02:00",
        tags=["syria", "hama-offensive-2024"],
    )
    doomed = make_claim(client, auth, "To be deleted.")
    arabic = make_claim(client, auth, "دخلت الفصائل مدينة حماة", language="ar", tags=["حماة"])
    quiet = make_claim(client, auth, 'Nobody said anything.\nSecond line, "quoted".')
    add_stance(
        client,
        auth,
        hama["id"],
        hts["id"],
        "asserts",
        stated_at="2024-12-05T09:00:00Z",
        quote="we entered",
        url="https://t.me/example",
        reported_via="https://ap.example",
    )
    add_stance(client, auth, hama["id"], state["id"], "asserts", stated_at="2024-12-05T10:00:00Z")
    add_stance(
        client,
        auth,
        hama["id"],
        state["id"],
        "denies",
        stated_at="2024-12-05T11:21:00Z",
        note="changed its mind",
    )
    add_stance(client, auth, hama["id"], state["id"], "asserts", stated_at="2024-12-05T08:00:00Z")
    add_stance(client, auth, doomed["id"], wire["id"], "asserts", report_id=cited)
    add_stance(
        client,
        auth,
        hama["id"],
        wire["id"],
        "asserts",
        stated_at="2024-12-05T11:00:00Z",
        quote='We DENIED it"',
        report_id=cited,
    )
    add_stance(
        client,
        auth,
        hama["id"],
        wire["id"],
        "retracts",
        stated_at="2024-12-05T12:00:00Z",
        quote="not in the text",
        report_id=cited,
        reported_via="https://wire.example/other",
    )
    add_stance(client, auth, quiet["id"], hts["id"], "asserts", quote="x", report_id=bare)
    add_stance(client, auth, arabic["id"], wire["id"], "asserts", stated_at="2024-12-05T12:00:00Z")
    add_stance(client, auth, arabic["id"], wire["id"], "denies", stated_at="2024-12-05T12:00:00Z")
    add_stance(client, auth, arabic["id"], hts["id"], "asserts", stated_at="2024-12-05T12:00:00Z")
    assert client.delete(f"/claims/{doomed['id']}", headers=auth).status_code == 204
    client.patch(f"/claims/{quiet['id']}", headers=auth, json={"place": "Homs"})
    for rating in ("false", "mostly_false"):
        put = client.put(
            f"/claims/{hama['id']}/verdict",
            headers=auth,
            json={**VERDICT, "rating": rating, "source_id": wire["id"]},
        )
        assert put.status_code in (200, 201), put.text
    return str(hama["id"])


def _lines(text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *records = [json.loads(line) for line in text.splitlines()]
    return header, records


def _renumbered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ids replaced by their rank within their type: an import numbers records anew."""
    ranks: dict[tuple[str, str], int] = {}
    for record in records:
        if "id" in record:
            ranks[(record["type"], record["id"])] = sum(1 for t, _ in ranks if t == record["type"])
    out = []
    for record in records:
        if "id" in record:
            record = {**record, "id": ranks[(record["type"], record["id"])]}
        if record["type"] in ("stance", "verdict"):
            record["claim_id"] = ranks[("claim", record["claim_id"])]
            record["source_id"] = ranks[("source", record["source_id"])]
        if record.get("report_id") is not None:
            record["report_id"] = ranks[("report", record["report_id"])]
        if record.get("publisher_id") is not None:
            record["publisher_id"] = ranks[("source", record["publisher_id"])]
        out.append(record)
    return out


def test_export_then_import_into_an_empty_database_gives_back_the_same_data(
    client: TestClient,
    auth: dict[str, str],
    second_database: str,
    tmp_path: Path,
) -> None:
    hama = _build(client, auth)
    exported = client.get("/export")
    assert exported.status_code == 200
    header, records = _lines(exported.text)
    assert [r["type"] for r in records] == (
        ["source"] * 3 + ["report"] * 2 + ["claim"] * 3 + ["stance"] * 10 + ["verdict"]
    )
    report_lines = [r for r in records if r["type"] == "report"]
    assert [(r["url"], r["stance_count"]) for r in report_lines] == [
        ("https://wire.example/hama#top", 2),
        ("https://sana.sy/hama", 1),
    ]
    assert report_lines[0]["text"].endswith("قالوا إنهم دخلوا المدينة")
    cited = [
        (r["stance"], r["report_id"], r["reported_via"], r["quote_found"])
        for r in records
        if r["type"] == "stance" and r["report_id"] is not None
    ]
    assert cited == [
        ("asserts", report_lines[0]["id"], "https://wire.example/hama#top", True),
        ("retracts", report_lines[0]["id"], "https://wire.example/other", False),
        ("asserts", report_lines[1]["id"], "https://sana.sy/hama", None),
    ]
    original_verdict = client.get(f"/claims/{hama}/verdict").json()
    assert records[-1] == {
        "type": "verdict",
        **{k: original_verdict[k] for k in original_verdict if k != "source"},
        "source_id": records[2]["id"],
    }
    assert records[0]["id"] == "1" and records[1]["id"] == "2" and records[2]["id"] == "4"
    copy_reports: list[dict[str, Any]] = []

    path = tmp_path / "export.ndjson"
    path.write_bytes(exported.content)
    imported = cli(second_database, tmp_path, "import", str(path))
    assert imported.returncode == 0, imported.stderr
    checked = cli(second_database, tmp_path, "check")
    assert (checked.returncode, checked.stdout.strip()) == (0, "0 mismatch(es) found")

    copy = create_app(Settings(database_url=second_database))
    try:
        with TestClient(copy) as copy_client:
            again = copy_client.get("/export")
            copy_claims = copy_client.get("/claims", params={"sort": "created_at"}).json()
            copy_verdict = copy_client.get("/claims/1/verdict").json()
            copy_reports = copy_client.get("/reports").json()["items"]
    finally:
        copy.state.engine.dispose()
    header_again, records_again = _lines(again.text)
    assert header_again["format"] == header["format"] == "claims-api-ndjson"
    assert _renumbered(records_again) == _renumbered(records)
    # The lists read the same too: statuses, counts and timestamps included.
    original_claims = client.get("/claims", params={"sort": "created_at"}).json()
    strip = [{k: v for k, v in c.items() if k != "id"} for c in original_claims["items"]]
    assert [{k: v for k, v in c.items() if k != "id"} for c in copy_claims["items"]] == strip
    # Reports too: their counts kept by the copy's own database.
    strip_ids = {"id", "publisher_id"}
    assert [{k: v for k, v in r.items() if k not in strip_ids} for r in copy_reports] == [
        {k: v for k, v in r.items() if k not in strip_ids}
        for r in client.get("/reports").json()["items"]
    ]
    # The verdict comes back whole: rating, wording, reviewer (by name), timestamps.
    assert copy_verdict["source"]["name"] == original_verdict["source"]["name"] == 'Wire, "agency"'
    ignore = {"claim_id", "source_id", "source"}
    assert {k: v for k, v in copy_verdict.items() if k not in ignore} == {
        k: v for k, v in original_verdict.items() if k not in ignore
    }
    assert (original_verdict["rating"], original_verdict["created_at"]) != (
        "false",
        original_verdict["updated_at"],
    )


def test_export_streams_ndjson_with_a_header(client: TestClient, auth: dict[str, str]) -> None:
    make_source(client, auth, "Monitor", "monitor")
    response = client.get("/export")
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"] == (
        'attachment; filename="claims-api-export.ndjson"'
    )
    header, records = _lines(response.text)
    assert set(header) == {"type", "format", "version", "exported_at", "changes_cursor"}
    assert (header["type"], header["version"]) == ("header", 1)
    assert [(r["type"], r["name"]) for r in records] == [("source", "Monitor")]
    # The cursor in the header follows the feed from the moment of the snapshot.
    # (On PostgreSQL, a record whose transaction had not settled when the snapshot was
    # taken may come again: it is in the file already, and applying it twice is harmless.)
    claim = make_claim(client, auth, "After the export.")
    after = changes(
        client,
        expect=1,
        cursor=header["changes_cursor"],
        until=lambda page: claim["id"] in {i["id"] for i in page["items"] if i["claim"]},
    )
    seen = {(i["type"], i["id"]) for i in after["items"]}
    assert seen - {("source", records[0]["id"])} == {("claim", claim["id"])}


def test_an_empty_database_exports_just_the_header(client: TestClient) -> None:
    header, records = _lines(client.get("/export").text)
    assert (header["format"], records) == ("claims-api-ndjson", [])


@pytest.mark.parametrize("path", ["/export", "/changes"])
def test_the_export_and_the_feed_close_with_the_other_reads(database_url: str, path: str) -> None:
    app = create_app(Settings(database_url=database_url, require_key_for_reads=True))
    try:
        with TestClient(app) as client:
            assert client.get(path).status_code == 401
            key = create_key(engine=app.state.engine, scope=Scope.read)
            response = client.get(path, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200
    finally:
        app.state.engine.dispose()
