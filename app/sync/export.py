"""GET /export: the whole database as claims-api NDJSON (docs/bulk.md), streamed.

One read transaction for the whole walk (REPEATABLE READ on PostgreSQL; a SQLite read
transaction is a snapshot already), so every stance's claim and source are in the file
even while writers carry on. Rows are read by id a chunk at a time: memory stays flat.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.claims.models import Claim, ClaimPublic
from app.core.db import utcnow
from app.core.fields import PublicId
from app.reports.models import Report, ReportPublic
from app.sources.models import Source, SourcePublic
from app.stances.models import Stance, StanceLine
from app.sync.bulk.records import FORMAT, VERSION
from app.sync.changes import current_position
from app.verdicts.models import Verdict
from app.verdicts.rating import Rating

CHUNK = 1000
REPORT_CHUNK = 16


class _VerdictLine(BaseModel):
    """A verdict as the file carries it: its claim and reviewer by id only."""

    claim_id: PublicId
    source_id: PublicId
    rating: Rating
    textual_rating: str | None
    explanation: str | None
    reviewed_at: datetime
    url: str | None
    created_at: datetime
    updated_at: datetime


def _line(kind: str, model: BaseModel) -> bytes:
    return (
        json.dumps({"type": kind, **model.model_dump(mode="json")}, ensure_ascii=False) + "\n"
    ).encode()


def _walk(
    session: Session, table: type[Source | Report | Claim | Stance | Verdict], chunk: int = CHUNK
) -> Iterator[Any]:
    after = 0
    key = "claim_id" if table is Verdict else "id"  # a verdict is keyed by its claim
    id_column = col(getattr(table, key))
    while True:
        rows = list(
            session.exec(select(table).where(id_column > after).order_by(id_column).limit(chunk))
        )
        if not rows:
            return
        yield from rows
        after = getattr(rows[-1], key)
        session.expunge_all()


def export_lines(*, engine: Engine) -> Iterator[bytes]:
    """Header, then every source, report, claim and stance by id, then every verdict by
    claim id: one JSON object a line."""
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        header = {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "exported_at": utcnow().isoformat().replace("+00:00", "Z"),
            # Follow GET /changes from here to keep a copy made from this file up to date.
            "changes_cursor": current_position(session=session),
        }
        yield (json.dumps(header) + "\n").encode()
        for source in _walk(session, Source):
            yield _line("source", SourcePublic.model_validate(source, from_attributes=True))
        # A few at a time: a report's text may be 500,000 characters.
        for report in _walk(session, Report, REPORT_CHUNK):
            yield _line("report", ReportPublic.model_validate(report, from_attributes=True))
        for claim in _walk(session, Claim):
            yield _line("claim", ClaimPublic.model_validate(claim, from_attributes=True))
        for stance in _walk(session, Stance):
            yield _line(
                "stance",
                StanceLine.model_validate({**stance.model_dump(), "current": stance.is_current}),
            )
        for verdict in _walk(session, Verdict):
            yield _line("verdict", _VerdictLine.model_validate(verdict, from_attributes=True))
