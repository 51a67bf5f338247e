"""/sources: the list, and one source."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import StringConstraints

from app.core.auth import ReadAccess, WriteKey
from app.core.deps import ReadSession, WriteSession
from app.core.fields import StorableStr
from app.core.pagination import MAX_REPEATS, Paging
from app.http.conditional import IfNoneMatch, respond, tagged
from app.http.operation_kinds import create_one, delete_one, read_one, read_page, update_one
from app.http.unchanged import unchanged
from app.sources import service
from app.sources.models import SourceCreate, SourceKind, SourcePage, SourcePublic, SourceUpdate

router = APIRouter(prefix="/sources", tags=["sources"], dependencies=[ReadAccess])


def _public(source: object) -> SourcePublic:
    return SourcePublic.model_validate(source, from_attributes=True)


@router.get("", **read_page("list_sources", SourcePage))
def list_sources(
    session: ReadSession,
    paging: Paging,
    kind: Annotated[
        list[SourceKind], Query(max_length=MAX_REPEATS, description="Source kind. Repeat for OR.")
    ] = [],
    q: Annotated[
        Annotated[StorableStr, StringConstraints(min_length=1, max_length=200)] | None,
        Query(description="Part of the name, any case."),
    ] = None,
) -> SourcePage:
    """List sources in name order."""
    rows, next_cursor = service.list_sources(session=session, kinds=kind, q=q, window=paging)
    return paging.page(SourcePage, [_public(row) for row in rows], next_cursor)


@router.post("", **create_one("create_source", SourcePublic, 409))
def create_source(
    data: SourceCreate, response: Response, session: WriteSession, _key: WriteKey
) -> SourcePublic:
    """Create a source. Names are unique regardless of case."""
    source = service.create_source(session=session, data=data)
    response.headers["Location"] = f"/sources/{source.id}"
    return _public(source)


@router.get("/{source_id}", **read_one("get_source", SourcePublic))
def get_source(
    source_id: str, response: Response, session: ReadSession, if_none_match: IfNoneMatch = None
) -> SourcePublic | Response:
    """One source."""
    source = _public(service.get_source(session=session, source_id=source_id))
    return respond(response, source, if_none_match)


SourceUnchanged = Annotated[None, unchanged(service.get_source, _public, "source_id")]


@router.patch("/{source_id}", **update_one("update_source", SourcePublic, 409))
def update_source(
    source_id: str,
    data: SourceUpdate,
    response: Response,
    session: WriteSession,
    _key: WriteKey,
    _unchanged: SourceUnchanged,
) -> SourcePublic:
    """Change a source. A new affiliation re-derives the status of claims it has a stance on.
    With `If-Match`, only if the source is still as you read it."""
    source = service.update_source(session=session, source_id=source_id, data=data)
    return tagged(response, _public(source))


@router.delete("/{source_id}", **delete_one("delete_source", 409))
def delete_source(
    source_id: str, session: WriteSession, _key: WriteKey, _unchanged: SourceUnchanged
) -> None:
    """Delete a source that has no stances; one with stances is 409. With `If-Match`, only
    if the source is still as you read it."""
    service.delete_source(session=session, source_id=source_id)
