"""Importing into an empty archive builds the secondary indexes once, at the end of one
transaction (app/sync/bulk/indexes.py). It must write exactly what the batch-by-batch path
writes, leave every index as the migrations made it, and keep the batch rules: on a bad
line the batches before it are committed and nothing of its own batch is."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import make_engine, write_engine
from app.sync.bulk.cli import import_settings
from app.sync.bulk.importer import Importer, LineError, import_lines
from bench.ndjson import records
from tests.bulk_helpers import cli, empty_database

CLAIMS = 300
BATCH = 97  # claims and their stances straddle batches; superseded stances in earlier ones

TABLES = {
    "source": "id",
    "claim": "id",
    "stance": "id",
    "claim_tag": "claim_id, tag",
}
# What else each engine is asked: the indexes it holds, and what its full-text index finds.
CATALOG = {
    "sqlite": {
        "indexes": "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
        "ORDER BY name",
        "search": "SELECT rowid FROM claim_fts WHERE claim_fts MATCH 'Aleppo' ORDER BY rowid",
    },
    "postgresql": {
        "indexes": "SELECT indexname, tablename, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() ORDER BY indexname",
        "search": "SELECT id FROM claim WHERE search_vector @@ plainto_tsquery('simple', "
        "'Aleppo') ORDER BY id",
    },
}


@pytest.fixture
def second_url(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[str]:
    yield from empty_database(request, database_url, tmp_path)


def _lines(count: int) -> list[bytes]:
    return [
        (json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        for r in records(count)
    ]


def _import(url: str, lines: list[bytes], *, defer: bool | None) -> Importer:
    engine = make_engine(Settings(database_url=url))
    importer = Importer()
    try:
        with Session(write_engine(engine), expire_on_commit=False) as session:
            for _ in import_lines(
                session=session,
                lines=lines,
                batch_size=BATCH,
                importer=importer,
                defer_indexes=defer,
            ):
                pass
    finally:
        engine.dispose()
    return importer


def _dump(url: str) -> dict[str, Any]:
    engine = make_engine(Settings(database_url=url))
    try:
        with engine.connect() as conn:
            dump: dict[str, Any] = {
                table: conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order}").all()
                for table, order in TABLES.items()
            }
            dump["sync_change"] = conn.exec_driver_sql(
                "SELECT resource_type, resource_id FROM sync_change ORDER BY seq"
            ).all()
            for name, sql in CATALOG[engine.dialect.name].items():
                dump[name] = conn.exec_driver_sql(sql).all()
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        return dump
    finally:
        engine.dispose()


def test_deferred_indexes_write_exactly_what_batch_by_batch_writes(
    database_url: str, second_url: str, tmp_path: Path
) -> None:
    lines = _lines(CLAIMS)
    before = _dump(database_url)["indexes"]
    deferred = _import(database_url, lines, defer=None)  # an empty archive: deferred
    batched = _import(second_url, lines, defer=False)
    assert deferred.counts == batched.counts
    assert deferred.counts.stances_created > 3 * CLAIMS
    one, other = _dump(database_url), _dump(second_url)
    assert one["indexes"] == before  # every index is back, as the migrations wrote it
    assert one["search"]
    for key in one:
        assert one[key] == other[key], key
    checked = cli(database_url, tmp_path, "check")
    assert (checked.returncode, checked.stdout.strip()) == (0, "0 mismatch(es) found")


def test_a_bad_line_keeps_the_earlier_batches_and_the_indexes(
    database_url: str, second_url: str
) -> None:
    lines = _lines(CLAIMS)
    bad = 1 + 2000 + 600  # after the header and the sources, among claims and stances
    broken = [*lines[: bad - 1], b'{"type": "claim", "id": "zz", "text": ""}\n', *lines[bad:]]
    before = _dump(database_url)["indexes"]
    with pytest.raises(LineError) as raised:
        _import(database_url, broken, defer=True)
    assert raised.value.line == bad
    # The same file, batch by batch, commits the same batches.
    with pytest.raises(LineError):
        _import(second_url, broken, defer=False)
    one, other = _dump(database_url), _dump(second_url)
    assert one["indexes"] == before
    assert 0 < len(one["stance"]) < 600
    for key in one:
        assert one[key] == other[key], key


def test_an_archive_with_claims_is_imported_batch_by_batch(database_url: str) -> None:
    lines = _lines(40)
    _import(database_url, lines, defer=None)
    engine = make_engine(Settings(database_url=database_url))
    try:
        with Session(write_engine(engine)) as session:
            importer = Importer()
            batches = import_lines(
                session=session, lines=lines[1:], batch_size=2100, importer=importer
            )
            next(batches)
            # The first batch (the sources, then claims) is committed already: another
            # connection sees it.
            with engine.connect() as conn:
                claims = conn.execute(sa.text("SELECT COUNT(*) FROM claim")).scalar_one()
            assert claims > 40
            for _ in batches:
                pass
    finally:
        engine.dispose()


def test_the_import_command_lifts_the_statement_bound_for_its_index_builds() -> None:
    # A million-claim archive's CREATE INDEX runs for minutes; the 10 s request bound
    # would interrupt it and roll the whole import back.
    assert import_settings(Settings(statement_timeout_ms=10_000)).statement_timeout_ms >= 3600_000
    longer = 24 * 3600 * 1000
    assert import_settings(Settings(statement_timeout_ms=longer)).statement_timeout_ms == longer
