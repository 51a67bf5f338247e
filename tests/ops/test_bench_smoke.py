"""The benchmark works end to end at a tiny size (no timing is asserted anywhere).

The archive the bench builds must be one the service itself could have written (`claims-api
check` finds nothing), Datasette's canned queries must return what the service returns for
the same scenario, and a short run through wrk must produce a result and a report.
"""

import json
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import make_engine
from app.main import create_app
from app.ops.consistency import find_mismatches
from bench import build, plans, run
from bench.load import finish, load
from bench.mixed import mixed_urls
from bench.ndjson import records
from bench.peers import same_sql
from bench.report import render
from bench.scenarios import CANNED_QUERIES, pick_params, read_scenarios

CLAIMS = 300


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(build, "DATA", tmp_path)
    return tmp_path


def test_archive_is_consistent_and_peers_answer_the_same_rows(data_dir: Path) -> None:
    archive = build.build("sqlite", CLAIMS)
    assert archive.built is not None
    engine = make_engine(Settings(database_url=archive.url))
    try:
        assert list(find_mismatches(engine=engine)) == []
    finally:
        engine.dispose()

    db = sqlite3.connect(str(build.sqlite_path(CLAIMS)))
    db.row_factory = sqlite3.Row
    assert db.execute("SELECT count(*) FROM claim").fetchone()[0] == CLAIMS
    assert {s for (s,) in db.execute("SELECT DISTINCT status FROM claim")} == {
        "unsourced", "asserted", "corroborated", "denied", "disputed",
    }  # fmt: skip
    assert {lang for (lang,) in db.execute("SELECT DISTINCT language FROM claim")} == {"en", "ar"}

    params = pick_params(archive.url)
    app = create_app(Settings(database_url=archive.url, rate_limit_per_minute=0))
    with TestClient(app) as client:
        for scenario in read_scenarios(params):
            answer = client.get(scenario.app_url)
            assert answer.status_code == 200, scenario.name
            if scenario.html:
                # The desk's pages: no peer query. The front page shows the disputed claims
                # (the archive has them), a claim's page draws its timeline.
                assert answer.headers["content-type"].startswith("text/html"), scenario.name
                assert ("Disputed" if scenario.name == "desk" else "<svg") in answer.text
                continue
            sql = CANNED_QUERIES[scenario.datasette_query]
            rows = db.execute(sql, scenario.datasette_params).fetchall()
            if scenario.name == "claim":
                stance_ids = [str(row["stance_id"]) for row in rows]
                assert [s["id"] for s in answer.json()["stances"]] == stance_ids
            elif scenario.name == "timeline":
                began = [str(row["changed_by_stance_id"]) for row in rows]
                assert [p["changed_by"]["id"] for p in answer.json()["items"]] == began
                assert began
            else:
                ids = [str(row[0]) for row in rows][:20]
                assert [c["id"] for c in answer.json()["items"]] == ids, scenario.name
                assert ids  # every list scenario finds something to page through
    db.close()


PEER_CLAIMS = 120


def test_peer_d_answers_the_service_bytes_on_every_bench_url(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Peer (d) runs the service's SQL through the stdlib driver of each engine and must
    answer every URL the bench sends (the read scenarios and the mixed run's walks) with the
    service's bytes, Link and ETag, as the runner checks before timing it."""
    stats = load(database_url, PEER_CLAIMS)
    finish(database_url)
    assert stats.claims == PEER_CLAIMS
    monkeypatch.setattr(same_sql, "DB", same_sql.driver(database_url))
    app = create_app(
        Settings(database_url=database_url, rate_limit_per_minute=0, response_cache_bytes=0)
    )
    with TestClient(app) as client, TestClient(same_sql.app) as peer:
        scenarios = [
            s.app_url
            for s in read_scenarios(pick_params(database_url))
            if s.name in same_sql.SCENARIOS
        ]
        walked = mixed_urls(client, PEER_CLAIMS)
        paths = scenarios + walked
        # Every kind of URL the mixed run cycles through, cursor pages among them.
        assert {p.split("?")[0].rstrip("0123456789") for p in walked} == {"/claims", "/claims/"}
        assert {k for p in walked for k in parse_qs(urlsplit(p).query)} == {
            "status", "stance", "source_kind", "q", "place", "language", "limit", "cursor",
        }  # fmt: skip
        for path in paths:
            ours, theirs = client.get(path), peer.get(path)
            assert ours.status_code == theirs.status_code == 200, path
            assert theirs.content == ours.content, path
            assert theirs.headers.get("link") == ours.headers.get("link"), path
            assert theirs.headers.get("etag") == ours.headers.get("etag"), path
    app.state.engine.dispose()


def test_ndjson_follows_the_bulk_format() -> None:
    lines = list(records(50))
    assert lines[0] == {"type": "header", "format": "claims-api-ndjson", "version": 1}
    seen: dict[str, set[str]] = {"source": set(), "claim": set(), "stance": set()}
    for record in lines[1:]:
        kind = str(record["type"])
        assert record["id"] not in seen[kind]
        if kind == "stance":
            assert record["claim_id"] in seen["claim"]
            assert record["source_id"] in seen["source"]
        seen[kind].add(str(record["id"]))
    assert len(seen["claim"]) == 50
    assert len(seen["source"]) == 2000
    json.dumps(lines, ensure_ascii=False)


def test_a_tiny_run_through_wrk_produces_results_and_a_report(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "result.json"
    run.main(
        ["--sizes", str(CLAIMS), "--engines", "sqlite", "--duration", "1", "--warmup", "0",
         "--no-peers",
         "--check-writes", "--import-into-min", str(CLAIMS), "--out", str(out)]
    )  # fmt: skip
    result = json.loads(out.read_text())
    scenarios = {r["scenario"] for r in result["rows"] if r["server"] == "claims-api"}
    assert scenarios == {
        "disputed", "denied_by_state_media", "search", "search_relevance", "deep_page", "claim",
        "stance_posts", "as_of_disputed", "as_of_recent", "timeline", "desk", "desk_claim",
        "peak_rss_mb", "mixed",
    }  # fmt: skip
    uncached = {r["scenario"] for r in result["rows"] if r["server"] == "claims-api (no cache)"}
    assert uncached == scenarios - {"stance_posts"}
    for row in result["rows"]:
        if "errors" in row:
            assert row["errors"] == 0, row
            assert row["requests"] > 0, row
    # The archive was built by the service's own bulk loader, and that load was timed.
    load = next(r for r in result["rows"] if r["scenario"] == "bulk_load")
    assert load["server"] == "claims-api import"
    assert load["stances"] > CLAIMS and load["cpu_seconds"] > 0
    # The same file imported again into a copy of the full archive: as many stances again.
    into = next(r for r in result["rows"] if r["scenario"] == "bulk_into_archive")
    assert (into["imported_claims"], into["stances"]) == (CLAIMS, load["stances"])
    # The mixed run: the service with and without its cache, and peer (d), each reading the
    # same distinct URLs while the paced writer posts; the service's cache was observed.
    mixed = {r["server"]: r for r in result["rows"] if r["scenario"] == "mixed"}
    assert set(mixed) == {"claims-api", "claims-api (no cache)", "same-sql (d)"}
    assert {r["urls"] for r in mixed.values()} == {len(set(paths_of_mixed_run(data_dir)))}
    for row in mixed.values():
        assert row["write_errors"] == 0, row
        assert row["writes"] > 0, row
    counted = mixed["claims-api"]
    assert isinstance(counted["cache_hits"], int) and isinstance(counted["cache_misses"], int)
    assert counted["cache_hits"] + counted["cache_misses"] > 0
    posts = next(r for r in result["rows"] if r["scenario"] == "stance_posts")
    assert posts["check"] == "0 mismatch(es) found"
    report = render(result)
    assert "| disputed |" in report
    assert "| peak RSS < 200 MB serving 300 claims |" in report
    assert "| mixed run >= 1.0x of peer (d) (sqlite, 300) |" in report


def paths_of_mixed_run(data_dir: Path) -> list[str]:
    return (data_dir / "mixed" / f"paths-sqlite-{CLAIMS}.txt").read_text().split()


def test_the_plans_of_the_tiny_archive_are_explained_and_index_served(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "PLANS.md"
    assert plans.main(["--sizes", str(CLAIMS), "--engines", "sqlite", "--out", str(out)]) == 0
    text = out.read_text()
    for name in plans.ORDERED_LISTS:
        assert f"| sqlite {CLAIMS} | {name} | yes | " in text, text
    assert "SEARCH claim_status_period USING" in text, text
