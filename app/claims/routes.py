"""/claims: the list, and one claim."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlmodel import Session

from app.claims import csv as claims_csv
from app.claims import service
from app.claims.detail import claim_detail, claim_detail_at, get_claim_detail
from app.claims.filters import ClaimSort
from app.claims.models import ClaimCreate, ClaimDetail, ClaimPage, ClaimUpdate
from app.claims.query import ClaimQuery
from app.core.auth import ReadAccess, WriteKey
from app.core.db import read_once, read_session, run_read
from app.core.deps import WriteSession
from app.core.errors import problem_responses
from app.core.fields import Rfc3339
from app.core.pagination import next_link
from app.core.query import list_fields, validate_query
from app.http.conditional import IfNoneMatch, if_match, read_responses, represented, tagged
from app.http.idempotency.in_transaction import answer_in_transaction
from app.http.operation_kinds import create_one, delete_one, update_one
from app.http.response_cache import PageExtent, declare_extent
from app.stances.models import KnownAt
from app.verdicts.jsonld import JSONLD_RESPONSE, jsonld_response, prefers_jsonld

router = APIRouter(prefix="/claims", tags=["claims"], dependencies=[ReadAccess])


@router.get("", include_in_schema=False)
async def list_claims(request: Request) -> Response:
    # An async route, its query validated in one call (app/core/query.py) and its read run
    # by run_read: on the event loop for SQLite, one thread-pool hop for PostgreSQL.
    query = validate_query(ClaimQuery, _LISTS, request)
    engine = request.app.state.engine
    if claims_csv.wants_csv(request.headers.get("accept", "")):
        # Streamed in chunks, each its own read: in the thread pool on every engine.
        return await run_in_threadpool(
            claims_csv.csv_response,
            engine=engine,
            filters=query.filters(),
            sort=query.sort,
            cursor=query.cursor,
            limit=query.limit if "limit" in request.query_params else None,
            link=lambda after: next_link(request, after),
        )
    # A ranked search orders every match: its time grows with the archive. A list as of a
    # past time is left to the loop's budget: as of this morning it is as quick as the
    # present list (258 -> 371 req/s on the loop), as of a year back it walks far and is
    # run again in the pool. Its 4 ms lost on the loop (130 -> 76 req/s; 100k,
    # bench/NOTES.md) are lost once a minute: a list's shape (its query less the cursor)
    # whose work outlasted the budget goes to the pool at once, its later pages included.
    long = query.sort is ClaimSort.relevance
    shape = ("claims", *sorted(p for p in request.query_params.multi_items() if p[0] != "cursor"))
    body, next_cursor, extent = await run_read(engine, _claim_page, query, long=long, shape=shape)
    if extent is not None:
        declare_extent(request, extent)
    return Response(body, media_type="application/json", headers=next_link(request, next_cursor))


_LISTS = list_fields(ClaimQuery)


# The same operation as the OpenAPI document shows it, its parameters those of ClaimQuery.
# Never called: the route above matches first and validates the same model by hand.
@router.get(
    "",
    operation_id="list_claims",
    response_model=ClaimPage,
    responses={200: claims_csv.OPENAPI_CSV, **problem_responses(401, 403, 422)},
)
async def document_list_claims(query: Annotated[ClaimQuery, Query()]) -> ClaimPage:
    """List claims, filtered: `?status=disputed`, `?stance=denies&source_kind=state_media`.
    With `Accept: text/csv`, the same list as CSV: every matching claim unless `limit` is
    given (docs/bulk.md)."""
    raise AssertionError("GET /claims is served by list_claims")  # pragma: no cover


def _claim_page(engine: Engine, query: ClaimQuery) -> tuple[bytes, str | None, PageExtent | None]:
    """The page as JSON bytes (validated once, by the service, and serialized here rather
    than validated again by FastAPI), its next cursor, and its extent for the cache."""
    with read_once(engine) as session:
        page = service.claims_page(
            session=session,
            filters=query.filters(),
            sort=query.sort,
            limit=query.limit,
            cursor=query.cursor,
        )
    body = _CLAIM_PAGE.dump_json(ClaimPage(items=page.items, next_cursor=page.next_cursor))
    return body, page.next_cursor, _extent(query.sort, page)


def _extent(sort: ClaimSort, page: service.ClaimsPage) -> PageExtent | None:
    """The span of the list's order this page covers, up to the first claim after it (its
    next cursor depends on that one): a ranked page has none to declare."""
    if sort is ClaimSort.relevance:
        return None
    claims = {int(item.id) for item in page.items}
    if page.following is not None:
        claims.add(page.following[1])
    return PageExtent(
        sort.field_name, sort.descending, page.after, page.following, frozenset(claims)
    )


_CLAIM_PAGE = TypeAdapter(ClaimPage)


@router.post("", **create_one("create_claim", ClaimDetail))
def create_claim(
    data: ClaimCreate, request: Request, session: WriteSession, _key: WriteKey
) -> Response:
    """Create a claim. It starts `unsourced`; record stances to give it a status."""
    claim = service.add_claim(session=session, data=data)
    detail = claim_detail(session=session, claim=claim)
    # Rendered before the commit, so that a retry of its Idempotency-Key finds it recorded
    # in the same transaction as the claim.
    response = Response(
        detail.model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Location": f"/claims/{claim.id}"},
    )
    answer_in_transaction(session, request, response)
    session.commit()
    return response


@router.get(
    "/{claim_id}",
    operation_id="get_claim",
    response_model=ClaimDetail,
    responses={
        **problem_responses(401, 403, 404),
        **read_responses(),
        200: {**JSONLD_RESPONSE[200], **read_responses()[200]},
    },
)
async def get_claim(
    claim_id: str,
    request: Request,
    as_of: Annotated[
        Rfc3339 | None,
        Query(description="Stated time: the claim as its sources had stated it by then."),
    ] = None,
    known_at: KnownAt = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One claim with each source's current stance, the reason for its status, and its
    verdict; schema.org JSON-LD (ClaimReview or Claim) for `Accept: application/ld+json`
    (always the present review). With `as_of` and/or `known_at`, the claim as stated by
    then and as known then."""
    return await run_read(
        request.app.state.engine,
        _claim_response,
        request,
        claim_id,
        as_of,
        known_at,
        if_none_match,
        # As of a time, or as known then: a replay of the claim's whole history.
        long=as_of is not None or known_at is not None,
    )


def _claim_response(
    engine: Engine,
    request: Request,
    claim_id: str,
    as_of: datetime | None,
    known_at: datetime | None,
    if_none_match: str | None,
) -> Response:
    with read_session(engine) as session:
        if prefers_jsonld(request):
            claim = service.get_claim(session=session, claim_id=claim_id)
            return jsonld_response(request=request, session=session, claim=claim)
        if as_of is None and known_at is None:
            detail = get_claim_detail(session=session, claim_id=claim_id)
        else:
            claim = service.get_claim(session=session, claim_id=claim_id)
            detail = claim_detail_at(session=session, claim=claim, as_of=as_of, known_at=known_at)
    return represented(detail, if_none_match, headers={"Vary": "Accept"})


def _current_claim(session: Session, claim_id: str) -> ClaimDetail:
    """The claim as GET shows it, its row locked for the write that follows (If-Match)."""
    claim = service.get_claim(session=session, claim_id=claim_id, for_update=True)
    return claim_detail(session=session, claim=claim)


ClaimUnchanged = Annotated[None, if_match(_current_claim, "claim_id")]


@router.patch("/{claim_id}", **update_one("update_claim", ClaimDetail))
def update_claim(
    claim_id: str,
    data: ClaimUpdate,
    response: Response,
    session: WriteSession,
    _key: WriteKey,
    _unchanged: ClaimUnchanged,
) -> ClaimDetail:
    """Change text, language, place, occurred_at or tags; fields left out stay as they are.
    With `If-Match`, only if the claim is still as you read it."""
    claim = service.update_claim(session=session, claim_id=claim_id, data=data)
    return tagged(response, claim_detail(session=session, claim=claim))


@router.delete("/{claim_id}", **delete_one("delete_claim"))
def delete_claim(
    claim_id: str, session: WriteSession, _key: WriteKey, _unchanged: ClaimUnchanged
) -> None:
    """Delete a claim and its stance history. With `If-Match`, only if the claim is still
    as you read it."""
    service.delete_claim(session=session, claim_id=claim_id)
