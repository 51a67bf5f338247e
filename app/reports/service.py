"""Reports: create, read, list, update, delete; and the quotes of the stances citing one."""

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.ids import get_by_id, parse_id
from app.core.models import table_of
from app.core.pagination import Window, decode_cursor, encode_cursor, keyset_after
from app.reports.models import Report, ReportCreate, ReportUpdate, url_key
from app.reports.quotes import normalise, quote_found
from app.search.stored import claims_citing, rewrite_columns
from app.sources.models import Source
from app.stances.models import Stance

LIST_SORT = "-published_at"


def get_report(*, session: Session, report_id: str, for_update: bool = False) -> Report:
    return get_by_id(session, Report, report_id, "report", for_update=for_update)


def _publisher_pk(session: Session, publisher_id: str | None) -> int | None:
    """The publisher's id, which must be a source's: 422 naming the field otherwise."""
    if publisher_id is None:
        return None
    unknown = ValidationFailed.on(
        "body", "publisher_id", f"no source has id '{publisher_id[:40]}'", "unknown_source"
    )
    try:
        pk = parse_id(publisher_id, "source")
    except NotFound:
        raise unknown from None
    if session.exec(select(Source.id).where(Source.id == pk)).first() is None:
        raise unknown
    return pk


def _duplicate(session: Session, key: str, except_id: int | None = None) -> Conflict | None:
    query = select(Report.id).where(Report.url_key == key)
    if except_id is not None:
        query = query.where(Report.id != except_id)
    existing = session.exec(query).first()
    if existing is None:
        return None
    return Conflict(
        f"Report '{existing}' already has this url (urls are compared without their "
        "fragment, scheme and host in any case)."
    )


def create_report(*, session: Session, data: ReportCreate) -> Report:
    key = url_key(data.url)
    if (conflict := _duplicate(session, key)) is not None:
        raise conflict
    now = utcnow()
    report = Report(
        **data.model_dump(exclude={"publisher_id"}),
        publisher_id=_publisher_pk(session, data.publisher_id),
        url_key=key,
        text_key=None if data.text is None else normalise(data.text),
        stance_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(report)
    _commit(session, key)
    return report


def update_report(*, session: Session, report_id: str, data: ReportUpdate) -> Report:
    report = get_report(session=session, report_id=report_id, for_update=True)
    given = data.model_dump(exclude_unset=True)
    if "publisher_id" in given:
        given["publisher_id"] = _publisher_pk(session, given["publisher_id"])
    changes = {k: v for k, v in given.items() if getattr(report, k) != v}
    if not changes:
        return report
    if "url" in changes:
        key = url_key(changes["url"])
        if (conflict := _duplicate(session, key, except_id=report.id)) is not None:
            raise conflict
        report.url_key = key
    for field, value in changes.items():
        setattr(report, field, value)
    report.updated_at = utcnow()
    if "text" in changes:
        report.text_key = None if report.text is None else normalise(report.text)
        session.flush()
        # In the same transaction: no reader ever sees the new text with the old verdicts.
        recheck_quotes(session=session, report_id=report.id, text=report.text)  # type: ignore[arg-type]
    if "title" in changes:
        session.flush()
        # Search finds a claim by the titles of the reports it cites: each citing claim's
        # column written again in this transaction, its row locked as a stance writer's is
        # (after the report's: the order record_stance takes them in).
        conn = session.connection()
        rewrite_columns(conn, claims_citing(conn, report.id), lock=True)  # type: ignore[arg-type]
    _commit(session, report.url_key)
    return report


def recheck_quotes(*, session: Session, report_id: int, text: str | None) -> int:
    """Recompute quote_found for every stance citing the report; returns how many changed."""
    rows = session.exec(
        select(Stance.id, Stance.quote, Stance.quote_found).where(Stance.report_id == report_id)
    ).all()
    changed = [
        {"pk": pk, "found": found}
        for pk, quote, held in rows
        if (found := quote_found(quote, text)) != held
    ]
    if changed:
        table = table_of(Stance)
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("pk"))
            .values(quote_found=bindparam("found")),
            changed,
        )
    return len(changed)


def delete_report(*, session: Session, report_id: str) -> None:
    report = get_report(session=session, report_id=report_id, for_update=True)
    if report.stance_count:
        raise _cited(report_id, report.stance_count)
    session.delete(report)
    try:
        session.commit()
    except IntegrityError:
        # A stance cited it between our check and our delete.
        session.rollback()
        raise _cited(report_id, None) from None


def _cited(report_id: str, count: int | None) -> Conflict:
    how_many = (
        "stances cite it"
        if count is None
        else ("1 stance cites it" if count == 1 else f"{count} stances cite it")
    )
    # Stances are the record of what was said: the report they cite stays with them.
    return Conflict(f"Report '{report_id}' cannot be deleted: {how_many}.")


def list_reports(
    *,
    session: Session,
    publisher_id: str | None,
    url: str | None,
    window: Window,
) -> tuple[list[Report], str | None]:
    """Newest published first, reports without a date last, ties by id (newest first).

    Two walks of the (published_at, id) index rather than one ORDER BY ... NULLS LAST,
    which neither engine serves from a plain index: the dated reports newest first, then,
    if the page is not full, the undated ones by id. The cursor says which walk it is in."""
    limit, cursor = window.limit, window.cursor
    query = select(Report)
    if publisher_id is not None:
        query = query.where(Report.publisher_id == _id_or_none(publisher_id))
    if url is not None:
        query = query.where(Report.url_key == url_key(url), Report.url == url)
    after_at: datetime | None = None
    after_id = 0
    undated_only = False
    if cursor:
        after_at, after_id = decode_cursor(cursor, LIST_SORT, datetime, nullable=True)
        undated_only = after_at is None
    published, pk = col(Report.published_at), col(Report.id)
    rows: list[Report] = []
    if not undated_only:
        dated = query.where(published.is_not(None))
        if after_at is not None:
            dated = dated.where(keyset_after(published, pk, after_at, after_id, descending=True))
        rows += session.exec(dated.order_by(published.desc(), pk.desc()).limit(limit + 1))
    if len(rows) <= limit:
        undated = query.where(published.is_(None))
        if undated_only:
            undated = undated.where(pk < after_id)
        rows += session.exec(undated.order_by(pk.desc()).limit(limit + 1 - len(rows)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(LIST_SORT, last.published_at, last.id)  # type: ignore[arg-type]
    return rows, next_cursor


def _id_or_none(value: str) -> int | None:
    """A filter's id: one that cannot be an id matches nothing (never a 422)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else -1


def _commit(session: Session, key: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        # Another writer took the url between our check and our write, or the publisher
        # went away.
        session.rollback()
        conflict = _duplicate(session, key)
        if conflict is not None:
            raise conflict from None
        raise ValidationFailed.on(
            "body", "publisher_id", "the source was deleted meanwhile", "unknown_source"
        ) from None
