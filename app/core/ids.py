"""Public ids: opaque strings outside, integers inside."""

from app.core.errors import NotFound


def parse_id(value: str, kind: str) -> int:
    """Our ids are opaque strings; one we could not have issued is simply not found."""
    if value.isascii() and value.isdigit() and len(value) <= 18 and int(value) > 0:
        return int(value)
    raise NotFound(f"No {kind} has id '{value[:40]}'.")
