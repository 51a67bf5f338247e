"""The response cache's change log (app/http/change_log.py) on a real database: it reports
each claim a commit changed, once, and nothing a running transaction has not committed."""

import asyncio

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.http.cache_key import claim_of
from app.http.change_log import Changes, change_log_of
from tests.helpers import make_claim, make_source


def test_the_log_reports_a_commit_once_and_a_running_transaction_not_yet(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    hama = int(make_claim(client, auth, "Insurgents entered Hama.")["id"])
    homs = int(make_claim(client, auth, "The army redeployed outside Homs.")["id"])
    make_source(client, auth, "SANA", kind="state_media")
    writer = sa.create_engine(database_url)
    engine = sa.create_engine(database_url)
    log = change_log_of(engine, Settings(database_url=database_url))
    assert log is not None

    async def reads() -> list[Changes | None]:
        seen = [await log.read()]  # its first read: it cannot know what came before
        with writer.connect() as conn:
            conn.execute(sa.text("UPDATE claim SET place = 'Hama' WHERE id = :id"), {"id": hama})
            seen.append(await log.read())  # not committed
            conn.commit()
        seen.append(await log.read())
        seen.append(await log.read())
        with writer.begin() as conn:
            conn.execute(sa.text("UPDATE claim SET place = 'Homs' WHERE id = :id"), {"id": homs})
            conn.execute(sa.text("UPDATE source SET name = name"))
        seen.append(await log.read())
        return seen

    try:
        seen = asyncio.run(reads())
    finally:
        log.close()
        writer.dispose()
        engine.dispose()
    assert [(c.claims, c.everything) if c else None for c in seen] == [
        (frozenset(), True),
        (frozenset(), False),
        (frozenset({hama}), False),
        (frozenset(), False),
        (frozenset({homs}), True),
    ]
    assert [c.number for c in seen if c] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("path", "claim"),
    [
        ("/claims/17", 17),
        ("/claims/17/stances", 17),
        ("/claims/17/stances/4", 17),
        ("/claims/17/timeline", 17),
        ("/claims/17/verdict", 17),
        ("/claims/17/similar", None),  # shows other claims
        ("/claims", None),
        ("/claims/", None),
        ("/claims/0", None),
        ("/claims/\u0661\u0667", None),  # Arabic-Indic digits: not an id we issue
        ("/sources/17", None),
        ("/changes", None),
    ],
)
def test_the_reads_of_one_claim_are_told_from_the_rest(path: str, claim: int | None) -> None:
    assert claim_of(path) == claim
