"""Every wait on the database has an end, on both engines.

PostgreSQL: `statement_timeout` stops a slow query, but only a server that runs can enforce
it. A frozen server (SIGSTOP, a hung host, a partition where nothing refuses the connection)
still has its kernel acknowledge our packets, so neither TCP keepalives nor tcp_user_timeout
fire, and libpq would wait for an answer forever. So the client bounds each wait itself:
psycopg's `Connection.wait` takes a timeout, and BoundedConnection always passes one --
short for the pool's pre-ping on checkout (`SELECT 1` answers at once or the server is not
answering), and statement_timeout plus a margin for everything else. A connection that
timed out is thrown away, never reused. Connecting is bounded by `connect_timeout`.

SQLite: a progress handler interrupts any statement that runs past the same limit, or past
the shorter budget of a read that runs on the event loop (LOOP_BUDGET_OPTION, app.core.db's
run_read).
"""

import sqlite3
import time
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

from app.core.config import Settings

# Seconds granted past statement_timeout, so that the server's own cancel comes first.
QUERY_MARGIN_SECONDS = 2.0
SQLITE_PROGRESS_STEPS = 10_000  # virtual machine steps between two looks at the clock
# An engine execution option: seconds a statement may run before SQLite interrupts it,
# in place of statement_timeout_ms.
LOOP_BUDGET_OPTION = "claims_loop_budget"


class DatabaseTimeout(psycopg.OperationalError):
    """The server did not answer within the bound: treated like a lost connection."""


class BoundedConnection(psycopg.Connection[Any]):
    wait_bound: float = 30.0

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        try:
            return super().wait(gen, interval=interval, timeout=timeout or self.wait_bound)
        except pg_errors._WaitTimeout:  # psycopg's own signal that the timeout passed
            # Mid-query, the connection can never be trusted again: close it now, so that
            # nothing (SQLAlchemy's ping restores autocommit) tries to talk on it.
            self.close()
            raise DatabaseTimeout(
                f"the database did not answer within {timeout or self.wait_bound:g} s"
            ) from None


def bound_postgres(engine: Engine, settings: Settings) -> None:
    query_bound = settings.statement_timeout_ms / 1000 + QUERY_MARGIN_SECONDS
    ping_bound = settings.db_ping_timeout_seconds

    @event.listens_for(engine, "do_connect")
    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_bound = query_bound
        return connection

    # The pool pings a connection when it leaves the pool: its next wait is that ping.
    @event.listens_for(engine, "checkin")
    def before_ping(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, BoundedConnection):
            dbapi_connection.wait_bound = ping_bound

    @event.listens_for(engine, "checkout")
    def after_ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if isinstance(dbapi_connection, BoundedConnection):
            dbapi_connection.wait_bound = query_bound

    @event.listens_for(engine, "handle_error")
    def drop_timed_out(context: ExceptionContext) -> None:
        if not isinstance(context.original_exception, DatabaseTimeout):
            return
        if context.is_pre_ping:
            # A server that does not answer a ping will not answer a new connection either:
            # no reconnect on top (another connect_timeout); the request fails fast with 503
            # and the pool drops the closed connection.
            context.is_disconnect = False
        else:
            # Drop only this connection, not the whole pool.
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = False


def postgres_connect_args(settings: Settings) -> dict[str, Any]:
    return {
        "connect_timeout": settings.db_connect_timeout_seconds,
        "options": f"-c statement_timeout={settings.statement_timeout_ms}",
        # A peer that vanishes without a word (host down, cable cut): notice within a minute.
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000,
    }


def bound_sqlite(engine: Engine, settings: Settings) -> None:
    limit = settings.statement_timeout_ms / 1000

    @event.listens_for(engine, "before_cursor_execute")
    def start_clock(conn: Any, _cursor: Any, *_args: Any) -> None:
        deadline = time.monotonic() + conn.get_execution_options().get(LOOP_BUDGET_OPTION, limit)
        raw: sqlite3.Connection = conn.connection.driver_connection
        # Returning true from the handler makes SQLite abort the statement: "interrupted".
        raw.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_PROGRESS_STEPS)
