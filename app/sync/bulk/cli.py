"""`claims-api import FILE`: the bulk importer, with a progress bar on a terminal and
progress lines elsewhere."""

import os
import sys
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine, event
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import write_engine
from app.sync.bulk.importer import ImportCounts, Importer, LineError, import_lines

SQLITE_CACHE_KIB = 256 * 1024
# The statement bound protects a server's requests; an import into an empty database builds
# the indexes of the whole archive in single statements (minutes at a million claims).
IMPORT_STATEMENT_TIMEOUT_MS = 6 * 3600 * 1000


def import_settings(settings: Settings) -> Settings:
    """The operator's settings, with a statement bound long enough for index builds."""
    timeout = max(settings.statement_timeout_ms, IMPORT_STATEMENT_TIMEOUT_MS)
    return settings.model_copy(update={"statement_timeout_ms": timeout})


def _summary(counts: ImportCounts, seconds: float) -> str:
    rate = counts.stances_created / seconds if seconds > 0 else 0.0
    reports = (
        f"{counts.reports_created} reports created, {counts.reports_matched} matched by url, "
        if counts.reports_created or counts.reports_matched
        else ""
    )
    return (
        f"{counts.sources_created} sources created, {counts.sources_matched} matched by name, "
        f"{reports}{counts.claims_created} claims, {counts.stances_created} stances "
        f"from {counts.lines} lines in {seconds:.1f} s ({rate:,.0f} stances/s)"
    )


def _large_page_cache(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


def open_input(path: str) -> tuple[BinaryIO, int | None]:
    """The file to import (stdin for `-`) and its size when known; OSError if unreadable."""
    if path == "-":
        return sys.stdin.buffer, None
    stream = open(path, "rb")  # noqa: SIM115 (closed by run_import)
    return stream, os.fstat(stream.fileno()).st_size


class ProgressLines:
    """Progress for a stderr that is not a terminal (a pipe, a log file): a plain line at
    most every `interval` seconds, so a long import shows it is alive and a short one
    prints nothing but its summary."""

    def __init__(self, console: Console, total: int | None, interval: float) -> None:
        self.console, self.total, self.interval = console, total, interval
        self.last = time.monotonic()

    def __enter__(self) -> "ProgressLines":
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def update(self, counts: ImportCounts, read: int) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        where = f"{read:,} bytes" if self.total is None else f"{read:,} of {self.total:,} bytes"
        if self.total:
            where += f" ({100 * read // self.total}%)"
        self.console.print(
            f"importing: {counts.claims_created} claims, {counts.stances_created} stances, {where}",
            highlight=False,
            soft_wrap=True,
        )


class ProgressBar:
    """rich's progress bar, for a terminal."""

    def __init__(self, console: Console, total: int | None) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("importing", total=total)

    def __enter__(self) -> "ProgressBar":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def update(self, counts: ImportCounts, read: int) -> None:
        description = f"{counts.claims_created} claims, {counts.stances_created} stances"
        self.progress.update(self.task, completed=read, description=description)


def run_import(
    *,
    engine: Engine,
    stream: BinaryIO,
    total: int | None,
    batch_size: int,
    progress_seconds: float,
) -> int:
    """Import `stream` (of `total` bytes when known); print the counts; the exit code."""
    console = Console(stderr=True)
    read = 0

    def lines() -> Iterator[bytes]:
        nonlocal read
        for line in stream:
            read += len(line)
            yield line

    if engine.dialect.name == "sqlite":
        # A bulk load touches every index of a growing database: a page cache of 2 MB
        # (SQLite's default) turns that into re-reading pages; this process can afford more.
        event.listen(engine, "connect", _large_page_cache)
    importer = Importer()
    started = time.monotonic()
    progress: ProgressBar | ProgressLines = (
        ProgressBar(console, total)
        if console.is_terminal
        else ProgressLines(console, total, progress_seconds)
    )
    try:
        with progress, Session(write_engine(engine), expire_on_commit=False) as session:
            for counts in import_lines(
                session=session, lines=lines(), batch_size=batch_size, importer=importer
            ):
                progress.update(counts, read)
    except LineError as exc:
        console.print(f"[red]error:[/red] {exc.detail}", highlight=False, soft_wrap=True)
        console.print(
            f"committed before it: {_summary(importer.counts, time.monotonic() - started)}",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    print("imported: " + _summary(importer.counts, time.monotonic() - started))
    return 0
