"""POST /bulk and `claims-api import`: NDJSON in, one transaction per batch, status and
`current` exactly as the one-by-one API derives them."""

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.bulk_helpers import NDJSON, cli, ndjson, post_bulk
from tests.helpers import add_stance, make_claim, make_source

SOURCES = [
    {"name": "Syrian state media", "kind": "state_media", "affiliation": "Syrian government"},
    {"name": "Hayat Tahrir al-Sham", "kind": "armed_group", "affiliation": "Syrian opposition"},
    {"name": "Syrian National Army", "kind": "armed_group", "affiliation": "Syrian opposition"},
    {"name": "Wire agency", "kind": "news_agency"},
]
# (claim, source, stance, stated_at): a mind changed, a back-dated stance, a tie on stated_at.
STANCES = [
    (0, 1, "asserts", "2024-12-05T09:00:00Z"),
    (0, 0, "denies", "2024-12-05T11:21:00Z"),
    (0, 2, "asserts", "2024-12-05T10:00:00Z"),
    (1, 1, "asserts", "2024-12-05T09:00:00Z"),
    (1, 3, "asserts", "2024-12-05T09:30:00Z"),
    (2, 0, "asserts", "2024-12-05T08:00:00Z"),
    (2, 0, "denies", "2024-12-05T12:00:00Z"),
    (2, 0, "asserts", "2024-12-05T07:00:00Z"),
    (3, 3, "denies", "2024-12-05T10:00:00Z"),
    (3, 3, "asserts", "2024-12-05T10:00:00Z"),
    (4, 1, "asserts", "2024-12-05T10:00:00Z"),
    (4, 2, "asserts", "2024-12-05T10:00:00Z"),
]
CLAIM_COUNT = 6  # the last one stays unsourced
STANCE_LINE = (
    '{"type": "stance", "id": "t", "claim_id": "c", "source_id": "s", "stance": "asserts"}'
)


def _file(prefix: str) -> bytes:
    records: list[dict[str, Any]] = [
        {"type": "header", "format": "claims-api-ndjson", "version": 1}
    ]
    records += [{"type": "source", "id": f"s{i}", **s} for i, s in enumerate(SOURCES)]
    records += [
        {"type": "claim", "id": f"c{i}", "text": f"{prefix} claim {i}", "tags": ["bulk"]}
        for i in range(CLAIM_COUNT)
    ]
    records += [
        {
            "type": "stance",
            "id": f"t{n}",
            "claim_id": f"c{c}",
            "source_id": f"s{s}",
            "stance": kind,
            "stated_at": at,
        }
        for n, (c, s, kind, at) in enumerate(STANCES)
    ]
    return ndjson(*records)


def _one_by_one(client: TestClient, auth: dict[str, str], sources: list[str]) -> list[str]:
    claims = [make_claim(client, auth, f"api claim {i}")["id"] for i in range(CLAIM_COUNT)]
    for c, s, kind, at in STANCES:
        add_stance(client, auth, claims[c], sources[s], kind, stated_at=at)
    return claims


def _derived(client: TestClient, claim_id: str) -> tuple[Any, ...]:
    detail = client.get(f"/claims/{claim_id}").json()
    history = client.get(f"/claims/{claim_id}/stances", params={"limit": 100}).json()["items"]
    timeline = client.get(f"/claims/{claim_id}/timeline").json()["items"]
    return (
        detail["status"],
        detail["asserting_sources"],
        detail["denying_sources"],
        detail["status_explanation"],
        detail["status_since"],
        [(s["source_id"], s["stance"], s["stated_at"], s["current"]) for s in history],
        [
            (
                {k: v for k, v in p.items() if k != "changed_by"},
                [p["changed_by"][k] for k in ("source_id", "stance", "stated_at")],
            )
            for p in timeline
        ],
    )


def test_bulk_derives_status_counts_and_current_exactly_as_single_writes(
    client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    response = post_bulk(client, auth, _file("bulk"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert {k: v for k, v in result.items() if not k.endswith("_ids")} == {
        "lines": 1 + len(SOURCES) + CLAIM_COUNT + len(STANCES),
        "sources_created": 4,
        "sources_matched": 0,
        "reports_created": 0,
        "reports_matched": 0,
        "claims_created": CLAIM_COUNT,
        "stances_created": len(STANCES),
    }
    sources = [result["source_ids"][f"s{i}"] for i in range(len(SOURCES))]
    bulk_claims = [result["claim_ids"][f"c{i}"] for i in range(CLAIM_COUNT)]
    api_claims = _one_by_one(client, auth, sources)

    for bulk_id, api_id in zip(bulk_claims, api_claims, strict=True):
        assert _derived(client, bulk_id) == _derived(client, api_id)
    statuses = [client.get(f"/claims/{c}").json()["status"] for c in bulk_claims]
    assert statuses == ["disputed", "corroborated", "denied", "asserted", "asserted", "unsourced"]

    checked = cli(database_url, tmp_path, "check")
    assert (checked.returncode, checked.stdout.strip()) == (0, "0 mismatch(es) found")


def test_bulk_claims_are_searchable_and_filterable_like_any(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = ndjson(
        {"type": "source", "id": "s", "name": "Syrian state media", "kind": "state_media"},
        {"type": "claim", "id": "a", "text": "Insurgents reached Kazo.", "tags": ["hama"]},
        {"type": "claim", "id": "b", "text": "دخلت الفصائل مدينة حماة", "language": "AR"},
        {"type": "stance", "id": "t", "claim_id": "b", "source_id": "s", "stance": "denies"},
    )
    ids = post_bulk(client, auth, body).json()["claim_ids"]
    made = make_claim(client, auth, "Kazo was quiet.")["id"]  # the insert triggers are back

    def found(**params: Any) -> list[str]:
        return [c["id"] for c in client.get("/claims", params=params).json()["items"]]

    assert found(q="Kazo") == [made, ids["a"]]
    assert found(q="حماة") == [ids["b"]]
    assert found(tag="hama") == [ids["a"]]
    assert found(stance="denies", source_kind="state_media") == [ids["b"]]
    assert client.get(f"/claims/{ids['b']}").json()["language"] == "ar"


def test_bulk_emits_no_webhook_events(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    assert post_bulk(client, auth, _file("quiet")).status_code == 200
    with app.state.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM event")).scalar_one() == 0


@pytest.mark.parametrize("batch_size", [None, 5])
def test_a_later_verdict_line_replaces_the_claims_verdict_without_events(
    client: TestClient,
    auth: dict[str, str],
    app: FastAPI,
    database_url: str,
    tmp_path: Path,
    batch_size: int | None,
) -> None:
    """In one batch (POST /bulk), and with the second verdict in a later batch (CLI)."""
    verdict = {"type": "verdict", "claim_id": "c", "source_id": "f"}
    body = ndjson(
        {"type": "source", "id": "s", "name": "Monitor", "kind": "monitor"},
        {"type": "source", "id": "f", "name": "Fact-check desk", "kind": "other"},
        {"type": "claim", "id": "c", "text": "x", "updated_at": "2024-12-05T10:00:00Z"},
        {"type": "stance", "id": "t", "claim_id": "c", "source_id": "s", "stance": "asserts"},
        {**verdict, "rating": "false", "created_at": "2024-12-06T09:00:00Z"},
        {**verdict, "rating": "mostly_true", "created_at": "2024-12-06T10:00:00Z"},
    )
    if batch_size is None:
        response = post_bulk(client, auth, body)
        assert response.status_code == 200, response.text
    else:
        path = tmp_path / "verdicts.ndjson"
        path.write_bytes(body)
        result = cli(database_url, tmp_path, "import", str(path), "--batch-size", str(batch_size))
        assert result.returncode == 0, result.stderr
    [listed] = client.get("/claims").json()["items"]
    claim = client.get(f"/claims/{listed['id']}").json()
    assert (claim["status"], claim["asserting_sources"], claim["updated_at"]) == (
        "asserted",
        1,
        "2024-12-05T10:00:00Z",
    )
    assert (claim["verdict"]["rating"], claim["verdict"]["source"]["name"]) == (
        "mostly_true",
        "Fact-check desk",
    )
    # reviewed_at defaults to created_at.
    assert claim["verdict"]["reviewed_at"] == "2024-12-06T10:00:00Z"
    with app.state.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM verdict")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT COUNT(*) FROM event")).scalar_one() == 0


@pytest.mark.parametrize(
    ("lines", "field", "code"),
    [
        (['{"type": "claim", "id": "c", "text": ""}'], "line 1.text", "string_too_short"),
        (['{"type": "claim", "id": "c", "text": "x"}', "not json"], "line 2", "json_invalid"),
        (['{"type": "comment", "id": "v"}'], "line 1", "union_tag_invalid"),
        (['{"type": "claim", "id": "c", "text": "x", "status": "true"}'], "line 1.status", "enum"),
        (
            ['{"type": "claim", "id": "c", "text": "x", "colour": 1}'],
            "line 1.colour",
            "extra_forbidden",
        ),
        (
            [
                '{"type": "claim", "id": "c", "text": "x"}',
                '{"type": "claim", "id": "c", "text": "y"}',
            ],
            "line 2.id",
            "duplicate_id",
        ),
        (
            [
                '{"type": "source", "id": "s", "name": "A", "kind": "ngo"}',
                STANCE_LINE,
                '{"type": "claim", "id": "c", "text": "x"}',
            ],
            "line 2.claim_id",
            "unknown_claim",
        ),
        (
            [
                '{"type": "claim", "id": "c", "text": "x"}',
                "",
                STANCE_LINE,
            ],
            "line 3.source_id",
            "unknown_source",
        ),
        (
            [
                '{"type": "source", "id": "s", "name": "A", "kind": "ngo"}',
                '{"type": "claim", "id": "c", "text": "x"}',
                '{"type": "verdict", "claim_id": "nope", "source_id": "s", "rating": "false"}',
            ],
            "line 3.claim_id",
            "unknown_claim",
        ),
        (
            [
                '{"type": "claim", "id": "c", "text": "x"}',
                '{"type": "verdict", "claim_id": "c", "source_id": "s", "rating": "false"}',
            ],
            "line 2.source_id",
            "unknown_source",
        ),
        (
            [
                '{"type": "source", "id": "s", "name": "A", "kind": "ngo"}',
                '{"type": "claim", "id": "c", "text": "x"}',
                '{"type": "verdict", "claim_id": "c", "source_id": "s", "rating": "fake"}',
            ],
            "line 3.rating",
            "enum",
        ),
        (
            [
                '{"type": "claim", "id": "c", "text": "x"}',
                '{"type": "header", "format": "claims-api-ndjson", "version": 1}',
            ],
            "line 2.type",
            "misplaced_header",
        ),
        (
            ['{"type": "header", "format": "claims-api-ndjson", "version": 2}'],
            "line 1.version",
            "literal_error",
        ),
        (
            ['{"type": "claim", "id": "c", "text": "x", "created_at": "2024-12-05T10:00:00"}'],
            "line 1.created_at",
            "timezone_aware",
        ),
        (['{"type": "claim", "id": "c", "text": "nul \\u0000"}'], "line 1.text", "value_error"),
    ],
)
def test_a_bad_line_is_422_naming_it_and_nothing_is_written(
    client: TestClient, auth: dict[str, str], lines: list[str], field: str, code: str
) -> None:
    good = '{"type": "source", "id": "first", "name": "Written first?", "kind": "ngo"}\n'
    body = good + "\n".join(lines) + "\n"
    shifted = field.replace("line ", "")
    number, _, rest = shifted.partition(".")
    expected_field = f"line {int(number) + 1}" + (f".{rest}" if rest else "")
    response = client.post("/bulk", content=body.encode(), headers={**auth, **NDJSON})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(expected_field, code)]
    assert problem["detail"].startswith(f"Line {int(number) + 1} is invalid: ")
    assert client.get("/sources").json()["items"] == []
    assert client.get("/claims").json()["items"] == []


def test_sources_are_matched_by_name_and_reimport_duplicates_claims(
    client: TestClient, auth: dict[str, str]
) -> None:
    existing = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    body = ndjson(
        {"type": "source", "id": "x", "name": "  SYRIAN STATE MEDIA ", "kind": "other"},
        {"type": "source", "id": "y", "name": "syrian state media", "kind": "ngo"},
        {"type": "claim", "id": "c", "text": "Clashes in the east of Hama."},
        {"type": "stance", "id": "t", "claim_id": "c", "source_id": "y", "stance": "asserts"},
    )
    first = post_bulk(client, auth, body).json()
    second = post_bulk(client, auth, body).json()
    for result in (first, second):
        assert (result["sources_created"], result["sources_matched"]) == (0, 2)
        assert result["source_ids"] == {"x": existing["id"], "y": existing["id"]}
        assert (result["claims_created"], result["stances_created"]) == (1, 1)
    assert first["claim_ids"]["c"] != second["claim_ids"]["c"]
    assert client.get(f"/sources/{existing['id']}").json() == existing  # left as it was
    assert [c["status"] for c in client.get("/claims").json()["items"]] == ["asserted"] * 2


def test_bulk_keeps_timestamps_and_defaults_the_missing_ones(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = ndjson(
        {
            "type": "source",
            "id": "s",
            "name": "A",
            "kind": "ngo",
            "created_at": "2024-01-01T00:00:00+02:00",
        },
        {
            "type": "claim",
            "id": "c",
            "text": "x",
            "created_at": "2024-12-05T08:00:00.123456Z",
            "updated_at": "2024-12-05T09:00:00Z",
        },
        {
            "type": "stance",
            "id": "t",
            "claim_id": "c",
            "source_id": "s",
            "stance": "asserts",
            "created_at": "2024-12-05T08:30:00Z",
        },
    )
    result = post_bulk(client, auth, body).json()
    claim = client.get(f"/claims/{result['claim_ids']['c']}").json()
    assert (claim["created_at"], claim["updated_at"]) == (
        "2024-12-05T08:00:00.123456Z",
        "2024-12-05T09:00:00Z",
    )
    [stance] = claim["stances"]
    assert (stance["stated_at"], stance["created_at"]) == ("2024-12-05T08:30:00Z",) * 2
    source = client.get(f"/sources/{result['source_ids']['s']}").json()
    assert source["created_at"] == "2023-12-31T22:00:00Z"
    assert source["updated_at"] > "2026"  # absent: the time of the import


def test_bulk_needs_a_write_key_and_ndjson(
    client: TestClient, auth: dict[str, str], read_auth: dict[str, str]
) -> None:
    body = ndjson({"type": "claim", "id": "c", "text": "x"})
    assert client.post("/bulk", content=body, headers=NDJSON).status_code == 401
    assert client.post("/bulk", content=body, headers={**read_auth, **NDJSON}).status_code == 403
    response = client.post("/bulk", content=body, headers={**auth, "Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["type"] == "/problems/unsupported-media-type"
    response = client.post(
        "/bulk",
        content=body,
        headers={**auth, "Content-Type": "application/x-ndjson; charset=utf-8"},
    )
    assert response.status_code == 200
    assert client.get("/claims").json()["items"][0]["text"] == "x"


def test_bulk_body_over_the_limit_is_413(client: TestClient, auth: dict[str, str]) -> None:
    line = ndjson({"type": "claim", "id": "c", "text": "x" * 2000})
    body = b"".join(line.replace(b'"c"', f'"c{i}"'.encode()) for i in range(600))
    assert len(body) > 1024 * 1024
    response = client.post("/bulk", content=body, headers={**auth, **NDJSON})
    assert response.status_code == 413
    assert client.get("/claims").json()["items"] == []


def test_cli_import_commits_batches_resolves_earlier_batches_and_prints_counts(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "data.ndjson"
    path.write_bytes(_file("cli"))
    # Batches of 3 records: stances land in batches after their claims', some claims get
    # stances over several batches, and a superseded stance is in an earlier batch.
    result = cli(database_url, tmp_path, "import", str(path), "--batch-size", "3")
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(
        f"imported: 4 sources created, 0 matched by name, {CLAIM_COUNT} claims, "
        f"{len(STANCES)} stances from {1 + len(SOURCES) + CLAIM_COUNT + len(STANCES)} lines in "
    )
    claims = client.get("/claims", params={"sort": "created_at", "limit": 100}).json()["items"]
    assert [c["status"] for c in claims] == [
        "disputed",
        "corroborated",
        "denied",
        "asserted",
        "asserted",
        "unsourced",
    ]
    checked = cli(database_url, tmp_path, "check")
    assert (checked.returncode, checked.stdout.strip()) == (0, "0 mismatch(es) found")


def test_cli_import_reads_stdin_and_stops_at_a_bad_line(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    body = ndjson(
        {"type": "claim", "id": "a", "text": "first batch"},
        {"type": "claim", "id": "b", "text": "first batch too"},
        {"type": "claim", "id": "c", "text": "second batch"},
        {"type": "claim", "id": "d", "text": ""},
    ).decode()
    result = cli(database_url, tmp_path, "import", "-", "--batch-size", "2", stdin=body)
    assert result.returncode == 1
    assert "Line 4 is invalid: text: String should have at least 1 character" in result.stderr
    texts = [
        c["text"] for c in client.get("/claims", params={"sort": "created_at"}).json()["items"]
    ]
    assert texts == ["first batch", "first batch too"]

    good = cli(database_url, tmp_path, "import", "-", stdin=body.replace('""', '"fixed"'))
    assert good.returncode == 0, good.stderr
    assert "0 sources created, 0 matched by name, 4 claims, 0 stances" in good.stdout
