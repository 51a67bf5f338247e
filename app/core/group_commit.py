"""Group commit: the process's stance writes run on one writer thread, a batch per commit.

Each POST used to take its own trip to the thread pool, its own connection, BEGIN and
COMMIT, and (on SQLite) its turn at the writer lock: a 201 cost about 4 ms of CPU, of which
the stance's statements were a quarter (bench/NOTES.md). Now a route hands its write to
`GroupCommit.run` and awaits it. The writer thread takes every write queued meanwhile, up
to MAX_BATCH, runs each in a savepoint of one transaction, and commits once; only then are
the routes answered, so a 201 still means committed.

Batches are for SQLite, which admits one writer at a time anyway: one writer thread. On
PostgreSQL each write keeps its own transaction, in the thread pool: a stance updates its
report's row (stance_count, by trigger) after it locks its claim, so two batches citing one
report would each hold a claim the other waits for, and deadlock; and its commits already
share a WAL flush there.

A batch runs first without savepoints. When a write raises (an unknown claim, a lease lost
to a retry), the batch is rolled back and runs again with a savepoint for each write: the
one that raises rolls back its own and gets its error; the others commit. When the
database itself fails in a batch (a full disk, a commit that fails), the batch is rolled
back and each write in it runs again alone, as it would have before: whatever one write
meets, it never decides another's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from app.core.db import write_engine

Result = TypeVar("Result")
# Enough for every client a server holds at once; a bigger batch only holds locks longer.
MAX_BATCH = 64
log = logging.getLogger("claims_api.group_commit")


@dataclass(eq=False)
class _Write(Generic[Result]):
    write: Callable[[Connection], Result]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Result]
    result: Any = None
    error: BaseException | None = None
    # A database failure in a batch: the write runs again alone.
    again: bool = False


class GroupCommit:
    """The writer thread of an engine; `run` from any event loop. `batches` defaults to
    the engine's (SQLite: yes)."""

    def __init__(
        self, engine: Engine, *, max_batch: int = MAX_BATCH, batches: bool | None = None
    ) -> None:
        self._engine = write_engine(engine)
        self._max_batch = max_batch
        self._batches = engine.dialect.name == "sqlite" if batches is None else batches
        self._queue: queue.SimpleQueue[_Write[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def batches(self) -> bool:
        return self._batches

    async def run(self, write: Callable[[Connection], Result]) -> Result:
        """`write(conn)` in a transaction (the next batch's, where there are batches);
        returns once that committed."""
        if not self._batches:
            return await run_in_threadpool(self._alone, write)
        self._start()
        loop = asyncio.get_running_loop()
        job: _Write[Result] = _Write(write, loop, loop.create_future())
        self._queue.put(job)
        return await job.future

    def close(self) -> None:
        """Finish what is queued, then stop the thread (a later `run` starts another: an
        app's lifespan may run more than once, as under a test client)."""
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None

    def _alone(self, write: Callable[[Connection], Result]) -> Result:
        with self._engine.connect() as conn:
            result = write(conn)
            conn.commit()
        return result

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="group-commit", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < self._max_batch and not stop:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                else:
                    batch.append(job)
            if len(batch) == 1 or not self._commit_at_once(batch):
                self._commit(batch)
            for job in batch:
                if job.again:
                    self._commit([job])
            _settle(batch)
            if stop:
                return

    def _commit_at_once(self, batch: list[_Write[Any]]) -> bool:
        """The usual batch, whose writes all succeed, without a savepoint each (they cost a
        sixth of a stance's time). False when any write or the commit raised: nothing
        committed, and the batch runs again through _commit."""
        try:
            with self._engine.connect() as conn:
                conn.begin()
                for job in batch:
                    job.result = job.write(conn)
                conn.commit()
        except Exception:
            for job in batch:
                job.result = None
            return False
        return True

    def _commit(self, batch: list[_Write[Any]]) -> None:
        """One transaction for the batch, each write in a savepoint, so that a write that
        fails is rolled back alone. A batch of one (a write run alone) needs no savepoint,
        and what it meets is its answer."""
        alone = len(batch) == 1
        try:
            with self._engine.connect() as conn:
                conn.begin()
                for job in batch:
                    if alone:
                        _run_alone(conn, job)
                    else:
                        _run_in_savepoint(conn, job)
                conn.commit()
        except DBAPIError as exc:
            # The transaction is gone, and with it every write of the batch that had run.
            for job in batch:
                if job.error is None:
                    job.result = None
                    if alone:
                        job.again, job.error = False, exc
                    else:
                        job.again = True
        except BaseException as exc:  # every waiting route gets an answer
            log.exception("group commit failed")
            for job in batch:
                if job.error is None:
                    job.again, job.result, job.error = False, None, exc


def _run_alone(conn: Connection, job: _Write[Any]) -> None:
    try:
        job.result = job.write(conn)
    except DBAPIError:
        raise
    except Exception as exc:  # the write's own answer: an AppError, or a bug (a 500)
        job.error = exc
        conn.rollback()


def _run_in_savepoint(conn: Connection, job: _Write[Any]) -> None:
    savepoint = conn.begin_nested()
    try:
        job.result = job.write(conn)
    except DBAPIError:
        savepoint.rollback()
        job.again = True
    except Exception as exc:
        savepoint.rollback()
        job.error = exc
    else:
        savepoint.commit()


def _settle(batch: list[_Write[Any]]) -> None:
    """Answer the batch's routes, with one wake-up of each event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Write[Any]]] = {}
    for job in batch:
        by_loop.setdefault(job.loop, []).append(job)
    for loop, jobs in by_loop.items():
        # A loop that has closed has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_answer, jobs)


def _answer(jobs: list[_Write[Any]]) -> None:
    for job in jobs:
        if job.future.done():  # the request was cancelled (its client went away)
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
