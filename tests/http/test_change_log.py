"""The response cache's change log (app/http/change_log.py) on a real database: it reports
each claim a commit changed, once, and nothing a running transaction has not committed."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.http.cache_key import claim_of
from app.http.change_log import MAX_CLAIMS, ChangeLog, Changes, change_log_of
from tests.helpers import make_claim, make_source

T = TypeVar("T")


def with_log(database_url: str, script: Callable[[ChangeLog, sa.Engine], Awaitable[T]]) -> T:
    """Run `script` with a change log of the database and an engine to write behind it."""
    writer = sa.create_engine(database_url)
    log = change_log_of(writer, Settings(database_url=database_url))
    assert log is not None
    try:
        return asyncio.run(script(log, writer))
    finally:
        log.close()
        writer.dispose()


def test_the_log_reports_a_commit_once_and_a_running_transaction_not_yet(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    hama = int(make_claim(client, auth, "Insurgents entered Hama.")["id"])
    homs = int(make_claim(client, auth, "The army redeployed outside Homs.")["id"])
    make_source(client, auth, "SANA", kind="state_media")

    async def reads(log: ChangeLog, writer: sa.Engine) -> list[Changes | None]:
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

    seen = with_log(database_url, reads)
    assert [(set(c.claims), c.everything) if c else None for c in seen] == [
        (set(), True),
        (set(), False),
        ({hama}, False),
        (set(), False),
        (set(), True),  # a source changed: every claim, named one by one or not
    ]
    assert [c.number for c in seen if c] == [1, 2, 3, 4, 5]
    # Each changed claim comes with its sort keys as it is now, as the API shows them.
    shown = client.get(f"/claims/{hama}").json()
    keys = seen[2].claims[hama] if seen[2] else None
    assert keys is not None
    assert [keys.created_at.isoformat(), keys.updated_at.isoformat()] == [
        datetime.fromisoformat(shown[name].replace("Z", "+00:00")).isoformat()
        for name in ("created_at", "updated_at")
    ]


def test_a_deleted_claim_is_reported_without_keys(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    hama = make_claim(client, auth, "Insurgents entered Hama.")["id"]

    async def reads(log: ChangeLog, _writer: sa.Engine) -> Changes | None:
        await log.read()
        assert client.delete(f"/claims/{hama}", headers=auth).status_code == 204
        return await log.read()

    changes = with_log(database_url, reads)
    assert changes is not None
    assert dict(changes.claims) == {int(hama): None}


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


def test_a_commit_of_many_claims_is_reported_as_everything(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    """A bulk import changes thousands of claims: sorting out what to keep would cost more
    than the reads it saves, and the cache empties."""
    for number in range(MAX_CLAIMS + 1):
        make_claim(client, auth, f"Claim {number} about Hama.")

    async def reads(log: ChangeLog, writer: sa.Engine) -> list[Changes | None]:
        seen = [await log.read()]
        with writer.begin() as conn:
            conn.execute(sa.text("UPDATE claim SET place = 'Hama'"))
        seen.append(await log.read())
        with writer.begin() as conn:
            conn.execute(sa.text("UPDATE claim SET place = 'Homs' WHERE id = 1"))
        seen.append(await log.read())
        return seen

    seen = with_log(database_url, reads)
    assert [(len(c.claims), c.everything) if c else None for c in seen] == [
        (0, True),
        (0, True),
        (1, False),  # and the log has kept its place
    ]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_writers_of_different_sources_do_not_wait_for_each_other(database_url: str) -> None:
    """PostgreSQL runs writers side by side: each records its own source's row, so neither
    holds a lock the other needs (SQLite has one writer at a time anyway)."""
    engine = sa.create_engine(database_url, connect_args={"options": "-c lock_timeout=2000"})
    insert = sa.text(
        "INSERT INTO source (name, name_key, kind, created_at, updated_at) "
        "VALUES (:name, :name, 'monitor', now(), now())"
    )
    try:
        with engine.connect() as first, engine.connect() as second:
            first.execute(insert, {"name": "SANA"})
            second.execute(insert, {"name": "SOHR"})  # lock_timeout: fails if it waits
            second.commit()
            first.commit()
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT resource_type, count(*) FROM content_change GROUP BY resource_type")
            ).all()
    finally:
        engine.dispose()
    assert dict(rows) == {"source": 2}
