"""Reports over HTTP on both engines: the six operations, their fields, duplicates, the
list's order and pagination with undated reports, the text limit, and every refusal."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import (
    REPORT_URL,
    add_stance,
    error_fields,
    ids,
    make_claim,
    make_report,
    make_source,
    problem,
    walk,
)

REPORT_FIELDS = {
    "id",
    "url",
    "title",
    "publisher_id",
    "published_at",
    "language",
    "text",
    "stance_count",
    "created_at",
    "updated_at",
}
ARABIC = "قال المتمردون السوريون إنهم دخلوا مدينة حماة بعد اشتباكات عنيفة."


def test_create_read_update_delete(client: TestClient, auth: dict[str, str]) -> None:
    ap = make_source(client, auth, "The Associated Press", "news_agency")
    response = client.post(
        "/reports",
        headers=auth,
        json={
            "url": REPORT_URL,
            "title": "Syrian insurgents say they have entered Hama",
            "publisher_id": ap["id"],
            "published_at": "2024-12-05T13:21:00+02:00",
            "language": "ar",
            "text": ARABIC,
        },
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert set(report) == REPORT_FIELDS
    assert response.headers["Location"] == f"/reports/{report['id']}"
    assert {k: report[k] for k in ("url", "publisher_id", "published_at", "text")} == {
        "url": REPORT_URL,
        "publisher_id": ap["id"],
        "published_at": "2024-12-05T11:21:00Z",
        "text": ARABIC,
    }
    assert (report["language"], report["stance_count"]) == ("ar", 0)

    read = client.get(f"/reports/{report['id']}")
    assert read.json() == report
    changed = client.patch(
        f"/reports/{report['id']}",
        headers={**auth, "If-Match": read.headers["ETag"]},
        json={"title": "Insurgents enter Hama", "publisher_id": None},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["publisher_id"]) == (
        "Insurgents enter Hama",
        None,
    )
    assert changed.headers["ETag"] != read.headers["ETag"]
    stale = client.patch(
        f"/reports/{report['id']}",
        headers={**auth, "If-Match": read.headers["ETag"]},
        json={"title": "Lost update"},
    )
    problem(stale, 412)
    assert client.get(f"/reports/{report['id']}").json()["title"] == "Insurgents enter Hama"
    not_modified = client.get(
        f"/reports/{report['id']}", headers={"If-None-Match": changed.headers["ETag"]}
    )
    assert not_modified.status_code == 304

    assert client.delete(f"/reports/{report['id']}", headers=auth).status_code == 204
    problem(client.get(f"/reports/{report['id']}"), 404)


def test_a_duplicate_url_is_409_naming_the_existing_report(
    client: TestClient, auth: dict[str, str]
) -> None:
    first = make_report(client, auth, "https://apnews.com/article/hama?page=2#top")
    for same in (
        "https://apnews.com/article/hama?page=2",
        "https://APNews.COM/article/hama?page=2#comments",
    ):
        body = problem(client.post("/reports", headers=auth, json={"url": same}), 409)
        assert f"'{first['id']}'" in body["detail"]
    # Path and query keep their case: another page is another report.
    other = make_report(client, auth, "https://apnews.com/Article/hama?page=2")
    renamed = client.patch(
        f"/reports/{other['id']}",
        headers=auth,
        json={"url": "https://APNEWS.com/article/hama?page=2"},
    )
    assert f"'{first['id']}'" in problem(renamed, 409)["detail"]
    assert ids(client.get("/reports").json()) == [other["id"], first["id"]]


def test_text_is_stored_exactly_up_to_the_limit_and_omitted_from_lists(
    client: TestClient, auth: dict[str, str]
) -> None:
    # 500,000 Arabic characters: about 1 MB of UTF-8, over the default body limit of
    # 1 MiB once escaped, so /reports takes larger bodies.
    text = (ARABIC + "\n\t ") * (500_000 // (len(ARABIC) + 3))
    text += "ح" * (500_000 - len(text))
    assert len(text) == 500_000
    report = make_report(client, auth, text=text)
    assert client.get(f"/reports/{report['id']}").json()["text"] == text
    escaped = json.dumps({"url": REPORT_URL + "/escaped", "text": text})  # every char as \uXXXX
    assert len(escaped.encode()) > 2_000_000
    stored = client.post(
        "/reports", headers={**auth, "Content-Type": "application/json"}, content=escaped
    )
    assert stored.status_code == 201, stored.text[:200]
    listed = client.get("/reports").json()["items"]
    assert [set(item) for item in listed] == [REPORT_FIELDS - {"text"}] * 2


def test_a_text_over_the_limit_is_refused_and_not_stored(
    client: TestClient, auth: dict[str, str]
) -> None:
    too_long = {"url": REPORT_URL, "text": "x" * 500_001}
    response = client.post("/reports", headers=auth, json=too_long)
    assert error_fields(response) == {"text"}
    report = make_report(client, auth, text="short")
    patched = client.patch(f"/reports/{report['id']}", headers=auth, json={"text": "x" * 500_001})
    assert error_fields(patched) == {"text"}
    huge = client.post(
        "/reports",
        headers={**auth, "Content-Type": "application/json"},
        content=json.dumps({"url": REPORT_URL + "/2", "text": "\u0600" * 800_000}),  # ~4.8 MB
    )
    problem(huge, 413)
    assert [r["id"] for r in walk(client, "/reports")] == [report["id"]]
    assert client.get(f"/reports/{report['id']}").json()["text"] == "short"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"url"}),
        ({"url": "ftp://example.org/x"}, {"url"}),
        ({"url": "not a url"}, {"url"}),
        ({"url": REPORT_URL, "title": ""}, {"title"}),
        ({"url": REPORT_URL, "title": "x" * 501}, {"title"}),
        ({"url": REPORT_URL, "publisher_id": "999999"}, {"publisher_id"}),
        ({"url": REPORT_URL, "publisher_id": "abc"}, {"publisher_id"}),
        ({"url": REPORT_URL, "published_at": "2024-12-05T11:21:00"}, {"published_at"}),
        ({"url": REPORT_URL, "language": "not a tag"}, {"language"}),
        ({"url": REPORT_URL, "text": "nul \x00 inside"}, {"text"}),
        ({"url": REPORT_URL, "stance_count": 3}, {"stance_count"}),
        ({"url": REPORT_URL, "text": 12}, {"text"}),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, auth: dict[str, str], body: dict[str, Any], fields: set[str]
) -> None:
    assert error_fields(client.post("/reports", headers=auth, json=body)) == fields
    assert client.get("/reports").json()["items"] == []


def test_bad_updates_change_nothing(client: TestClient, auth: dict[str, str]) -> None:
    report = make_report(client, auth, title="Kept")
    for body, fields in (
        ({"url": None}, {"url"}),
        ({"language": None}, {"language"}),
        ({"publisher_id": "424242"}, {"publisher_id"}),
        ({"title": "x" * 501}, {"title"}),
    ):
        assert (
            error_fields(client.patch(f"/reports/{report['id']}", headers=auth, json=body))
            == fields
        )
    assert client.get(f"/reports/{report['id']}").json() == report
    problem(client.patch("/reports/999999", headers=auth, json={"title": "x"}), 404)
    problem(client.get("/reports/not-an-id"), 404)
    problem(client.delete("/reports/999999", headers=auth), 404)


def test_writes_need_a_key(client: TestClient, auth: dict[str, str]) -> None:
    problem(client.post("/reports", json={"url": REPORT_URL}), 401)
    report = make_report(client, auth)
    problem(client.patch(f"/reports/{report['id']}", json={"title": "x"}), 401)
    problem(client.delete(f"/reports/{report['id']}"), 401)


def test_list_is_newest_published_first_undated_last_and_pages_cleanly(
    client: TestClient, auth: dict[str, str]
) -> None:
    dates = [None, "2024-12-05T11:21:00Z", None, "2024-12-04T08:00:00Z"]
    dates += ["2024-12-05T11:21:00Z", None, "2024-12-06T00:00:00Z", "2024-12-05T11:21:00Z"]
    made = [
        make_report(client, auth, f"https://example.org/{n}", published_at=at)
        for n, at in enumerate(dates)
    ]

    def key(report: dict[str, Any]) -> tuple[int, str, int]:
        # Dated first, newest first; then undated; ties newest id first.
        at = report["published_at"]
        return (at is None, "" if at is None else _inverted(at), -int(report["id"]))

    expected = [r["id"] for r in sorted(made, key=key)]
    assert [r["published_at"] for r in made if r["id"] == expected[0]] == ["2024-12-06T00:00:00Z"]
    for limit in (1, 2, 3, 8):
        walked = walk(client, "/reports", {"limit": limit})
        assert [r["id"] for r in walked] == expected
    first = client.get("/reports", params={"limit": 3})
    assert first.headers["Link"].endswith('rel="next"')


def _inverted(timestamp: str) -> str:
    """A string that sorts in the opposite order of the RFC 3339 timestamp."""
    return "".join(chr(0x7F - ord(ch)) for ch in timestamp)


def test_list_filters_by_publisher_and_exact_url(client: TestClient, auth: dict[str, str]) -> None:
    ap = make_source(client, auth, "The Associated Press", "news_agency")
    sana = make_source(client, auth, "SANA", "state_media")
    a = make_report(client, auth, "https://apnews.com/a", publisher_id=ap["id"])
    b = make_report(client, auth, "https://sana.sy/b", publisher_id=sana["id"])
    make_report(client, auth, "https://example.org/c")
    assert ids(client.get("/reports", params={"publisher_id": ap["id"]}).json()) == [a["id"]]
    assert ids(client.get("/reports", params={"publisher_id": "nope"}).json()) == []
    assert ids(client.get("/reports", params={"url": "https://sana.sy/b"}).json()) == [b["id"]]
    assert ids(client.get("/reports", params={"url": "https://sana.sy/"}).json()) == []
    both = client.get("/reports", params={"url": "https://sana.sy/b", "publisher_id": ap["id"]})
    assert ids(both.json()) == []
    bad_cursor = client.get("/reports", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert error_fields(bad_cursor) == {"cursor"}


def test_stance_count_and_delete_while_cited(client: TestClient, auth: dict[str, str]) -> None:
    report = make_report(client, auth)
    source = make_source(client, auth, "SANA", "state_media")
    other = make_source(client, auth, "HTS", "armed_group")
    claim = make_claim(client, auth)
    add_stance(client, auth, claim["id"], source["id"], "denies", report_id=report["id"])
    add_stance(client, auth, claim["id"], other["id"], "asserts", report_id=report["id"])
    add_stance(client, auth, claim["id"], other["id"], "retracts", report_id=report["id"])
    assert client.get(f"/reports/{report['id']}").json()["stance_count"] == 3
    body = problem(client.delete(f"/reports/{report['id']}", headers=auth), 409)
    assert "3 stances cite it" in body["detail"]
    listed = client.get(f"/reports/{report['id']}/stances").json()["items"]
    assert [(s["stance"], s["report_id"]) for s in listed] == [
        ("retracts", report["id"]),
        ("asserts", report["id"]),
        ("denies", report["id"]),
    ]
    # A claim's stances go with it (a cascade in the database): so do their counts.
    assert client.delete(f"/claims/{claim['id']}", headers=auth).status_code == 204
    assert client.get(f"/reports/{report['id']}").json()["stance_count"] == 0
    assert client.get(f"/reports/{report['id']}/stances").json()["items"] == []
    assert client.delete(f"/reports/{report['id']}", headers=auth).status_code == 204
    problem(client.get("/reports/999999/stances"), 404)


def test_a_publisher_with_reports_cannot_be_deleted(
    client: TestClient, auth: dict[str, str]
) -> None:
    ap = make_source(client, auth, "The Associated Press", "news_agency")
    report = make_report(client, auth, publisher_id=ap["id"])
    body = problem(client.delete(f"/sources/{ap['id']}", headers=auth), 409)
    assert "reports" in body["detail"]
    assert client.get(f"/reports/{report['id']}").json()["publisher_id"] == ap["id"]
