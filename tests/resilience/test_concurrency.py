"""Many clients writing stances to the same few claims at once, on SQLite and PostgreSQL.

16 threads each record stances on the same 3 claims, 6 rounds each, all released together
by a barrier. Sources are shared by pairs of threads, so that two writers race to supersede
the same source's stance on the same claim. Each stance carries an explicit, distinct
stated_at, so the final state is known exactly whatever order the commits land in: the
current stance of a (claim, source) is the one stated last. Afterwards: no 5xx, no stance
lost, exactly one current stance per (claim, source), asserting/denying counts exact, and
`claims-api check` finds 0 mismatches. (Issue 2's "concurrent stance writes from many
threads at one claim, counts checked exactly" is this test.)
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.helpers import make_claim, make_source, walk
from tests.server import assert_consistent

THREADS = 16
ROUNDS = 6
CLAIMS = 3
SOURCES = THREADS // 2  # two writers per source
START = datetime(2024, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One client sends every request here: the rate limiter is not what is under test.
    return Settings(database_url=database_url, rate_limit_per_minute=0)


def planned(thread: int, round_: int, claim: int) -> tuple[int, str, datetime]:
    """(source index, stance, stated_at) of one write: distinct stated_at for every write."""
    sequence = (round_ * CLAIMS + claim) * THREADS + thread
    stance = "asserts" if (thread + round_ + claim) % 3 else "denies"
    return thread % SOURCES, stance, START + timedelta(seconds=sequence)


def test_concurrent_stance_writes_lose_nothing_and_count_exactly(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    claims = [make_claim(client, auth, f"Contested claim {n}")["id"] for n in range(CLAIMS)]
    sources = [make_source(client, auth, f"Source {n}")["id"] for n in range(SOURCES)]
    barrier = threading.Barrier(THREADS, timeout=60)

    def writer(thread: int) -> list[tuple[int, str, int, str]]:
        barrier.wait()
        results = []
        for round_ in range(ROUNDS):
            for claim in range(CLAIMS):
                source, stance, stated_at = planned(thread, round_, claim)
                response = client.post(
                    f"/claims/{claims[claim]}/stances",
                    headers=auth,
                    json={
                        "source_id": sources[source],
                        "stance": stance,
                        "stated_at": stated_at.isoformat(),
                    },
                )
                body = response.json()
                results.append((response.status_code, claims[claim], thread, body.get("id", "")))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = [item for batch in pool.map(writer, range(THREADS)) for item in batch]

    statuses = Counter(status for status, *_ in outcomes)
    assert statuses == {201: THREADS * ROUNDS * CLAIMS}
    created_ids = {stance_id for *_, stance_id in outcomes}
    assert len(created_ids) == THREADS * ROUNDS * CLAIMS

    for claim in range(CLAIMS):
        # What the final state must be: per source, the stance stated last.
        last: dict[int, tuple[datetime, str]] = {}
        for thread in range(THREADS):
            for round_ in range(ROUNDS):
                source, stance, stated_at = planned(thread, round_, claim)
                if source not in last or stated_at > last[source][0]:
                    last[source] = (stated_at, stance)
        expected_current = {sources[s]: stance for s, (_, stance) in last.items()}

        history = walk(client, f"/claims/{claims[claim]}/stances", {"limit": 100}, max_pages=100)
        assert len(history) == THREADS * ROUNDS
        assert {s["id"] for s in history} <= created_ids
        current = {s["source_id"]: s["stance"] for s in history if s["current"]}
        assert len([s for s in history if s["current"]]) == SOURCES
        assert current == expected_current

        detail = client.get(f"/claims/{claims[claim]}").json()
        counts = Counter(expected_current.values())
        assert (detail["asserting_sources"], detail["denying_sources"]) == (
            counts["asserts"],
            counts["denies"],
        )

    assert_consistent(database_url)


def test_title_changes_racing_stance_writes_keep_every_column(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    """A report's new title rewrites the columns of the claims citing it while stances
    citing it are recorded on those claims: the two take their locks in one order (the
    report, then the claim), so neither deadlocks, and no column is left stale."""
    writers, rounds, titles = 6, 4, 8
    claims = [make_claim(client, auth, f"Contested claim {n}")["id"] for n in range(CLAIMS)]
    sources = [make_source(client, auth, f"Source {n}")["id"] for n in range(writers)]
    report = client.post(
        "/reports", headers=auth, json={"url": "https://example.com/r", "title": "title0"}
    ).json()["id"]
    barrier = threading.Barrier(writers + 1, timeout=60)

    def writer(thread: int) -> list[int]:
        barrier.wait()
        return [
            client.post(
                f"/claims/{claims[claim]}/stances",
                headers=auth,
                json={"source_id": sources[thread], "stance": "asserts", "report_id": report},
            ).status_code
            for _ in range(rounds)
            for claim in range(CLAIMS)
        ]

    def retitle() -> list[int]:
        barrier.wait()
        url = f"/reports/{report}"
        return [
            client.patch(url, headers=auth, json={"title": f"title{n}"}).status_code
            for n in range(1, titles + 1)
        ]

    with ThreadPoolExecutor(max_workers=writers + 1) as pool:
        retitled = pool.submit(retitle)
        written = [status for batch in pool.map(writer, range(writers)) for status in batch]
    assert Counter(written) == {201: writers * rounds * CLAIMS}
    assert Counter(retitled.result()) == {200: titles}
    found = client.get("/claims", params={"q": f"title{titles}"}).json()["items"]
    assert {claim["id"] for claim in found} == set(claims)
    assert client.get("/claims", params={"q": "title1 "}).json()["items"] == []
    assert_consistent(database_url)
