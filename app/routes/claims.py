"""/claims and a claim's stances."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import StringConstraints, TypeAdapter
from sqlmodel import Session

from app import claims_csv
from app.auth import ReadAccess, WriteKey
from app.conditional import IfNoneMatch, if_match, read_responses, respond, tagged, write_responses
from app.db import write_engine
from app.deps import ReadSession, WriteSession
from app.errors import problem_responses
from app.fields import Rfc3339, StorableStr
from app.idempotency.in_transaction import answer_in_transaction
from app.models import (
    ClaimCreate,
    ClaimDetail,
    ClaimPage,
    ClaimUpdate,
    SourceKind,
    StanceCreate,
    StancePage,
    StancePublic,
)
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT, next_link
from app.rating import Rating
from app.routes.verdicts import JSONLD_RESPONSE, jsonld_response, prefers_jsonld
from app.services import claims as service
from app.services import stances as stance_service
from app.services.claims import ClaimFilters, ClaimSort
from app.status import ClaimStatus, StanceKind

router = APIRouter(prefix="/claims", tags=["claims"], dependencies=[ReadAccess])

JSON = "application/json"
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


def _repeatable(description: str) -> object:
    return Query(max_length=MAX_REPEATS, description=description + " Repeat for OR.")


@router.get(
    "",
    operation_id="list_claims",
    response_model=ClaimPage,
    responses={200: claims_csv.OPENAPI_CSV, **problem_responses(401, 403, 422)},
)
def list_claims(
    request: Request,
    session: ReadSession,
    status_: Annotated[
        list[ClaimStatus],
        Query(alias="status", max_length=MAX_REPEATS, description="Derived status. Repeat for OR."),
    ] = [],
    stance: Annotated[list[StanceKind], _repeatable("A current stance of this kind.")] = [],
    source_id: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=40)]],
        _repeatable("A current stance by this source."),
    ] = [],
    source_kind: Annotated[
        list[SourceKind], _repeatable("A current stance by a source of this kind.")
    ] = [],
    affiliation: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=200)]],
        _repeatable("A current stance by a source of this affiliation (case-insensitive)."),
    ] = [],
    q: Annotated[
        Annotated[StorableStr, StringConstraints(min_length=1, max_length=200)] | None,
        Query(description="Full-text search: every word."),
    ] = None,
    tag: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=64)]], _repeatable("Exact tag.")
    ] = [],
    place: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=200)]], _repeatable("Exact place.")
    ] = [],
    language: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=35)]],
        _repeatable("Exact language tag."),
    ] = [],
    occurred_from: Annotated[Rfc3339 | None, Query(description="occurred_at at or after.")] = None,
    occurred_to: Annotated[Rfc3339 | None, Query(description="occurred_at at or before.")] = None,
    updated_since: Annotated[
        Rfc3339 | None, Query(description="updated_at at or after: incremental sync.")
    ] = None,
    verdict: Annotated[list[Rating], _repeatable("The fact-checker's verdict.")] = [],
    sort: Annotated[ClaimSort, Query(description="Order of the list.")] = ClaimSort.newest_updated,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """List claims, filtered: `?status=disputed`, `?stance=denies&source_kind=state_media`.
    With `Accept: text/csv`, the same list as CSV: every matching claim unless `limit` is
    given (docs/bulk.md)."""
    filters = ClaimFilters(
        status=status_,
        stance=stance,
        source_id=source_id,
        source_kind=source_kind,
        affiliation=affiliation,
        q=q,
        tag=tag,
        place=place,
        language=language,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        updated_since=updated_since,
        verdict=verdict,
    )
    if claims_csv.wants_csv(request.headers.get("accept", "")):
        explicit_limit = limit if "limit" in request.query_params else None
        return claims_csv.csv_response(
            engine=request.app.state.engine,
            filters=filters,
            sort=sort,
            cursor=cursor,
            limit=explicit_limit,
            link=lambda after: next_link(request, after),
        )
    items, next_cursor = service.list_claims(
        session=session, filters=filters, sort=sort, limit=limit, cursor=cursor
    )
    # The page is already validated: serialize it here, in this thread, rather than have
    # FastAPI validate it again in another one (bench/RESULTS.md has the numbers).
    return Response(
        _CLAIM_PAGE.dump_json(ClaimPage(items=items, next_cursor=next_cursor)),
        media_type="application/json",
        headers=next_link(request, next_cursor),
    )


_CLAIM_PAGE = TypeAdapter(ClaimPage)


@router.post(
    "",
    operation_id="create_claim",
    status_code=status.HTTP_201_CREATED,
    response_model=ClaimDetail,
    responses=problem_responses(401, 403, 413, 422),
)
def create_claim(
    data: ClaimCreate, request: Request, session: WriteSession, _key: WriteKey
) -> Response:
    """Create a claim. It starts `unsourced`; record stances to give it a status."""
    claim = service.add_claim(session=session, data=data)
    detail = service.claim_detail(session=session, claim=claim)
    # Rendered before the commit, so that a retry of its Idempotency-Key finds it recorded
    # in the same transaction as the claim.
    response = Response(
        detail.model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED,
        media_type=JSON,
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
def get_claim(
    claim_id: str,
    request: Request,
    response: Response,
    session: ReadSession,
    if_none_match: IfNoneMatch = None,
) -> ClaimDetail | Response:
    """One claim with each source's current stance, the reason for its status, and its
    verdict; schema.org JSON-LD (ClaimReview or Claim) for `Accept: application/ld+json`."""
    claim = service.get_claim(session=session, claim_id=claim_id)
    if prefers_jsonld(request):
        return jsonld_response(request=request, session=session, claim=claim)
    response.headers["Vary"] = "Accept"
    return respond(response, service.claim_detail(session=session, claim=claim), if_none_match)


def _current_claim(session: Session, claim_id: str) -> ClaimDetail:
    """The claim as GET shows it, its row locked for the write that follows (If-Match)."""
    claim = service.get_claim(session=session, claim_id=claim_id, for_update=True)
    return service.claim_detail(session=session, claim=claim)


ClaimUnchanged = Annotated[None, if_match(_current_claim, "claim_id")]


@router.patch(
    "/{claim_id}",
    operation_id="update_claim",
    response_model=ClaimDetail,
    responses={**problem_responses(401, 403, 404, 413, 422), **write_responses()},
)
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
    return tagged(response, service.claim_detail(session=session, claim=claim))


@router.delete(
    "/{claim_id}",
    operation_id="delete_claim",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**problem_responses(401, 403, 404), **write_responses(returns_body=False)},
)
def delete_claim(
    claim_id: str, session: WriteSession, _key: WriteKey, _unchanged: ClaimUnchanged
) -> None:
    """Delete a claim and its stance history. With `If-Match`, only if the claim is still
    as you read it."""
    service.delete_claim(session=session, claim_id=claim_id)


@router.get(
    "/{claim_id}/stances",
    operation_id="list_claim_stances",
    response_model=StancePage,
    responses=problem_responses(401, 403, 404, 422),
)
def list_claim_stances(
    claim_id: str,
    request: Request,
    response: Response,
    session: ReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> StancePage:
    """Every stance ever recorded on the claim, newest first; `current` marks the live ones."""
    claim = service.get_claim(session=session, claim_id=claim_id)
    rows, next_cursor = stance_service.list_stances(
        session=session, claim_id=claim.id, limit=limit, cursor=cursor
    )
    response.headers.update(next_link(request, next_cursor))
    return StancePage(
        items=[stance_service.stance_public(*row) for row in rows], next_cursor=next_cursor
    )


@router.post(
    "/{claim_id}/stances",
    operation_id="create_stance",
    status_code=status.HTTP_201_CREATED,
    response_model=StancePublic,
    responses=problem_responses(401, 403, 404, 413, 422),
)
def create_stance(claim_id: str, data: StanceCreate, request: Request, _key: WriteKey) -> Response:
    """Record that a source asserts or denies the claim. A newer stance of the same source
    supersedes its older one; the claim's status and counts change in the same transaction."""
    # Its own connection rather than WriteSession: a generator dependency costs two more
    # thread hops per request, and a Session more than the statements, on the busiest
    # write path.
    with write_engine(request.app.state.engine).connect() as conn:
        recorded = stance_service.record_stance_on(conn, claim_id=claim_id, data=data)
        # The bytes FastAPI would render from the StancePublic, serialized once (the outbox
        # event got the same), and recorded with the stance for a retry of its key.
        response = Response(recorded.body, status_code=status.HTTP_201_CREATED, media_type=JSON)
        response.headers["Location"] = (
            f"/claims/{recorded.stance.claim_id}/stances/{recorded.stance.id}"
        )
        answer_in_transaction(conn, request, response)
        conn.commit()
    return response


@router.get(
    "/{claim_id}/stances/{stance_id}",
    operation_id="get_stance",
    response_model=StancePublic,
    responses={**problem_responses(401, 403, 404), **read_responses()},
)
def get_stance(
    claim_id: str,
    stance_id: str,
    response: Response,
    session: ReadSession,
    if_none_match: IfNoneMatch = None,
) -> StancePublic | Response:
    """One stance of the claim's history."""
    stance = stance_service.stance_public(
        *stance_service.get_stance(session=session, claim_id=claim_id, stance_id=stance_id)
    )
    return respond(response, stance, if_none_match)
