"""Jinja2 for the desk: autoescaped templates, a few filters, and the pages' headers."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.desk.palette import STATUS_COLOURS
from app.desk.timeline_svg import as_datetime, began_with, timeline_svg
from app.sources.models import SourceKind

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
# Nothing but this origin; no script at all (the desk works without it), no inline style
# (desk.css is served), no plugins, no framing, forms only back to the desk.
DESK_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def when(value: datetime | str | None) -> str:
    """'5 Dec 2024, 11:21 UTC': what a person reads; the <time> element carries RFC 3339."""
    if value is None:
        return ""
    return as_datetime(value).strftime("%-d %b %Y, %H:%M UTC")


def rfc3339(value: datetime | str | None) -> str:
    if value is None:
        return ""
    return as_datetime(value).isoformat().replace("+00:00", "Z")


def form_time(value: datetime | None) -> str:
    """The value of an <input type="datetime-local">, read back as UTC."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def is_web_url(value: str | None) -> bool:
    """Only http(s) URLs become links: a stored `javascript:` can never be clicked."""
    return bool(value) and str(value).startswith(("https://", "http://"))


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    # Every template escapes every value; nothing marks user text safe.
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(when=when, rfc3339=rfc3339, form_time=form_time)
_environment.globals.update(
    timeline_svg=timeline_svg,
    began_with=began_with,
    is_web_url=is_web_url,
    statuses=list(STATUS_COLOURS),
    source_kinds=[kind.value for kind in SourceKind],
)
templates = Jinja2Templates(env=_environment)


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Content-Security-Policy"] = DESK_CSP
    # Pages change with every write; a wall screen reloads, it must not get an old copy.
    response.headers["Cache-Control"] = "no-store"
    return response
