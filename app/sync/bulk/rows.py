"""Writing a batch's rows fast: ids reserved up front, multi-row INSERTs (COPY on
PostgreSQL) straight through the driver, and on SQLite the claim triggers' work done
set-based."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, text
from sqlmodel import col

from app.claims.models import Claim
from app.sources.models import Source, name_key
from app.stances.models import Stance
from app.stances.periods_model import ClaimStatusPeriod
from app.stances.rules import affiliation_key
from app.stances.timeline import Period, status_since
from app.sync.bulk.records import ClaimRecord, SourceRecord
from app.verdicts.models import Verdict

TIME_MEMO = 100_000
_NO_OFFSET = timedelta(0)
IN_CHUNK = 1000  # ids per IN (...) list: well under SQLite's bound-variable limit


def _columns(table: Any) -> tuple[str, ...]:
    """The table's columns in their order: the order of the row tuples built below."""
    return tuple(table.__table__.columns.keys())


SOURCE_COLUMNS = _columns(Source)
CLAIM_COLUMNS = _columns(Claim)
STANCE_COLUMNS = _columns(Stance)
VERDICT_COLUMNS = _columns(Verdict)
# Every column but the id, which the database assigns.
PERIOD_COLUMNS = _columns(ClaimStatusPeriod)[1:]


def chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def reserve_ids(conn: Connection, table: str, count: int) -> list[int]:
    """`count` new ids for `table`, ascending, never issued before and never reissued."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table, "n": count},
        )
        return sorted(pk for (pk,) in rows)
    # SQLite, inside BEGIN IMMEDIATE: nobody else writes. AUTOINCREMENT remembers the
    # highest id ever used in sqlite_sequence, and inserting explicit ids moves it on.
    last = conn.execute(
        text(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = :table), 0), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0))"
        ),
        {"table": table},
    ).scalar_one()
    return list(range(last + 1, last + 1 + count))


def current_stances(conn: Connection, claim_pks: list[int]) -> Iterator[Any]:
    postgres = conn.dialect.name == "postgresql"
    for chunk in chunks(claim_pks):
        if postgres:
            # Writers of one claim take turns, as in record_stance.
            conn.execute(
                select(col(Claim.id))
                .where(col(Claim.id).in_(chunk))
                .order_by(col(Claim.id))
                .with_for_update()
            ).all()
        yield from conn.execute(
            select(  # type: ignore[call-overload]
                Stance.id, Stance.claim_id, Stance.source_id, Stance.stance, Stance.stated_at
            ).where(col(Stance.claim_id).in_(chunk), col(Stance.is_current))
        )


class DriverRows:
    """Multi-row INSERTs straight through the driver. SQLAlchemy's per-value bind
    processing was the largest cost of a bulk load; these values are validated already
    and only need the two conversions UTCDateTime and JSON would make."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        # Many rows share a timestamp (the import's `now`, a report's hour): convert once.
        self._texts: dict[datetime, str] = {}

    def time(self, value: datetime | None) -> datetime | str | None:
        """As UTCDateTime stores it: naive UTC text on SQLite, timestamptz on PostgreSQL."""
        if value is None or not self.sqlite:
            return value
        text = self._texts.get(value)
        if text is None:
            if value.utcoffset() == _NO_OFFSET:
                # Already UTC (nearly every input says Z): the same text without the two
                # conversions, "YYYY-MM-DD HH:MM:SS.ffffff" before the "+00:00".
                text = value.isoformat(" ", "microseconds")[:26]
            else:
                text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            if len(self._texts) < TIME_MEMO:
                self._texts[value] = text
        return text

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" for _ in columns)
            self.conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        # PostgreSQL: COPY, in the same transaction, fires the same triggers and checks the
        # same constraints as INSERT, at a fraction of the per-row cost.
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


# The per-row triggers that keep claim_fts (migration 0001) and sync_change (0005) cost
# several times the insert itself on SQLite. For a batch of claims they are set aside inside
# the batch's transaction (SQLite DDL is transactional: nobody sees them missing), their work
# is done by two set-based statements, and they are put back verbatim from sqlite_master.
SQLITE_CLAIM_INSERT_TRIGGERS = ("claim_fts_insert", "sync_change_claim_insert")
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


def insert_claims_sqlite(rows: DriverRows, claim_rows: list[tuple[Any, ...]]) -> None:
    conn = rows.conn
    names = ", ".join(f"'{name}'" for name in SQLITE_CLAIM_INSERT_TRIGGERS)
    triggers = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({names})"
    ).all()
    if len(triggers) != len(SQLITE_CLAIM_INSERT_TRIGGERS):
        rows.insert("claim", CLAIM_COLUMNS, claim_rows)  # a schema we do not know: row by row
        return
    for name, _sql in triggers:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    rows.insert("claim", CLAIM_COLUMNS, claim_rows)
    first, last = claim_rows[0][0], claim_rows[-1][0]  # reserved ids: contiguous, ascending
    conn.exec_driver_sql(
        "INSERT INTO claim_fts (rowid, search_text) "
        "SELECT id, search_text FROM claim WHERE id BETWEEN ? AND ?",
        (first, last),
    )
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO sync_change "
        "(resource_type, resource_id, txid, seq, changed_at, deleted_at) "
        "SELECT 'claim', id, 0, "
        "COALESCE((SELECT seq FROM sync_change WHERE txid = 0 ORDER BY seq DESC LIMIT 1), 0) "
        f"+ ROW_NUMBER() OVER (ORDER BY id), {SQLITE_NOW}, NULL "
        "FROM claim WHERE id BETWEEN ? AND ?",
        (first, last),
    )
    for _name, sql in triggers:
        conn.exec_driver_sql(sql)


def source_row(rows: DriverRows, r: SourceRecord, pk: int, now: datetime) -> tuple[Any, ...]:
    return (
        pk,
        r.name,
        name_key(r.name),
        r.kind.value,
        r.affiliation,
        affiliation_key(r.affiliation),
        r.country,
        r.url,
        r.description,
        rows.time(r.created_at or now),
        rows.time(r.updated_at or now),
    )


def claim_row(
    rows: DriverRows,
    r: ClaimRecord,
    pk: int,
    derived: tuple[str, int, int],
    periods: list[Period],
    now: datetime,
    search_text: str,
) -> tuple[Any, ...]:
    status, asserting, denying = derived
    since = status_since(periods)
    return (
        pk,
        r.text,
        r.language,
        r.place,
        rows.time(r.occurred_at),
        json.dumps(r.tags),
        status,
        asserting,
        denying,
        rows.time(since),
        rows.time(r.created_at or now),
        rows.time(r.updated_at or now),
        search_text,
    )


def period_row(
    rows: DriverRows, claim_pk: int, p: Period, claim_times: tuple[datetime, datetime]
) -> tuple[Any, ...]:
    """A row of PERIOD_COLUMNS; `claim_times` are the claim's created_at and updated_at."""
    created_at, updated_at = claim_times
    return (
        claim_pk,
        rows.time(p.valid_from),
        rows.time(p.valid_to),
        p.status.value,
        p.asserting_sources,
        p.denying_sources,
        rows.time(p.status_since),
        p.changed_by,
        rows.time(created_at),
        rows.time(updated_at),
    )
