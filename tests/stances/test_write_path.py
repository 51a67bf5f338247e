"""What a stance POST reads (app/stances/writes.py): the claim's latest stance neither
reads the claim's history nor counts its current stances, whatever their number; only a
stance stated before another of the claim's replays, and only from its stated_at on."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import add_stance, captured_sql, make_claim, make_source

T0 = datetime(2024, 12, 5, 9, tzinfo=UTC)


def _history_reads(ran: list[tuple[str, Any]]) -> list[str]:
    """Statements that read stances with their sources: the replay's input."""
    return [s for s, _ in ran if "FROM stance JOIN source" in s and "DISTINCT" not in s]


def _claim_with_history(client: TestClient, auth: dict[str, str]) -> tuple[str, list[str]]:
    claim = make_claim(client, auth)
    sources = [
        make_source(client, auth, f"Source {n}", affiliation=f"Camp {n}")["id"] for n in range(6)
    ]
    for hour, (source, kind) in enumerate(zip(sources[:4], ["asserts", "denies"] * 2, strict=True)):
        at = (T0 + timedelta(hours=hour)).isoformat()
        add_stance(client, auth, claim["id"], source, kind, stated_at=at)
    return claim["id"], sources


def test_the_claims_latest_stance_reads_no_history_and_counts_nothing(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    claim_id, sources = _claim_with_history(client, auth)
    with captured_sql(app.state.engine) as ran:
        add_stance(client, auth, claim_id, sources[4], "asserts")
        # A source changing its position: its counts move by the stance it retired.
        add_stance(client, auth, claim_id, sources[1], "asserts")
    assert _history_reads(ran) == []
    assert not [s for s, _ in ran if "count(" in s.lower()], ran
    claim = client.get(f"/claims/{claim_id}").json()
    assert (claim["status"], claim["asserting_sources"], claim["denying_sources"]) == (
        "disputed",
        4,
        1,
    )
    timeline = client.get(f"/claims/{claim_id}/timeline").json()["items"]
    assert [(p["status"], p["asserting_sources"], p["denying_sources"]) for p in timeline] == [
        ("asserted", 1, 0),
        ("disputed", 1, 1),
        ("disputed", 2, 1),
        ("disputed", 2, 2),
        ("disputed", 3, 2),
        ("disputed", 4, 1),
    ]


def test_a_back_dated_stance_replays_from_its_stated_at(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    claim_id, sources = _claim_with_history(client, auth)
    with captured_sql(app.state.engine) as ran:
        # Between the second and the third stance: it rewrites the periods from there.
        add_stance(
            client,
            auth,
            claim_id,
            sources[4],
            "denies",
            stated_at=(T0 + timedelta(hours=1, minutes=30)).isoformat(),
        )
    assert len(_history_reads(ran)) == 1, ran
    timeline = client.get(f"/claims/{claim_id}/timeline").json()["items"]
    assert [(p["status"], p["asserting_sources"], p["denying_sources"]) for p in timeline] == [
        ("asserted", 1, 0),
        ("disputed", 1, 1),
        ("disputed", 1, 2),
        ("disputed", 2, 2),
        ("disputed", 2, 3),
    ]
    claim = client.get(f"/claims/{claim_id}").json()
    assert (claim["asserting_sources"], claim["denying_sources"]) == (2, 3)
