"""This process's SQLite writers queue on a lock instead of in SQLite's busy handler.

SQLite lets one writer at a time hold the database; the others, in `BEGIN IMMEDIATE`, sleep
in the busy handler and retry, in naps that grow up to 100 ms whatever the lock's holder
does. Writers of this process instead wait on a Python lock, taken before `BEGIN IMMEDIATE`
and released the moment the transaction ends, so the next one starts at once. Writers in
other processes (the CLI, a second server) still meet SQLite's lock and its busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading


class QueuedWriterConnection(sqlite3.Connection):
    """A pysqlite connection that gives back the writer lock when its transaction ends."""

    writer_lock: threading.Lock | None = None
    holds_writer_lock = False

    def take_writer_lock(self, timeout: float) -> None:
        """Wait for this process's other writers. After `timeout` go on without the lock:
        SQLite's own lock still keeps writers apart, so waiting longer would gain nothing."""
        if self.writer_lock is not None and not self.holds_writer_lock:
            self.holds_writer_lock = self.writer_lock.acquire(timeout=timeout)

    def give_back_writer_lock(self) -> None:
        if self.holds_writer_lock and not self.in_transaction:
            self.holds_writer_lock = False
            assert self.writer_lock is not None
            self.writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back_writer_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back_writer_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.holds_writer_lock:
                self.holds_writer_lock = False
                assert self.writer_lock is not None
                self.writer_lock.release()
