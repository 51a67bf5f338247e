"""run_read: a SQLite read runs on the event loop unless it outlasts its budget, then again in
the thread pool; a PostgreSQL read, and a long one, take the pool at once. Real engines."""

import asyncio
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import make_engine, read_once, read_session, run_read

# A statement that runs for a second or so on SQLite: far past the loop's budget.
SLOW_COUNT = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
    "SELECT count(*) FROM n"
)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(Settings(database_url=database_url))
    yield engine
    engine.dispose()


def _threads_of(engine: sa.Engine, sql: str, *, long: bool = False) -> tuple[object, list[int]]:
    """The read's answer, and the threads it ran in (one per attempt), with the loop's."""
    attempts: list[int] = []

    def read(engine: sa.Engine) -> object:
        attempts.append(threading.get_ident())
        with read_session(engine) as session:
            return session.execute(sa.text(sql)).scalar_one()

    async def main() -> tuple[object, int]:
        return await run_read(engine, read, long=long), threading.get_ident()

    answer, loop_thread = asyncio.run(main())
    return answer, [loop_thread, *attempts]


def test_a_short_read_runs_on_the_loop_for_sqlite_and_in_the_pool_for_postgresql(
    engine: sa.Engine,
) -> None:
    answer, (loop, *attempts) = _threads_of(engine, "SELECT count(*) FROM claim")
    assert answer == 0
    assert len(attempts) == 1
    assert (attempts[0] == loop) is (engine.dialect.name == "sqlite")


def test_a_read_past_the_budget_is_run_again_in_the_pool(engine: sa.Engine) -> None:
    answer, (loop, *attempts) = _threads_of(engine, SLOW_COUNT)
    assert answer == 3000000
    if engine.dialect.name == "sqlite":
        assert attempts[0] == loop and len(attempts) == 2  # interrupted, then again
    assert attempts[-1] != loop


def test_a_long_read_takes_the_pool_at_once(engine: sa.Engine) -> None:
    answer, (loop, *attempts) = _threads_of(engine, "SELECT 1", long=True)
    assert answer == 1
    assert attempts != [] and all(thread != loop for thread in attempts) and len(attempts) == 1


def test_the_budget_stays_with_the_loop(engine: sa.Engine) -> None:
    """The pool's connections keep the statement timeout: a long read outside run_read runs
    to the end, after a budgeted read used the same connection."""
    _threads_of(engine, "SELECT 1")
    with read_once(engine) as session:
        assert session.execute(sa.text(SLOW_COUNT)).scalar_one() == 3000000


def test_a_shape_whose_work_outlasts_the_budget_goes_to_the_pool_at_once(engine: sa.Engine) -> None:
    """The same question walks as far again: it loses the loop's budget once, not each time.
    Another shape still tries the loop first."""
    runs: list[int] = []

    def read(engine: sa.Engine, sql: str) -> object:
        runs.append(threading.get_ident())
        with read_session(engine) as session:
            return session.execute(sa.text(sql)).scalar_one()

    async def main() -> list[list[bool]]:
        seen = []
        for sql, shape in ((SLOW_COUNT, "slow"), (SLOW_COUNT, "slow"), ("SELECT 1", "quick")):
            runs.clear()
            await run_read(engine, read, sql, shape=("test", str(engine.url), shape))
            seen.append([thread == threading.get_ident() for thread in runs])
        return seen

    on_loop = asyncio.run(main())
    if engine.dialect.name == "sqlite":
        assert on_loop == [[True, False], [False], [True]]
    else:
        assert on_loop == [[False], [False], [False]]
