"""Sources: create, read, list, update, delete."""

from sqlalchemy import exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import Conflict
from app.core.ids import get_by_id
from app.core.pagination import Window, decode_cursor, encode_cursor, keyset_page
from app.reports.models import Report
from app.sources.models import Source, SourceCreate, SourceKind, SourceUpdate, name_key
from app.stances.models import Stance
from app.stances.rules import affiliation_key
from app.stances.service import refresh_claims_of_source
from app.verdicts.service import source_has_verdicts

LIST_SORT = "name"


def get_source(*, session: Session, source_id: str, for_update: bool = False) -> Source:
    return get_by_id(session, Source, source_id, "source", for_update=for_update)


def _ensure_name_free(session: Session, name: str, except_id: int | None = None) -> None:
    query = select(Source.id).where(Source.name_key == name_key(name))
    if except_id is not None:
        query = query.where(Source.id != except_id)
    if session.exec(query).first() is not None:
        raise Conflict(f"A source named '{name}' already exists (names are case-insensitive).")


def create_source(*, session: Session, data: SourceCreate) -> Source:
    _ensure_name_free(session, data.name)
    now = utcnow()
    source = Source(
        **data.model_dump(),
        name_key=name_key(data.name),
        affiliation_key=affiliation_key(data.affiliation),
        created_at=now,
        updated_at=now,
    )
    session.add(source)
    _commit(session, data.name)
    return source


def update_source(*, session: Session, source_id: str, data: SourceUpdate) -> Source:
    # Lock the source first: stance writers take locks in the same order (source, then claim).
    source = get_source(session=session, source_id=source_id, for_update=True)
    changes = {
        k: v for k, v in data.model_dump(exclude_unset=True).items() if getattr(source, k) != v
    }
    if not changes:
        return source
    if "name" in changes:
        _ensure_name_free(session, changes["name"], except_id=source.id)
        source.name_key = name_key(changes["name"])
    for field, value in changes.items():
        setattr(source, field, value)
    now = utcnow()
    source.updated_at = now
    if "affiliation" in changes:
        source.affiliation_key = affiliation_key(source.affiliation)
        session.flush()
        # Camps decide between asserted and corroborated: re-derive where it speaks.
        refresh_claims_of_source(session=session, source_id=source.id, now=now)  # type: ignore[arg-type]
    _commit(session, source.name)
    return source


def delete_source(*, session: Session, source_id: str) -> None:
    source = get_source(session=session, source_id=source_id)
    if session.exec(select(exists().where(col(Stance.source_id) == source.id))).one():
        raise Conflict(
            f"Source '{source_id}' has stances on record; they keep it from being deleted."
        )
    if source_has_verdicts(session=session, source_id=source.id):  # type: ignore[arg-type]
        raise Conflict(f"Source '{source_id}' has verdicts on record; withdraw them first.")
    if session.exec(select(exists().where(col(Report.publisher_id) == source.id))).one():
        raise Conflict(
            f"Source '{source_id}' published reports on record; delete them or change "
            "their publisher_id first."
        )
    session.delete(source)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"Source '{source_id}' has stances on record.") from None


def list_sources(
    *, session: Session, kinds: list[SourceKind], q: str | None, window: Window
) -> tuple[list[Source], str | None]:
    """Sources by name, case-insensitively, resuming after the cursor."""
    limit, cursor = window.limit, window.cursor
    query = select(Source)
    if kinds:
        query = query.where(col(Source.kind).in_([kind.value for kind in kinds]))
    if q:
        pattern = (
            "%" + q.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(col(Source.name_key).like(pattern, escape="\\"))
    if cursor:
        after, _ = decode_cursor(cursor, LIST_SORT, str)
        query = query.where(Source.name_key > after)
    rows = list(session.exec(query.order_by(col(Source.name_key)).limit(limit + 1)))
    return keyset_page(rows, limit, lambda last: encode_cursor(LIST_SORT, last.name_key, last.id))  # type: ignore[arg-type]


def _commit(session: Session, name: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        # Another writer took the name between our check and our insert.
        session.rollback()
        raise Conflict(
            f"A source named '{name}' already exists (names are case-insensitive)."
        ) from None
