"""Opaque keyset cursors, the Page envelope and the Link header."""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import BindParameter, ColumnElement, literal, tuple_
from starlette.requests import Request

from app.core.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# How often a list filter may be repeated (repeats mean OR).
MAX_REPEATS = 20

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")]
# Cursors are URL-safe base64 without padding; which of those strings we issued the schema
# cannot say, so a well-formed cursor we did not issue is still 422 (invalid_cursor).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
CursorStr = Annotated[str, StringConstraints(max_length=512, pattern=CURSOR_PATTERN)]
Cursor = Annotated[
    CursorStr | None,
    Query(description="`next_cursor` of the previous page, passed back unchanged."),
]


def repeatable(description: str) -> Any:
    """A list query parameter that may be repeated, meaning OR."""
    return Query(max_length=MAX_REPEATS, description=description + " Repeat for OR.")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass back as `cursor` for the next page; null on the last page."
    )


P = TypeVar("P", bound=Page[Any])


def encode_token(parts: list[Any]) -> str:
    """An opaque, URL-safe token of JSON values (a cursor, a feed position)."""
    raw = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def invalid_cursor(issuer: str) -> ValidationFailed:
    """The 422 for a cursor that `issuer` (a list, a feed) did not issue."""
    return ValidationFailed.on(
        "query", "cursor", f"is not a cursor this {issuer} issued", "invalid_cursor"
    )


def decode_token(token: str, invalid: Exception, parts: int) -> tuple[Any, ...]:
    """The `parts` JSON values of a token we issued; `invalid` for anything that is not
    one (not decodable, or not that many values)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = tuple(json.loads(raw.decode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid from None
    if len(values) != parts:
        raise invalid
    return values


def encode_cursor(sort: str, value: Any, row_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return encode_token([sort, value, row_id])


R = TypeVar("R")


def keyset_page(
    rows: list[R], limit: int, cursor_after: Callable[[R], str]
) -> tuple[list[R], str | None]:
    """A page of rows fetched with LIMIT limit + 1: the first `limit`, and the cursor that
    resumes after the last of them when that one more row came back."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, cursor_after(page[-1])


def decode_cursor(
    cursor: str, sort: str, value_type: type, *, nullable: bool = False
) -> tuple[Any, int]:
    """The (sort value, id) a cursor resumes after; 422 for anything we did not issue.
    `nullable`: the sort column may be null, and so may the cursor's value."""
    invalid = invalid_cursor("list")
    cursor_sort, value, row_id = decode_token(cursor, invalid, parts=3)
    if cursor_sort != sort:
        raise ValidationFailed.on(
            "query",
            "cursor",
            f"was issued for sort={cursor_sort}, not sort={sort}",
            "cursor_sort_mismatch",
        )
    if type(row_id) is not int or not 0 < row_id < 2**63:
        raise invalid
    if nullable and value is None:
        return None, row_id
    try:
        if value_type is datetime:
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError
        elif not isinstance(value, value_type):
            raise ValueError
    except (TypeError, ValueError):
        raise invalid from None
    return value, row_id


def next_link(request: Request, next_cursor: str | None) -> dict[str, str]:
    """The RFC 8288 `Link: <...>; rel="next"` header, when there is a next page."""
    if next_cursor is None:
        return {}
    url = request.url.include_query_params(cursor=next_cursor)
    return {"Link": f'<{url}>; rel="next"'}


@dataclass(frozen=True)
class Window:
    """What a list service reads of a page request: how many rows, and after which."""

    limit: int
    cursor: str | None


@dataclass(frozen=True)
class PageRequest(Window):
    """What a list route is asked for (`limit`, `cursor`), and how it answers: the page
    body and, when there is a next page, its `Link` header."""

    request: Request
    response: Response

    def page(
        self, page_type: type[P], items: list[Any], next_cursor: str | None, **extra: Any
    ) -> P:
        self.response.headers.update(next_link(self.request, next_cursor))
        return page_type(items=items, next_cursor=next_cursor, **extra)


def _page_request(
    request: Request, response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor, request=request, response=response)


# A list route's `limit` and `cursor`. FastAPI lists a dependency's query parameters after
# the route's own, so they stay last in the OpenAPI document, after any filters.
Paging = Annotated[PageRequest, Depends(_page_request)]


def keyset_after(
    sort_column: Any,
    id_column: Any,
    value: Any,
    row_id: int | BindParameter[int],
    *,
    descending: bool,
) -> ColumnElement[bool]:
    """Rows strictly after (value, row_id) in (sort_column, id_column) order: a row-value
    comparison that the (sort_column, id) index serves on both engines. The place may be
    parameters of a statement built once (app/claims/as_of_list.py)."""
    left = tuple_(sort_column, id_column)
    right = tuple_(
        *(
            given if isinstance(given, BindParameter) else literal(given, column.type)
            for given, column in ((value, sort_column), (row_id, id_column))
        )
    )
    return left < right if descending else left > right
