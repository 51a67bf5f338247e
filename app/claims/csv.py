"""GET /claims as CSV (Accept: text/csv): RFC 4180, safe to open in a spreadsheet."""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from fastapi import Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from app.claims.filters import ClaimFilters, ClaimSort
from app.claims.models import ClaimPublic
from app.claims.service import list_claims
from app.core.db import read_once

MEDIA_TYPE = "text/csv"
CONTENT_TYPE = "text/csv; charset=utf-8; header=present"
CHUNK = 500
# The columns of the list representation, in its order: the CSV is the same list.
COLUMNS = list(ClaimPublic.model_fields)
OPENAPI_CSV = {
    "description": "A page of claims; with `Accept: text/csv`, CSV (RFC 4180, header row).",
    "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
}
# OWASP CSV injection: a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(accept: str) -> bool:
    """True when the client asks for CSV (and not JSON first)."""
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return MEDIA_TYPE in types and (
        "application/json" not in types or types.index(MEDIA_TYPE) < types.index("application/json")
    )


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _time(value: datetime | None) -> str:
    return "" if value is None else value.isoformat().replace("+00:00", "Z")


def _row(claim: ClaimPublic) -> list[str | int]:
    return [
        claim.id,
        _cell(claim.text),
        _cell(claim.language),
        _cell(claim.place),
        _time(claim.occurred_at),
        _cell("; ".join(claim.tags)),
        claim.status.value,
        claim.asserting_sources,
        claim.denying_sources,
        _time(claim.created_at),
        _time(claim.updated_at),
        _time(claim.status_since),
    ]


def _encode(rows: Iterable[Sequence[str | int]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def encode_claims(claims: Iterable[ClaimPublic]) -> bytes:
    """These claims as a whole CSV document, header row first."""
    return _encode([COLUMNS, *(_row(claim) for claim in claims)])


def csv_response(
    *,
    engine: Engine,
    filters: ClaimFilters,
    sort: ClaimSort,
    cursor: str | None,
    limit: int | None,
    link: Callable[[str | None], dict[str, str]],
) -> Response:
    """With `limit`, that page (and a Link to the next); without, every matching claim
    after `cursor` in `sort` order, streamed by a keyset walk with a short read transaction
    per chunk, so a large answer neither fills memory nor pins a snapshot. The first chunk
    is read before answering, so a bad cursor is still a 422."""
    with read_once(engine) as session:
        first, after = list_claims(
            session=session, filters=filters, sort=sort, limit=limit or CHUNK, cursor=cursor
        )
    headers = {"Content-Disposition": 'attachment; filename="claims.csv"'}
    if limit is not None:
        body = _encode([COLUMNS] + [_row(claim) for claim in first])
        return Response(body, media_type=CONTENT_TYPE, headers={**headers, **link(after)})

    def rest(cursor: str | None) -> Iterator[bytes]:
        yield _encode([COLUMNS] + [_row(claim) for claim in first])
        while cursor is not None:
            with read_once(engine) as session:
                claims, cursor = list_claims(
                    session=session, filters=filters, sort=sort, limit=CHUNK, cursor=cursor
                )
            yield _encode([_row(claim) for claim in claims])

    return StreamingResponse(rest(after), media_type=CONTENT_TYPE, headers=headers)
