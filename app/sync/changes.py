"""The change feed behind GET /changes: what changed since a stored cursor, deletions
included.

Database triggers (migrations 0005 and 0009) keep one `sync_change` row per claim, source
and report:
its latest change, or its tombstone once deleted. Every write path feeds it without
knowing, and the table stays as small as the data (no retention horizon: a cursor never
expires).

Order is (txid, seq). On SQLite there is one writer at a time, txid is 0 and seq follows
commit order. On PostgreSQL concurrent transactions draw seq numbers out of commit order,
so a reader that advanced past a number still held by a running transaction would skip
that change for good. Each row therefore records its transaction id, and the feed serves
only rows whose transaction is older than the oldest one still running: no later commit
can sort before them.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Index, String, literal_column, tuple_
from sqlalchemy.orm import defer
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, select

from app.claims.models import Claim, ClaimPublic
from app.core.db import UTCDateTime
from app.core.models import IdType
from app.core.pagination import Page, Window, decode_token, encode_token, invalid_cursor
from app.reports.models import Report, ReportSummary
from app.sources.models import Source, SourcePublic

CURSOR_KIND = "changes"


class SyncChange(SQLModel, table=True):
    """The latest change of one claim, source or report; a tombstone when `deleted_at` is
    set."""

    __tablename__ = "sync_change"
    __table_args__ = (Index("ix_sync_change_txid_seq", "txid", "seq", unique=True),)

    resource_type: str = SQLField(sa_type=String(16), primary_key=True)
    resource_id: int = SQLField(sa_type=IdType, primary_key=True)
    txid: int = SQLField(sa_type=BigInteger)
    seq: int = SQLField(sa_type=BigInteger)
    changed_at: datetime = SQLField(sa_type=UTCDateTime)
    deleted_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class ChangeType(StrEnum):
    claim = "claim"
    source = "source"
    report = "report"


class Change(BaseModel):
    type: ChangeType = Field(description="What kind of record changed.")
    id: str = Field(description="The record's id.", examples=["17"])
    deleted: bool = Field(description="true: the record is gone (a tombstone).")
    changed_at: datetime = Field(description="When the change was recorded.")
    deleted_at: datetime | None = Field(description="When the record was deleted.")
    claim: ClaimPublic | None = Field(
        description="The claim as it is now (type claim, not deleted); fetch "
        "/claims/{id} for its stances."
    )
    source: SourcePublic | None = Field(
        description="The source as it is now (type source, not deleted)."
    )
    report: ReportSummary | None = Field(
        default=None,
        description="The report as it is now (type report, not deleted), without its text: "
        "fetch /reports/{id} for it.",
    )


class ChangePage(Page[Change]):
    sync_cursor: str = Field(
        description="Store this and pass it back as `cursor` later to get only what changed "
        "since this page, deletions included. Present on every page, the last one too."
    )


def encode_position(txid: int, seq: int) -> str:
    return encode_token([CURSOR_KIND, txid, seq])


def decode_position(cursor: str) -> tuple[int, int]:
    invalid = invalid_cursor("feed")
    kind, txid, seq = decode_token(cursor, invalid, parts=3)
    if kind != CURSOR_KIND or type(txid) is not int or type(seq) is not int:
        raise invalid
    if not (0 <= txid < 2**63 and 0 <= seq < 2**63):
        raise invalid
    return txid, seq


def stops_at_running_transactions(session: Session) -> bool:
    """Whether the feed holds back transactions still running anywhere in the cluster
    (PostgreSQL: commits there come out of txid order), so that its page moves when one of
    them ends, whatever it wrote."""
    return session.get_bind().dialect.name == "postgresql"


def _settled(session: Session) -> Any:
    """Rows of transactions that can no longer be followed by an earlier-sorting commit."""
    if not stops_at_running_transactions(session):
        return None
    return col(SyncChange.txid) < literal_column(
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    )


def list_changes(*, session: Session, window: Window) -> tuple[list[Change], str | None, str]:
    """One page of the feed after `cursor`: the changes, next_cursor, sync_cursor."""
    limit, cursor = window.limit, window.cursor
    position = decode_position(cursor) if cursor else (0, 0)
    query = select(SyncChange).where(
        tuple_(col(SyncChange.txid), col(SyncChange.seq)) > tuple_(*position)
    )
    if (settled := _settled(session)) is not None:
        query = query.where(settled)
    rows = list(
        session.exec(query.order_by(col(SyncChange.txid), col(SyncChange.seq)).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        position = (rows[-1].txid, rows[-1].seq)
    sync_cursor = encode_position(*position)
    return _with_records(session, rows), sync_cursor if more else None, sync_cursor


def current_position(*, session: Session) -> str:
    """The cursor of everything settled so far: follow the feed from here after a snapshot."""
    query = select(SyncChange.txid, SyncChange.seq)
    if (settled := _settled(session)) is not None:
        query = query.where(settled)
    last = session.exec(
        query.order_by(col(SyncChange.txid).desc(), col(SyncChange.seq).desc()).limit(1)
    ).first()
    return encode_position(*(last if last else (0, 0)))


def _live(session: Session, rows: list[SyncChange], table: Any, kind: ChangeType) -> dict[int, Any]:
    """The records of this kind that the rows name and that still exist, by id."""
    pks = [r.resource_id for r in rows if r.resource_type == kind and r.deleted_at is None]
    if not pks:
        return {}
    query = select(table).where(col(table.id).in_(pks))
    if table is Report:
        # The feed carries reports without their text, which may be 500,000 characters.
        query = query.options(defer(Report.text), defer(Report.text_key))  # type: ignore[arg-type]
    return {record.id: record for record in session.exec(query)}


def _with_records(session: Session, rows: list[SyncChange]) -> list[Change]:
    claims = _live(session, rows, Claim, ChangeType.claim)
    sources = _live(session, rows, Source, ChangeType.source)
    reports = _live(session, rows, Report, ChangeType.report)
    changes = []
    for row in rows:
        kind = ChangeType(row.resource_type)
        claim = claims.get(row.resource_id) if kind == ChangeType.claim else None
        source = sources.get(row.resource_id) if kind == ChangeType.source else None
        report = reports.get(row.resource_id) if kind == ChangeType.report else None
        if row.deleted_at is None and claim is None and source is None and report is None:
            continue  # deleted since this page was read: its tombstone comes later in the feed
        changes.append(
            Change(
                type=kind,
                id=str(row.resource_id),
                deleted=row.deleted_at is not None,
                changed_at=row.changed_at,
                deleted_at=row.deleted_at,
                claim=ClaimPublic.model_validate(claim, from_attributes=True) if claim else None,
                source=SourcePublic.model_validate(source, from_attributes=True)
                if source
                else None,
                report=ReportSummary.model_validate(report, from_attributes=True)
                if report
                else None,
            )
        )
    return changes
