"""GET /claims with Accept: text/csv: the filtered list as RFC 4180 CSV, safe to open in a
spreadsheet."""

import csv
import io

from fastapi.testclient import TestClient

from tests.helpers import add_stance, make_claim, make_source

CSV = {"Accept": "text/csv"}
HEADER = [
    "id",
    "text",
    "language",
    "place",
    "occurred_at",
    "tags",
    "status",
    "asserting_sources",
    "denying_sources",
    "created_at",
    "updated_at",
    "status_since",
]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_honours_filters_and_sort_and_quotes_per_rfc_4180(
    client: TestClient, auth: dict[str, str]
) -> None:
    state = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    tricky = make_claim(
        client,
        auth,
        'Clashes, "fierce" ones,\r\nin the east',
        place="Hama",
        occurred_at="2024-12-05T08:00:00Z",
        tags=["syria", "hama"],
    )
    plain = make_claim(client, auth, "Insurgents entered Hama.", place="Hama", tags=["syria"])
    make_claim(client, auth, "Elsewhere.", place="Homs", tags=["syria"])
    add_stance(client, auth, tricky["id"], state["id"], "denies")
    add_stance(client, auth, plain["id"], state["id"], "denies")

    response = client.get(
        "/claims",
        params={"place": "Hama", "stance": "denies", "sort": "created_at"},
        headers=CSV,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.content.count(b"\r\n") == 4  # three records' ends and one inside a quote
    assert response.text.startswith(",".join(HEADER) + "\r\n")
    json_items = client.get(
        "/claims", params={"place": "Hama", "stance": "denies", "sort": "created_at"}
    ).json()["items"]
    expected = [
        [
            item["id"],
            item["text"],
            item["language"],
            item["place"],
            item["occurred_at"] or "",
            "; ".join(item["tags"]),
            item["status"],
            str(item["asserting_sources"]),
            str(item["denying_sources"]),
            item["created_at"],
            item["updated_at"],
            item["status_since"] or "",
        ]
        for item in json_items
    ]
    assert _rows(response.text) == [HEADER, *expected]
    assert [row[0] for row in expected] == [tricky["id"], plain["id"]]
    assert expected[0][4] == "2024-12-05T08:00:00Z"


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(
    client: TestClient, auth: dict[str, str]
) -> None:
    make_claim(
        client,
        auth,
        '=HYPERLINK("https://evil.example","click")',
        place="+1 Hama",
        tags=["-2+3", "@SUM(A1)", "safe"],
    )
    make_claim(client, auth, "\tTabbed", language="en")
    rows = _rows(client.get("/claims", params={"sort": "created_at"}, headers=CSV).text)
    assert [(r[1], r[3], r[5]) for r in rows[1:]] == [
        ('\'=HYPERLINK("https://evil.example","click")', "'+1 Hama", "'-2+3; @SUM(A1); safe"),
        ("'\tTabbed", "", ""),
    ]


def test_csv_streams_every_match_unless_a_limit_is_given(
    client: TestClient, auth: dict[str, str]
) -> None:
    made = [make_claim(client, auth, f"claim {i}")["id"] for i in range(25)]
    everything = _rows(client.get("/claims", params={"sort": "created_at"}, headers=CSV).text)
    assert [row[0] for row in everything[1:]] == made  # past the default page size of 20

    page = client.get("/claims", params={"sort": "created_at", "limit": 10}, headers=CSV)
    assert [row[0] for row in _rows(page.text)[1:]] == made[:10]
    assert page.headers["link"].endswith('>; rel="next"')
    cursor = page.headers["link"].split("cursor=")[1].split(">")[0]
    rest = client.get("/claims", params={"sort": "created_at", "cursor": cursor}, headers=CSV)
    assert [row[0] for row in _rows(rest.text)[1:]] == made[10:]
    assert "link" not in rest.headers

    empty = client.get("/claims", params={"tag": "none"}, headers=CSV)
    assert _rows(empty.text) == [HEADER]


def test_csv_errors_are_problem_json_and_json_stays_the_default(
    client: TestClient, auth: dict[str, str]
) -> None:
    make_claim(client, auth, "x")
    bad = client.get("/claims", params={"cursor": "nope"}, headers=CSV)
    assert (bad.status_code, bad.headers["content-type"]) == (422, "application/problem+json")
    bad = client.get("/claims", params={"status": "maybe"}, headers=CSV)
    assert bad.status_code == 422
    for accept in ("application/json", "application/json, text/csv", "*/*"):
        response = client.get("/claims", headers={"Accept": accept})
        assert response.headers["content-type"] == "application/json", accept
    response = client.get("/claims", headers={"Accept": "text/csv, application/json"})
    assert response.headers["content-type"].startswith("text/csv")
