"""The writer thread commits the writes queued together in one transaction, and each write
gets its own answer: one that fails is rolled back alone, and one that meets a database
error runs again alone. Batches are the default on SQLite only; the mechanism is checked on
both engines, and PostgreSQL's default (a transaction per write) too."""

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import make_engine
from app.core.errors import NotFound
from app.core.group_commit import GroupCommit

_PROBE = sa.Table("gc_probe", sa.MetaData(), sa.Column("note", sa.Text, primary_key=True))
_INSERT = sa.insert(_PROBE)
_NOTES = sa.text("SELECT note FROM gc_probe ORDER BY note")


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(Settings(database_url=database_url))
    _PROBE.create(engine)
    yield engine
    engine.dispose()


def _committed(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(_NOTES).scalars())


def _insert(note: str, *, then_raise: Exception | None = None):  # type: ignore[no-untyped-def]
    def write(conn: sa.Connection) -> list[str]:
        conn.execute(_INSERT, {"note": note})
        if then_raise is not None:
            raise then_raise
        return list(conn.execute(_NOTES).scalars())  # what this transaction sees

    return write


def _queued_behind_a_busy_writer(engine: sa.Engine, writes: list[Any]) -> list[object]:
    """The answers to `writes`, queued while the only writer thread is busy with a first
    write, so that they make one batch."""
    writer = GroupCommit(engine, batches=True)
    release = threading.Event()

    def blocking(conn: sa.Connection) -> None:
        release.wait(timeout=10)
        conn.execute(_INSERT, {"note": "first"})

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(writer.run(blocking))
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(writer.run(write)) for write in writes]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in queued)  # nothing answered before its commit
        release.set()
        await first
        return await asyncio.gather(*queued, return_exceptions=True)

    try:
        return asyncio.run(scenario())
    finally:
        writer.close()


def test_a_batch_commits_together(engine: sa.Engine) -> None:
    seen_a, seen_c, outside = _queued_behind_a_busy_writer(
        engine, [_insert("a"), _insert("c"), lambda conn: _committed(engine)]
    )
    # One transaction: each write saw the earlier ones; others saw none before the commit.
    assert seen_a == ["a", "first"]
    assert seen_c == ["a", "c", "first"]
    assert outside == ["first"]
    assert _committed(engine) == ["a", "c", "first"]


def test_in_a_batch_each_write_gets_its_own_answer(engine: sa.Engine) -> None:
    seen_a, not_found, duplicate, seen_c, outside = _queued_behind_a_busy_writer(
        engine,
        [
            _insert("a"),
            _insert("b", then_raise=NotFound("no such claim")),
            _insert("a"),  # a unique violation: the database's error, run again alone
            _insert("c"),
            lambda conn: _committed(engine),
        ],
    )
    # The failed writes are rolled back alone; the others still commit together.
    assert seen_a == ["a", "first"]
    assert seen_c == ["a", "c", "first"]
    assert outside == ["first"]
    assert isinstance(not_found, NotFound)
    assert isinstance(duplicate, sa.exc.IntegrityError)
    assert _committed(engine) == ["a", "c", "first"]


def test_a_write_alone_that_fails_leaves_nothing(engine: sa.Engine) -> None:
    writer = GroupCommit(engine, batches=True)
    try:
        with pytest.raises(NotFound):
            asyncio.run(writer.run(_insert("lost", then_raise=NotFound("no such source"))))
        assert asyncio.run(writer.run(_insert("kept"))) == ["kept"]
    finally:
        writer.close()
    assert _committed(engine) == ["kept"]


def test_close_finishes_the_queue_and_a_later_write_starts_the_thread_again(
    engine: sa.Engine,
) -> None:
    writer = GroupCommit(engine, batches=True)

    async def many() -> None:
        await asyncio.gather(*(writer.run(_insert(f"n{i:02}")) for i in range(20)))

    asyncio.run(many())
    writer.close()
    asyncio.run(writer.run(_insert("after")))
    writer.close()
    assert _committed(engine) == sorted([f"n{i:02}" for i in range(20)] + ["after"])


def test_postgresql_writes_commit_one_by_one_by_default(engine: sa.Engine) -> None:
    writer = GroupCommit(engine)
    assert writer.batches is (engine.dialect.name == "sqlite")

    async def two() -> list[object]:
        return await asyncio.gather(
            writer.run(_insert("x")),
            writer.run(_insert("y", then_raise=NotFound("no such claim"))),
            return_exceptions=True,
        )

    try:
        seen_x, not_found = asyncio.run(two())
    finally:
        writer.close()
    assert seen_x == ["x"] and isinstance(not_found, NotFound)
    assert _committed(engine) == ["x"]
