"""Public ids: opaque strings outside, integers inside."""

from app.core.errors import NotFound


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
