"""Public ids: opaque strings outside, integers inside; and the row a public id names."""

from typing import TypeVar

from sqlmodel import Session, SQLModel, select

from app.core.errors import NotFound

M = TypeVar("M", bound=SQLModel)


def id_or_none(value: str) -> int | None:
    """The integer behind an id we could have issued, or None."""
    if value.isascii() and value.isdigit() and len(value) <= 18 and int(value) > 0:
        return int(value)
    return None


def parse_id(value: str, kind: str) -> int:
    """Our ids are opaque strings; one we could not have issued is simply not found."""
    pk = id_or_none(value)
    if pk is None:
        raise NotFound(f"No {kind} has id '{value[:40]}'.")
    return pk


def get_by_id(
    session: Session, model: type[M], public_id: str, kind: str, *, for_update: bool = False
) -> M:
    """The `kind` row of `model` with this public id, 404 if none; `for_update` row-locks it
    until commit. A query, not session.get: it always reads the row as stored."""
    query = select(model).where(model.id == parse_id(public_id, kind))  # type: ignore[attr-defined]
    row = session.exec(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"No {kind} has id '{public_id}'.")
    return row
