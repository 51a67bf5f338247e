"""Engines, the UTC datetime column type, the read and write sessions, and run_read (where
a route's blocking read runs: the event loop or the thread pool)."""

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import DateTime, Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from app.core.config import Settings
from app.core.db_bounds import (
    LOOP_BUDGET_OPTION,
    bound_postgres,
    bound_sqlite,
    postgres_connect_args,
)
from app.core.writer_queue import QueuedWriterConnection

WRITE_OPTION = "claims_write"
# SQLite: no BEGIN for this read (read_once). Not isolation_level="AUTOCOMMIT", whose
# switch SQLAlchemy makes and undoes on the pysqlite connection at every checkout, and whose
# undoing gives transaction control back to pysqlite.
READ_ONCE_OPTION = "claims_read_once"
Result = TypeVar("Result")
SQLITE_BEGIN_RETRIES = 5
# How long one statement of a read may hold the event loop (run_read): an index-served page
# takes a tenth of a millisecond.
LOOP_BUDGET_SECONDS = 0.004
# A read of a shape whose own work outlasts the budget (its CPU time in the pool, not its
# wait there) goes straight to the pool for a minute, rather than lose the budget on the
# loop first each time: the same question walks as far again. One interrupted only by
# contention keeps trying the loop, where it fits: in the pool it would pay the hop and
# the GIL every time.
WENT_LONG_SECONDS = 60.0
WENT_LONG_SHAPES = 256


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if not is_sqlite(url):
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_args=postgres_connect_args(settings),
        )
        bound_postgres(engine, settings)
        return engine
    engine = create_engine(
        url,
        connect_args={
            "check_same_thread": False,
            "timeout": settings.sqlite_busy_timeout,
            "factory": QueuedWriterConnection,
        },
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
    )
    _configure_sqlite(engine, settings.sqlite_busy_timeout)
    bound_sqlite(engine, settings)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    writer_lock = threading.Lock()  # one per database: this engine's writers take turns

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.writer_lock = writer_lock
        # Take transaction control from pysqlite so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # A writer that reads first and writes later can fail at once with
        # SQLITE_BUSY; taking the write lock up front makes it wait its turn.
        options = conn.get_execution_options()
        if options.get(READ_ONCE_OPTION):
            return  # one-statement reads: no BEGIN, no ROLLBACK
        if not options.get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN")
            return
        raw: QueuedWriterConnection = conn.connection.driver_connection
        raw.take_writer_lock(busy_timeout)
        try:
            _begin_immediate(conn)
        except BaseException:
            raw.give_back_writer_lock()
            raise


def _begin_immediate(conn: Any) -> None:
    """BEGIN IMMEDIATE, retried a few times when another process holds the write lock."""
    for attempt in range(SQLITE_BEGIN_RETRIES):
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == SQLITE_BEGIN_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def write_engine(engine: Engine) -> Engine:
    """The same pool, flagged so that SQLite transactions begin IMMEDIATE."""
    return engine.execution_options(**{WRITE_OPTION: True})


def read_session(engine: Engine) -> Session:
    """A session for a read of several statements that must agree (a claim and its
    stances). SQLite: one deferred transaction, one snapshot. PostgreSQL: autocommit, as
    read_once; at READ COMMITTED each statement takes its own snapshot inside a transaction
    too, so BEGIN and ROLLBACK would cost two round trips and buy no agreement."""
    if engine.dialect.name == "sqlite":
        return Session(engine)
    return read_once(engine)


def read_once(engine: Engine) -> Session:
    """A session for reads that are one statement each (a page of a list): autocommit, so
    there is no BEGIN and ROLLBACK around the statement (two round trips on PostgreSQL). A
    read of several statements that must agree uses read_session, one transaction."""
    return Session(read_once_engine(engine))


@functools.lru_cache(maxsize=64)
def read_once_engine(engine: Engine) -> Engine:
    # Derived once per engine: deriving costs more than an index-served page.
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READ_ONCE_OPTION: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@functools.lru_cache(maxsize=64)
def _on_loop_engine(engine: Engine) -> Engine:
    return engine.execution_options(**{LOOP_BUDGET_OPTION: LOOP_BUDGET_SECONDS})


def write_session(engine: Engine) -> Session:
    """A session whose SQLite transactions begin IMMEDIATE; objects stay loaded after commit."""
    return Session(write_engine(engine), expire_on_commit=False)


async def run_read(
    engine: Engine,
    read: Callable[..., Result],
    *args: Any,
    long: bool = False,
    shape: Hashable | None = None,
) -> Result:
    """`read(engine, *args)`, a blocking read, from an async route.

    A SQLite read is a call into the library on this process's own file: an index-served
    page or one claim takes less time than a thread-pool hop, and under load each hop, and
    each statement in a worker thread, waits for the GIL, which halved the lists'
    throughput (bench/NOTES.md). So it runs on the event loop, with a budget: a statement
    that runs past LOOP_BUDGET_SECONDS (a filter that matches few claims walks far) is
    interrupted, and the read runs again in the thread pool, where it holds no one up.
    Given a `shape` (what the read asks, less what varies from page to page), a read of a
    shape whose work outlasted the budget in the last WENT_LONG_SECONDS goes to the pool at
    once.
    A PostgreSQL read waits on the network, and a `long` one (a ranked search, a replay, a
    CSV export) grows with the archive: they take one hop to the pool at once."""
    remembered = None if shape is None else (engine.url, shape)
    if engine.dialect.name != "sqlite" or long or _went_long(remembered):
        return await run_in_threadpool(read, engine, *args)
    try:
        return read(_on_loop_engine(engine), *args)
    except OperationalError as exc:
        if "interrupted" not in str(exc.orig):
            raise
    result, cpu_seconds = await run_in_threadpool(_timed, read, engine, *args)
    if remembered is not None and cpu_seconds > LOOP_BUDGET_SECONDS:
        _WENT_LONG[remembered] = time.monotonic()
        while len(_WENT_LONG) > WENT_LONG_SHAPES:
            _WENT_LONG.popitem(last=False)
    return result


def _timed(read: Callable[..., Result], *args: Any) -> tuple[Result, float]:
    started = time.thread_time()
    return read(*args), time.thread_time() - started


# shape -> when it last outlasted the loop's budget; touched on the loop only.
_WENT_LONG: OrderedDict[Hashable, float] = OrderedDict()


def _went_long(remembered: Hashable | None) -> bool:
    if remembered is None or (at := _WENT_LONG.get(remembered)) is None:
        return False
    if time.monotonic() - at < WENT_LONG_SECONDS:
        return True
    del _WENT_LONG[remembered]  # long ago: the data may have changed, try the loop again
    return False
