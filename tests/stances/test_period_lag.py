"""The lag classes of the as-of list's index (app/stances/period_lag.py): the migration
creates the index the app's queries spell, and a list as of T misses no period, whichever
class it falls in, at the classes' edges too.

The archive: one claim a lag, recorded at RECORDED (its created_at and updated_at) and
asserted LAG hours from then, stated years before it was recorded, or after (a stance may
be stated in the future). It is denied 30 s later (disputed); for every other claim the
asserter retracts two hours later (denied then). The oracle is the unfiltered list as of T
(the claim side), filtered by status.
"""

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex

from app.core.config import Settings
from app.main import create_app
from app.stances.period_lag import LAG_HOURS
from app.stances.periods_model import ClaimStatusPeriod
from tests.bulk_helpers import ndjson, post_bulk, rfc3339, stance_records
from tests.conftest import _postgres_database
from tests.helpers import walk

RECORDED = datetime(2024, 6, 1, tzinfo=UTC)
SECOND = 1 / 3600
# Every class, each edge, a second either side of it, and beyond the outermost.
EDGES = [0.0, 0.5, *LAG_HOURS, LAG_HOURS[-1] * 1.4]
LAGS = sorted(
    {sign * (edge + nudge) for edge in EDGES for sign in (1, -1) for nudge in (0, SECOND, -SECOND)}
)
MIGRATION = next(Path("migrations/versions").glob("*-0015_period_lag_index.py"))


def _asserted(lag: float) -> datetime:
    return RECORDED + timedelta(hours=lag)


def _records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = [
        {"type": "source", "id": "a", "name": "Asserter", "kind": "armed_group"},
        {"type": "source", "id": "d", "name": "Denier", "kind": "state_media"},
    ]
    for i, lag in enumerate(LAGS):
        at = _asserted(lag)
        recorded = rfc3339(RECORDED)
        records.append(
            {
                "type": "claim",
                "id": f"c{i}",
                "text": f"Claim {i}",
                "created_at": recorded,
                "updated_at": recorded,
            }
        )
        story = [("a", "asserts", at), ("d", "denies", at + timedelta(seconds=30))]
        if i % 2:
            story.append(("a", "retracts", at + timedelta(hours=2)))
        records += stance_records(f"c{i}", story)
    return records


def test_the_migration_creates_the_index_the_queries_spell() -> None:
    spec = importlib.util.spec_from_file_location("migration_0015", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    indexes = [index for index in ClaimStatusPeriod.__table__.indexes if "_lag_" in index.name]  # type: ignore[attr-defined]
    assert sorted(index.name for index in indexes) == sorted(
        f"ix_claim_status_period_status_lag_{key}" for key in migration.KEYS
    )
    assert migration.LAG_HOURS == LAG_HOURS
    for index in indexes:
        key = index.name.removeprefix("ix_claim_status_period_status_lag_")
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            lag = migration._lag_class(dialect.name, key)
            expected = (
                f"CREATE INDEX {index.name} ON claim_status_period "
                f"(status, ({lag}), {key}, claim_id, valid_from, valid_to)"
            )
            assert str(CreateIndex(index).compile(dialect=dialect)) == expected


@pytest.fixture
def archive(client: TestClient, auth: dict[str, str]) -> None:
    response = post_bulk(client, auth, ndjson(*_records()))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("sort", ["-updated_at", "created_at"])
def test_no_lag_class_loses_a_period_at_its_edges(
    client: TestClient, archive: None, sort: str
) -> None:
    moments = {RECORDED}
    for lag in LAGS:
        at = _asserted(lag)
        moments |= {
            at,
            at + timedelta(seconds=29),
            at + timedelta(seconds=30),
            at + timedelta(hours=2),
        }
    seen = set()
    for moment in sorted(moments):
        as_of = rfc3339(moment)
        every = walk(client, "/claims", {"as_of": as_of, "sort": sort, "limit": 100})
        for status in ("disputed", "denied", "asserted"):
            expected = [item for item in every if item["status"] == status]
            listed = walk(
                client, "/claims", {"as_of": as_of, "status": status, "sort": sort, "limit": 7}
            )
            assert listed == expected, (as_of, status)
            seen |= {(item["id"], status) for item in expected}
    # Every claim was found disputed at some moment, and every other one denied.
    assert len({claim for claim, status in seen if status == "disputed"}) == len(LAGS)
    assert len({claim for claim, status in seen if status == "denied"}) == len(LAGS) // 2


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    yield from _postgres_database(postgres_template)


def test_an_as_of_list_past_the_statement_timeout_answers_503(postgres_url: str) -> None:
    """The list's statement runs under a plan-cache setting of its own (as_of_list.py).
    Cancelled (here: it waits on a lock past statement_timeout), it answers the timeout's
    503 as problem+json, and the next list, on a pooled connection, is served as usual."""
    url = postgres_url
    application = create_app(Settings(database_url=url, statement_timeout_ms=300))
    blocker = sa.create_engine(url)
    params = {"as_of": rfc3339(RECORDED), "status": "disputed"}
    try:
        with TestClient(application, raise_server_exceptions=False) as client:
            assert client.get("/claims", params=params).status_code == 200
            with blocker.connect() as holder:
                holder.exec_driver_sql("LOCK TABLE claim_status_period IN ACCESS EXCLUSIVE MODE")
                answer = client.get("/claims", params={**params, "limit": 3})
                holder.rollback()
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert client.get("/claims", params={**params, "limit": 4}).status_code == 200
    finally:
        application.state.engine.dispose()
        blocker.dispose()
