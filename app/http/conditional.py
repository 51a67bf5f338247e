"""Conditional requests (RFC 9110 section 13): ETag, If-None-Match, If-Match.

ETags are strong validators: a hash of the JSON representation the API serves, so they
change whenever any byte of the answer would (a new stance, a renamed embedded source,
a status change), not only when a row's updated_at moves.

- GET: `respond(...)` sets `ETag`, or answers 304 when `If-None-Match` matches (weak
  comparison, `*`, lists of tags).
- PATCH, PUT, DELETE: a parameter `_: Annotated[None, if_match(current, "claim_id")]`,
  declared after the key dependency, answers 412 when `If-Match` does not match (strong
  comparison). `current` must lock the row (SELECT ... FOR UPDATE on PostgreSQL; SQLite
  writers are serialised by BEGIN IMMEDIATE) and return the representation: it runs on
  the route's own write session, so the check and the write are one transaction and no
  concurrent change can slip between them. Then `tagged(response, result)` sends the new
  ETag with the answer.
"""

import hashlib
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlmodel import Session

from app.core.deps import WriteSession
from app.core.errors import AppError, problem_responses

Representation = TypeVar("Representation", bound=BaseModel)

# An entity-tag (RFC 9110 8.8.3): optional W/ and a quoted string without quotes inside.
_ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')

ETAG_HEADER = {
    "ETag": {
        "description": "Strong validator of this representation: send it back in "
        "If-None-Match (reads) or If-Match (writes).",
        "schema": {"type": "string", "examples": ['"5d41402abc4b2a76b9719d911017c592"']},
    }
}
IF_NONE_MATCH_DESCRIPTION = (
    "ETags you hold (or `*`): when one still matches, the answer is 304 with no body."
)
IF_MATCH_DESCRIPTION = (
    "The ETag you last read (or `*`): the change happens only if the resource still has "
    "it; otherwise 412 and nothing changes."
)


class PreconditionFailed(AppError):
    status, slug = 412, "precondition-failed"


def etag_of(representation: BaseModel) -> str:
    """The strong ETag of a representation: a hash of its JSON, as served."""
    return _etag(representation.model_dump_json(by_alias=True).encode())


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    """(weak, opaque-tag) pairs of an If-Match / If-None-Match list; junk is ignored."""
    return [(bool(weak), opaque) for weak, opaque in _ENTITY_TAG.findall(header)]


def none_match(header: str | None, etag: str) -> bool:
    """The If-None-Match condition (weak comparison): True means "send it"."""
    if header is None:
        return True
    if header.strip() == "*":
        return False
    return all(f'"{opaque}"' != etag for _, opaque in _tags(header))


def match(header: str, etag: str) -> bool:
    """The If-Match condition (strong comparison: weak tags never match)."""
    if header.strip() == "*":
        return True
    return any(not weak and f'"{opaque}"' == etag for weak, opaque in _tags(header))


IfNoneMatch = Annotated[
    str | None, Header(alias="If-None-Match", description=IF_NONE_MATCH_DESCRIPTION)
]


def respond(
    response: Response, representation: Representation, if_none_match: str | None
) -> Representation | Response:
    """The representation with its ETag, or 304 Not Modified when the client has it."""
    etag = etag_of(representation)
    if not none_match(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return representation


def represented(
    representation: BaseModel, if_none_match: str | None, headers: dict[str, str] | None = None
) -> Response:
    """respond() for a route that returns its Response: the JSON serialized once (and
    hashed for the ETag), not validated again by FastAPI's response_model, which then only
    documents it."""
    body = representation.model_dump_json(by_alias=True).encode()
    etag = _etag(body)
    if not none_match(if_none_match, etag):
        return Response(status_code=304, headers={**(headers or {}), "ETag": etag})
    return Response(body, media_type="application/json", headers={**(headers or {}), "ETag": etag})


def tagged(response: Response, representation: Representation) -> Representation:
    """The representation a write produced, with its new ETag."""
    response.headers["ETag"] = etag_of(representation)
    return representation


def if_match(current: Callable[[Session, str], BaseModel], id_param: str) -> Any:
    """A dependency that answers 412 unless If-Match matches the current representation
    of the resource named by the path parameter `id_param` (see the module docstring)."""

    def check(
        request: Request,
        session: WriteSession,
        if_match: Annotated[
            str | None, Header(alias="If-Match", description=IF_MATCH_DESCRIPTION)
        ] = None,
    ) -> None:
        if if_match is None:
            return
        representation = current(session, request.path_params[id_param])
        if not match(if_match, etag_of(representation)):
            raise PreconditionFailed(
                "The resource has changed since you read it (If-Match does not match its "
                "ETag); read it again, reapply your change and retry."
            )

    return Depends(check)


def read_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI: the ETag of a 200 and the 304 of a conditional GET."""
    return {
        200: {"headers": ETAG_HEADER},
        304: {"description": "Not Modified: your copy is current.", "headers": ETAG_HEADER},
    }


def write_responses(*, returns_body: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI: the 412 of a conditional write, and the new ETag of a 200."""
    responses = problem_responses(412)
    if returns_body:
        responses[200] = {"headers": ETAG_HEADER}
    return responses
