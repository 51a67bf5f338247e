"""Open reads answered from memory while the database has not changed.

Newsroom integrations poll the same few reads (`GET /claims?status=disputed`, a claim, its
stances) far more often than anything changes. An answer is stored with the database's
data version as read *before* the answer was computed, and is served only while the version
still reads the same, so no request ever gets an answer older than its own arrival:

- SQLite: `PRAGMA data_version` on a connection of our own, which changes whenever any other
  connection, in this process or another, commits.
- PostgreSQL: `pg_current_snapshot()`. Two equal snapshots see exactly the same committed
  transactions, hence the same rows.

Any commit anywhere in the database empties the cache, so there is nothing to invalidate by
hand and no write path can forget to. Reads that need a key (CLAIMS_REQUIRE_KEY_FOR_READS)
are never cached: each must authenticate. The version read is bounded; when it fails or is
slow the request simply goes to the routes, which answer as they would without a cache.
"""

import asyncio
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.db_bounds import postgres_connect_args
from app.http.cache_key import cache_key
from app.http.conditional import none_match

# The open reads: every GET under these is guarded by read_guard and nothing else.
CACHED_PREFIXES = ("/claims", "/sources", "/changes")
# A loopback or same-zone server answers in a millisecond or two; past this, skip the cache.
VERSION_TIMEOUT = 0.1
# What an entry costs beyond its bytes: the dict slot, the tuples, the bytes objects' headers.
ENTRY_OVERHEAD = 512


class DataVersion(Protocol):
    async def read(self) -> Hashable | None:
        """The current data version, or None when it cannot be read now."""

    def close(self) -> None:
        """Let go of the connection; a later read opens a new one."""


class SqliteDataVersion:
    """`PRAGMA data_version` on a connection that never writes (its own commits would not
    count). Reopening the connection restarts the counter, so a generation number joins it."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._generation = 0
        self._lock = threading.Lock()

    async def read(self) -> Hashable | None:
        # Microseconds, and a WAL reader never waits for writers: no thread hop needed.
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._connection is None:
                # mode=rw: never create the database file; the service's engine does that.
                self._connection = sqlite3.connect(
                    f"file:{self._path}?mode=rw", uri=True, timeout=0, check_same_thread=False
                )
                self._generation += 1
            return (self._generation, self._connection.execute("PRAGMA data_version").fetchone())
        except sqlite3.Error:
            self._close()
            return None
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresDataVersion:
    """`pg_current_snapshot()` on one asynchronous connection of our own.

    Requests that arrive while a read is in flight share the next one, which starts after
    all of them arrived: a round trip per burst rather than per request, and never an
    answer from before a request. A read that takes longer than `timeout` is left to end on
    its own (cancelling it would make psycopg wait for the server to cancel the statement,
    and a frozen server never answers); until it ends, and for `RETRY_AFTER` seconds after a
    failure, requests skip the cache, so a sick database costs one request `timeout`, once,
    and the routes answer the rest with their own bounded errors."""

    RETRY_AFTER = 1.0

    def __init__(self, conninfo: str, connect_args: dict[str, Any], timeout: float) -> None:
        self._conninfo = conninfo
        self._connect_args = connect_args
        self._timeout = timeout
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._next: asyncio.Future[Hashable | None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stalled: set[asyncio.Task[Any]] = set()
        self._retry_at = 0.0

    async def read(self) -> Hashable | None:
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

    async def _read_once(self) -> Hashable | None:
        loop = asyncio.get_running_loop()
        lent, self._connection = self._connection, None
        attempt = loop.create_task(self._snapshot(lent))
        done, _ = await asyncio.wait({attempt}, timeout=self._timeout)
        if not done:
            self._stalled.add(attempt)
            attempt.add_done_callback(self._stall_ended)
            return None
        if attempt.exception() is not None:
            self._retry_at = loop.time() + self.RETRY_AFTER
            return None
        self._connection, snapshot = attempt.result()
        return snapshot

    async def _snapshot(
        self, connection: "psycopg.AsyncConnection[Any] | None"
    ) -> "tuple[psycopg.AsyncConnection[Any], str]":
        try:
            if connection is None:
                connection = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, **self._connect_args
                )
            cursor = await connection.execute("SELECT pg_current_snapshot()::text")
            (snapshot,) = await cursor.fetchone() or (None,)
            return connection, str(snapshot)
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


def data_version_of(engine: Engine, settings: Settings) -> DataVersion | None:
    """The data version source for this engine, or None when there is none to trust (an
    in-memory SQLite database is private to each connection)."""
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return SqliteDataVersion(path)
    if engine.dialect.name == "postgresql":
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresDataVersion(conninfo, postgres_connect_args(settings), VERSION_TIMEOUT)
    return None


@dataclass(frozen=True)
class CachedAnswer:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str | None


def entry_size(key: tuple[bytes, ...], answer: CachedAnswer) -> int:
    """What one entry holds: its key as well as its answer, counted against the bound."""
    return (
        ENTRY_OVERHEAD
        + sum(len(part) for part in key)
        + len(answer.body)
        + sum(len(n) + len(v) for n, v in answer.headers)
    )


class ResponseCache:
    """Pure ASGI, innermost but for the routes: rate limits, CORS, request ids and the access
    log still apply to every answer, cached or not. Holds at most `max_bytes` of answers,
    least recently used out first; an answer over an eighth of that is not kept."""

    def __init__(self, app: ASGIApp, *, version: DataVersion, max_bytes: int) -> None:
        self.app = app
        self.version = version
        self.max_bytes = max_bytes
        self._answers: OrderedDict[tuple[bytes, ...], CachedAnswer] = OrderedDict()
        self._answers_version: Hashable | None = None
        self._bytes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        version = await self.version.read()
        if version is None:
            await self.app(scope, receive, send)
            return
        if version != self._answers_version:
            self._answers.clear()
            self._answers_version = version
            self._bytes = 0
        headers = Headers(scope=scope)
        key = cache_key(scope, headers)
        if key is None:
            await self.app(scope, receive, send)
            return
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
            await self._replay(answer, headers.get("if-none-match"), send)
            return
        await self._compute(scope, receive, send, key, version)

    def _cacheable(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(CACHED_PREFIXES)
            and not scope["app"].state.settings.require_key_for_reads
        )

    async def _replay(self, answer: CachedAnswer, if_none_match: str | None, send: Send) -> None:
        # As app/http/conditional.py `respond` answers: 304 with the ETag when the client has it.
        if answer.etag is not None and not none_match(if_none_match, answer.etag):
            etag = answer.etag.encode("latin-1")
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag)]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _compute(
        self, scope: Scope, receive: Receive, send: Send, key: tuple[bytes, ...], version: Hashable
    ) -> None:
        """Run the routes, passing the answer on as it comes, and keep a copy of a 200."""
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = sum(len(part) for part in key)  # a long query string counts too
        keep = True

        async def copying_send(message: Message) -> None:
            nonlocal size, keep
            if message["type"] == "http.response.start":
                keep = message["status"] == 200
                headers.extend((bytes(n), bytes(v)) for n, v in message.get("headers", []))
            elif message["type"] == "http.response.body" and keep:
                body = message.get("body", b"")
                size += len(body)
                keep = size <= self.max_bytes // 8
                chunks.append(body)
                if keep and not message.get("more_body", False):
                    answer = CachedAnswer(headers, b"".join(chunks), _etag(headers))
                    self._store(key, version, answer)
            await send(message)

        await self.app(scope, receive, copying_send)

    def _store(self, key: tuple[bytes, ...], version: Hashable, answer: CachedAnswer) -> None:
        # A newer version emptied the cache while this answer was computed: it may be older.
        if version != self._answers_version:
            return
        previous = self._answers.pop(key, None)
        self._bytes += entry_size(key, answer) - (entry_size(key, previous) if previous else 0)
        self._answers[key] = answer
        while self._bytes > self.max_bytes:
            self._bytes -= entry_size(*self._answers.popitem(last=False))


def _etag(headers: list[tuple[bytes, bytes]]) -> str | None:
    return next((v.decode("latin-1") for n, v in headers if n.lower() == b"etag"), None)
