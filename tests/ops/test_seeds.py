"""The seeds: the Hama report as data, loaded by the real `claims-api seed`, twice."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.search.stored import rewrite_columns
from tests.helpers import ids, run_cli, walk

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
DOCUMENT = json.loads((SEEDS / "hama-2024-12-05.json").read_text(encoding="utf-8"))
REPORT = (SEEDS / "hama-2024-12-05.txt").read_text(encoding="utf-8")
CENTRAL = "Syrian insurgents entered the city of Hama."
SOURCES, CLAIMS, STANCES = 5, 19, 24


def stances_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [stance for claim in document["claims"] for stance in claim["stances"]]


def test_the_seed_file_reads_the_report() -> None:
    stances = stances_of(DOCUMENT)
    assert (len(DOCUMENT["sources"]), len(DOCUMENT["claims"]), len(stances)) == (
        SOURCES,
        CLAIMS,
        STANCES,
    )
    # Every stance quotes the report word for word, with its time and the report it came by.
    assert [s["quote"] for s in stances if s["quote"] not in REPORT] == []
    assert {(s["stated_at"], s["reported_via"]) for s in stances} == {
        (DOCUMENT["report"]["published_at"], DOCUMENT["report"]["reported_via"])
    }
    assert len({claim["text"] for claim in DOCUMENT["claims"]}) == CLAIMS
    central = next(claim for claim in DOCUMENT["claims"] if claim["text"] == CENTRAL)
    assert {(s["source"], s["stance"]) for s in central["stances"]} == {
        ("Hayat Tahrir al-Sham", "asserts"),
        ("Syrian National Army", "asserts"),
        ("Syrian state media", "denies"),
    }
    # Who says what, by source: only state media denies anything.
    assert Counter((s["source"], s["stance"]) for s in stances) == {
        ("Hayat Tahrir al-Sham", "asserts"): 4,
        ("Syrian National Army", "asserts"): 4,
        ("Syrian state media", "denies"): 1,
        ("Syrian state media", "asserts"): 1,
        ("Syrian opposition war monitors", "asserts"): 1,
        ("The Associated Press", "asserts"): 13,
    }


def test_seed_twice_adds_everything_once(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    first = run_cli(database_url, tmp_path, "seed")
    assert (first.returncode, first.stdout.splitlines()[-1]) == (
        0,
        f"{SOURCES} sources added, 1 report added, {CLAIMS} claims added, {STANCES} stances added",
    ), first.stderr
    before = {
        "sources": walk(client, "/sources", {"limit": 100}),
        "claims": walk(client, "/claims", {"limit": 100}),
    }
    second = run_cli(database_url, tmp_path, "seed")
    assert (second.returncode, second.stdout.splitlines()[-1]) == (
        0,
        "0 sources added, 0 reports added, 0 claims added, 0 stances added",
    ), second.stderr
    after = {
        "sources": walk(client, "/sources", {"limit": 100}),
        "claims": walk(client, "/claims", {"limit": 100}),
    }
    assert after == before
    assert (len(after["sources"]), len(after["claims"])) == (SOURCES, CLAIMS)
    histories = [walk(client, f"/claims/{c['id']}/stances") for c in after["claims"]]
    assert sum(len(history) for history in histories) == STANCES
    assert {s["current"] for history in histories for s in history} == {True}
    assert Counter(c["status"] for c in after["claims"]) == {"disputed": 1, "asserted": 18}


def test_the_central_claim_is_disputed_and_state_media_deny_it(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    assert run_cli(database_url, tmp_path, "seed").returncode == 0
    disputed = client.get("/claims", params={"status": "disputed"}).json()
    denied_by_state_media = client.get(
        "/claims", params={"stance": "denies", "source_kind": "state_media"}
    ).json()
    assert [c["text"] for c in disputed["items"]] == [CENTRAL]
    assert ids(denied_by_state_media) == ids(disputed)
    central = client.get(f"/claims/{ids(disputed)[0]}").json()
    assert (
        central["status"],
        central["asserting_sources"],
        central["denying_sources"],
        central["place"],
        central["tags"],
    ) == ("disputed", 2, 1, "Hama", ["syria", "hama-offensive-2024"])
    assert central["status_explanation"] == (
        "disputed: asserted by 2 sources (Syrian opposition), "
        "denied by 1 source (Syrian government); known through 1 report"
    )
    assert {
        (s["source"]["name"], s["source"]["kind"], s["stance"], s["stated_at"], s["quote"])
        for s in central["stances"]
    } == {
        (
            "Hayat Tahrir al-Sham",
            "armed_group",
            "asserts",
            "2024-12-05T11:21:00Z",
            "Syrian insurgents claimed to have entered parts of the central city of Hama",
        ),
        (
            "Syrian National Army",
            "armed_group",
            "asserts",
            "2024-12-05T11:21:00Z",
            "Syrian insurgents claimed to have entered parts of the central city of Hama",
        ),
        (
            "Syrian state media",
            "state_media",
            "denies",
            "2024-12-05T11:21:00Z",
            "they denied that insurgents had breached the city itself",
        ),
    }
    assert {s["reported_via"] for s in central["stances"]} == {DOCUMENT["report"]["reported_via"]}
    # State media confirm the clashes in the east while denying the breach.
    confirmed = client.get(
        "/claims", params={"stance": "asserts", "source_kind": "state_media"}
    ).json()
    assert [c["text"] for c in confirmed["items"]] == [
        "Government forces and insurgents fought violent clashes in the eastern areas of Hama."
    ]
    assert [c["text"] for c in client.get("/claims", params={"q": "Sawaaeq"}).json()["items"]] == [
        "Insurgents secured positions in several Hama neighbourhoods, including Sawaaeq and "
        "Zahiriyeh."
    ]


def test_the_report_is_a_record_and_every_seeded_quote_is_found_in_it(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    assert run_cli(database_url, tmp_path, "seed").returncode == 0
    [report] = walk(client, "/reports")
    ap = client.get("/sources", params={"q": "Associated Press"}).json()["items"]
    full = client.get(f"/reports/{report['id']}").json()
    assert {
        k: full[k] for k in ("url", "title", "publisher_id", "published_at", "language", "text")
    } == {
        "url": DOCUMENT["report"]["url"],
        "title": "Syrian Insurgents Enter Hama City After Intense Clashes, Seize Key Areas",
        "publisher_id": ap[0]["id"],
        "published_at": "2024-12-05T11:21:00Z",
        "language": "en",
        "text": REPORT,
    }
    assert full["stance_count"] == STANCES
    cited = walk(client, f"/reports/{report['id']}/stances", {"limit": 100})
    assert len(cited) == STANCES
    assert {(s["report_id"], s["quote_found"]) for s in cited} == {(report["id"], True)}
    assert [c["id"] for c in walk(client, "/claims", {"report_id": report["id"]})] == [
        c["id"] for c in walk(client, "/claims")
    ]
    again = run_cli(database_url, tmp_path, "seed")
    assert again.stdout.splitlines()[-1] == (
        "0 sources added, 0 reports added, 0 claims added, 0 stances added"
    )
    assert walk(client, "/reports") == [report]


def test_seeding_again_cites_the_report_and_search_finds_its_title(
    app: FastAPI, client: TestClient, database_url: str, tmp_path: Path
) -> None:
    """A database seeded before stances cited reports: seeding again cites the report,
    and each claim's search column gets the report's title ("Seize" is only there)."""
    assert run_cli(database_url, tmp_path, "seed").returncode == 0
    every_claim = {c["id"] for c in walk(client, "/claims", {"limit": 100})}
    assert set(ids(client.get("/claims", params={"q": "seize", "limit": 100}).json())) == (
        every_claim
    )
    with app.state.engine.begin() as conn:
        conn.execute(sa.text("UPDATE stance SET report_id = NULL, quote_found = NULL"))
        rewrite_columns(conn, sorted(int(pk) for pk in every_claim))  # as that seed left them
    assert ids(client.get("/claims", params={"q": "seize"}).json()) == []

    again = run_cli(database_url, tmp_path, "seed")
    assert again.stdout.splitlines()[-1] == (
        "0 sources added, 0 reports added, 0 claims added, 0 stances added"
    )
    assert set(ids(client.get("/claims", params={"q": "seize", "limit": 100}).json())) == (
        every_claim
    )
    assert run_cli(database_url, tmp_path, "check").stdout == "0 mismatch(es) found\n"
