"""SQLite writers of one process queue on a lock taken before BEGIN IMMEDIATE and given
back when their transaction ends, however it ends; readers never take it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import make_engine, write_engine
from app.core.writer_queue import QueuedWriterConnection


@pytest.fixture
def engine(sqlite_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    path = tmp_path / "claims.db"
    path.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    yield engine
    engine.dispose()


def _raw(session: Session) -> QueuedWriterConnection:
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, QueuedWriterConnection)
    return raw


def test_a_writer_holds_the_lock_until_commit(engine: sa.Engine) -> None:
    with Session(write_engine(engine)) as session:
        raw = _raw(session)
        assert raw.holds_writer_lock and raw.writer_lock is not None
        assert raw.writer_lock.locked()
        session.execute(sa.text("UPDATE claim SET status = status"))
        session.commit()
        assert not raw.holds_writer_lock and not raw.writer_lock.locked()


def test_rollback_and_errors_give_the_lock_back(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.OperationalError), Session(write_engine(engine)) as session:
        raw = _raw(session)
        session.execute(sa.text("SELECT * FROM no_such_table"))
    assert not raw.holds_writer_lock
    assert raw.writer_lock is not None and not raw.writer_lock.locked()
    with Session(write_engine(engine)) as session:  # the next writer gets it
        raw = _raw(session)
        assert raw.holds_writer_lock
        session.rollback()
        assert not raw.holds_writer_lock and not raw.writer_lock.locked()


def test_readers_do_not_queue(engine: sa.Engine) -> None:
    with Session(write_engine(engine)) as writer, Session(engine) as reader:
        assert _raw(writer).holds_writer_lock
        reader.execute(sa.text("SELECT count(*) FROM claim")).scalar_one()
        assert not _raw(reader).holds_writer_lock
