"""A tie on stated_at goes to the higher id, even when the stance already current has a
higher id than the one the database hands the new stance (a PostgreSQL sequence does not
move past ids written explicitly; SQLite's AUTOINCREMENT does)."""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.stances.models import Stance
from tests.helpers import make_claim, make_source

STATED = datetime(2024, 12, 5, 9, 30, tzinfo=UTC)
HIGH_ID = 900_000


def test_a_tie_goes_to_the_higher_id(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth)
    source = make_source(client, auth, "Ties Agency")
    table: Any = Stance.__table__  # type: ignore[attr-defined]
    with app.state.engine.begin() as conn:
        conn.execute(
            sa.insert(table).values(
                id=HIGH_ID,
                claim_id=int(claim["id"]),
                source_id=int(source["id"]),
                stance="asserts",
                stated_at=STATED,
                is_current=True,
                created_at=STATED,
            )
        )
    answer = client.post(
        f"/claims/{claim['id']}/stances",
        headers=auth,
        json={"source_id": source["id"], "stance": "denies", "stated_at": STATED.isoformat()},
    )
    assert answer.status_code == 201, answer.text
    new = answer.json()
    new_wins = int(new["id"]) > HIGH_ID
    assert new["current"] is new_wins
    detail = client.get(f"/claims/{claim['id']}").json()
    assert [int(s["id"]) for s in detail["stances"]] == [max(int(new["id"]), HIGH_ID)]
    status = (detail["status"], detail["asserting_sources"], detail["denying_sources"])
    assert status == (("denied", 0, 1) if new_wins else ("asserted", 1, 0))
