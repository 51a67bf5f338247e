"""What changed since the response cache last looked: the claims whose reads may differ.

Triggers (migration 0014) keep one `content_change` row per claim whose row, tags, stances,
verdict or status periods changed, and per source and report, holding its latest change. A
source or a report is in every claim's reads (names, urls, titles): its change counts as
every claim's. Every writer feeds the table without knowing, in the transaction that makes
the change, so a commit and its entry are seen together or not at all.

- SQLite: one writer at a time, so `seq` follows commit order; a log remembers the highest
  seq it has read and asks for the rows above it (an index range, usually empty).
- PostgreSQL: writers commit out of order, so a log remembers the snapshot it last read at
  and asks for the rows whose transaction that snapshot did not see, with the snapshot
  they are read at: the rows of transactions still running are picked up by a later read.

A log that has lost its place (its first read, a failed read, a table rebuilt behind it)
reports that everything changed. Each read is numbered, so a reader can tell one it has
applied already (PostgreSQL shares a read among the requests of a burst) from one it missed.
"""

import asyncio
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import psycopg
from sqlalchemy import BigInteger, Engine, Index, String
from sqlmodel import Field, SQLModel

from app.core.config import Settings
from app.core.db_bounds import postgres_connect_args
from app.core.models import IdType

# More claims than this in one read (a bulk import) is reported as everything: the cache
# would spend longer sorting out what to keep than its reads cost.
MAX_CLAIMS = 64
# A loopback or same-zone server answers in a millisecond or two; past this, skip the cache.
READ_TIMEOUT = 0.1


class ContentChange(SQLModel, table=True):
    """The latest change of what one claim's, source's or report's reads show."""

    __tablename__ = "content_change"
    __table_args__ = (Index("ix_content_change_txid_seq", "txid", "seq"),)

    resource_type: str = Field(sa_type=String(16), primary_key=True)  # claim, source, report
    # Not a foreign key: a deleted resource's row records its deletion.
    resource_id: int = Field(sa_type=IdType, primary_key=True)
    txid: int = Field(sa_type=BigInteger)  # PostgreSQL's transaction id; 0 on SQLite
    seq: int = Field(sa_type=BigInteger)  # SQLite's commit order; 0 on PostgreSQL


class ClaimKeys(NamedTuple):
    """A changed claim's sort keys as it is now: where it stands in every list's order."""

    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Changes:
    """One read of the log: the claims changed since the read before it, each with its
    keys as it is now (None: deleted)."""

    number: int
    claims: Mapping[int, ClaimKeys | None]
    everything: bool = False

    @classmethod
    def of(cls, number: int, rows: Iterable[tuple[str, int, Any, Any]]) -> "Changes":
        """From (resource_type, resource_id, created_at, updated_at) rows, a claim's times as
        the driver gives them."""
        claims = {}
        for kind, resource, created_at, updated_at in rows:
            if kind != "claim":
                return cls.all(number)
            claims[resource] = _keys(created_at, updated_at)
        return cls(number, claims)

    @classmethod
    def all(cls, number: int) -> "Changes":
        return cls(number, {}, everything=True)


def _keys(created_at: Any, updated_at: Any) -> ClaimKeys | None:
    if created_at is None or updated_at is None:
        return None
    return ClaimKeys(_utc(created_at), _utc(updated_at))


def _utc(value: datetime | str) -> datetime:
    # SQLite hands back the text SQLAlchemy stored (UTC, no offset); psycopg a datetime.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class ChangeLog(Protocol):
    async def read(self) -> Changes | None:
        """The changes since the last read, or None when they cannot be read now."""

    def close(self) -> None:
        """Let go of the connection; a later read opens a new one."""


class SqliteChangeLog:
    """Reads on a connection of its own that never writes: microseconds, and a WAL reader
    never waits for writers, so no thread hop."""

    SINCE = (
        "SELECT c.seq, c.resource_type, c.resource_id, claim.created_at, claim.updated_at "
        "FROM content_change AS c LEFT JOIN claim "
        "ON c.resource_type = 'claim' AND claim.id = c.resource_id "
        f"WHERE c.txid = 0 AND c.seq > ? ORDER BY c.seq LIMIT {MAX_CLAIMS + 1}"
    )
    LAST = "SELECT COALESCE(MAX(seq), 0) FROM content_change WHERE txid = 0"

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._seq: int | None = None
        self._number = 0
        self._lock = threading.Lock()

    async def read(self) -> Changes | None:
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._read()
        except (sqlite3.Error, ValueError):  # ValueError: a time written by hand, unreadable
            self._close()
            return None
        finally:
            self._lock.release()

    def _read(self) -> Changes:
        if self._connection is None:
            # mode=rw: never create the database file; the service's engine does that.
            self._connection = sqlite3.connect(
                f"file:{self._path}?mode=rw", uri=True, timeout=0, check_same_thread=False
            )
        self._number += 1
        if self._seq is not None:
            rows = self._connection.execute(self.SINCE, (self._seq,)).fetchall()
            if not rows:
                return Changes(self._number, {})
            if len(rows) <= MAX_CLAIMS:
                self._seq = rows[-1][0]
                return Changes.of(self._number, (row[1:] for row in rows))
            # Commits after the rows read are skipped too: everything covers them, and any
            # answer computed before them is refused by the cache, which sees this change.
        (self._seq,) = self._connection.execute(self.LAST).fetchone()
        return Changes.all(self._number)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        self._seq = None  # whatever happened while closed is unknown: everything
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresChangeLog:
    """Reads on one asynchronous connection of its own.

    Requests that arrive while a read is in flight share the next one, which starts after
    all of them arrived: a round trip per burst rather than per request, and never an
    answer from before a request. A read that takes longer than `timeout` is left to end on
    its own (cancelling it would make psycopg wait for the server to cancel the statement,
    and a frozen server never answers); until it ends, and for `RETRY_AFTER` seconds after a
    failure, requests skip the cache, so a sick database costs one request `timeout`, once,
    and the routes answer the rest with their own bounded errors."""

    RETRY_AFTER = 1.0
    # The snapshot this statement reads at, and the rows it sees that `%s` did not.
    SINCE = (
        "SELECT pg_current_snapshot()::text, c.resource_type, c.resource_id, claim.created_at, "
        "claim.updated_at FROM (SELECT 1) AS one LEFT JOIN (content_change AS c LEFT JOIN claim "
        "ON c.resource_type = 'claim' AND claim.id = c.resource_id) "
        "ON c.txid >= pg_snapshot_xmin(%(seen)s::pg_snapshot)::text::bigint "
        "AND NOT pg_visible_in_snapshot(c.txid::text::xid8, %(seen)s::pg_snapshot) "
        f"LIMIT {MAX_CLAIMS + 1}"
    )
    NOW = "SELECT pg_current_snapshot()::text"

    def __init__(self, conninfo: str, connect_args: dict[str, Any], timeout: float) -> None:
        self._conninfo = conninfo
        self._connect_args = connect_args
        self._timeout = timeout
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._seen: str | None = None
        self._number = 0
        self._next: asyncio.Future[Changes | None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stalled: set[asyncio.Task[Any]] = set()
        self._retry_at = 0.0

    async def read(self) -> Changes | None:
        loop = asyncio.get_running_loop()
        if self._stalled or loop.time() < self._retry_at:
            return None
        if self._next is not None and self._next.get_loop() is not loop:
            self._next = None  # left behind by a loop that has ended
            self.close()
        if self._next is None:
            self._next = loop.create_future()
            if self._reader is None or self._reader.done() or self._reader.get_loop() is not loop:
                self._reader = loop.create_task(self._read_while_asked())
        return await asyncio.shield(self._next)

    async def _read_while_asked(self) -> None:
        while self._next is not None:
            asked, self._next = self._next, None
            asked.set_result(await self._read_once())

    async def _read_once(self) -> Changes | None:
        loop = asyncio.get_running_loop()
        lent, self._connection = self._connection, None
        attempt = loop.create_task(self._changes(lent, self._seen))
        done, _ = await asyncio.wait({attempt}, timeout=self._timeout)
        if not done:
            self._stalled.add(attempt)
            attempt.add_done_callback(self._stall_ended)
            return None
        if attempt.exception() is not None:
            self._retry_at = loop.time() + self.RETRY_AFTER
            self._seen = None
            return None
        self._connection, seen, rows = attempt.result()
        self._number += 1
        lost = self._seen is None or len(rows) > MAX_CLAIMS
        self._seen = seen
        return Changes.all(self._number) if lost else Changes.of(self._number, rows)

    async def _changes(
        self, connection: "psycopg.AsyncConnection[Any] | None", seen: str | None
    ) -> "tuple[psycopg.AsyncConnection[Any], str, list[tuple[str, int, Any, Any]]]":
        try:
            if connection is None:
                connection = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, **self._connect_args
                )
            if seen is None:
                cursor = await connection.execute(self.NOW)
                (now,) = await cursor.fetchone() or ("",)
                return connection, str(now), []
            cursor = await connection.execute(self.SINCE, {"seen": seen})
            rows = await cursor.fetchall()
            return connection, str(rows[0][0]), [row[1:] for row in rows if row[1] is not None]
        except BaseException:
            if connection is not None:
                _finish(connection)
            raise

    def _stall_ended(self, attempt: "asyncio.Task[Any]") -> None:
        self._stalled.discard(attempt)
        if not attempt.cancelled() and attempt.exception() is None:
            _finish(attempt.result()[0])  # a fresh one is opened on demand

    def close(self) -> None:
        if self._connection is not None:
            _finish(self._connection)
            self._connection = None


def _finish(connection: "psycopg.AsyncConnection[Any]") -> None:
    # Synchronous and loop-free: works from any loop, and on a connection that is broken.
    connection.pgconn.finish()


def change_log_of(engine: Engine, settings: Settings) -> ChangeLog | None:
    """The change log of this engine's database, or None when there is none to trust (an
    in-memory SQLite database is private to each connection)."""
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return SqliteChangeLog(path)
    if engine.dialect.name == "postgresql":
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresChangeLog(conninfo, postgres_connect_args(settings), READ_TIMEOUT)
    return None
