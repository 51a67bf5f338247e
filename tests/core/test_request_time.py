"""No statement runs past CLAIMS_STATEMENT_TIMEOUT_MS, on either engine.

PostgreSQL enforces statement_timeout itself; SQLite has no such setting, so a progress
handler (app/core/db_bounds.py) interrupts the statement. Either way the statement fails with
OperationalError, which the API answers as 503 problem+json. The frozen-server half of the
bound (client-side waits) is proven by tests/resilience/test_pg_outage.py.
"""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app.core.config import Settings
from app.core.db import make_engine

# A statement that would run for minutes on either engine.
ENDLESS = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(600)",
}


def test_a_statement_past_the_limit_is_interrupted(database_url: str) -> None:
    engine = make_engine(Settings(database_url=database_url, statement_timeout_ms=300))
    try:
        with engine.connect() as conn, pytest.raises(OperationalError) as raised:
            conn.execute(sa.text(ENDLESS[engine.dialect.name]))
        expected = "interrupted" if engine.dialect.name == "sqlite" else "statement timeout"
        assert expected in str(raised.value.orig)
        # The connection is still good for the next statement.
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_a_statement_within_the_limit_is_left_alone(database_url: str) -> None:
    engine = make_engine(Settings(database_url=database_url, statement_timeout_ms=5000))
    try:
        with engine.connect() as conn:
            counted = conn.execute(
                sa.text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 20000) SELECT count(*) FROM n"
                )
            ).scalar()
        assert counted == 20000
    finally:
        engine.dispose()
