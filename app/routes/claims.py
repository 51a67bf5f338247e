"""/claims and a claim's stances."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AwareDatetime, TypeAdapter

from app.auth import ReadAccess, WriteKey
from app.deps import ReadSession, WriteSession
from app.errors import problem_responses
from app.fields import StorableStr
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
from app.services import claims as service
from app.services import stances as stance_service
from app.services.claims import ClaimFilters, ClaimSort
from app.status import ClaimStatus, StanceKind

router = APIRouter(prefix="/claims", tags=["claims"], dependencies=[ReadAccess])

MAX_REPEATS = 20
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")]
Cursor = Annotated[
    StorableStr | None, Query(max_length=512, description="`next_cursor` of the previous page.")
]


def _repeatable(description: str) -> object:
    return Query(max_length=MAX_REPEATS, description=description + " Repeat for OR.")


@router.get(
    "",
    operation_id="list_claims",
    response_model=ClaimPage,
    responses=problem_responses(401, 403, 422),
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
        list[Annotated[StorableStr, Query(max_length=40)]],
        _repeatable("A current stance by this source."),
    ] = [],
    source_kind: Annotated[
        list[SourceKind], _repeatable("A current stance by a source of this kind.")
    ] = [],
    affiliation: Annotated[
        list[Annotated[StorableStr, Query(max_length=200)]],
        _repeatable("A current stance by a source of this affiliation (case-insensitive)."),
    ] = [],
    q: Annotated[
        StorableStr | None,
        Query(min_length=1, max_length=200, description="Full-text search: every word."),
    ] = None,
    tag: Annotated[
        list[Annotated[StorableStr, Query(max_length=64)]], _repeatable("Exact tag.")
    ] = [],
    place: Annotated[
        list[Annotated[StorableStr, Query(max_length=200)]], _repeatable("Exact place.")
    ] = [],
    language: Annotated[
        list[Annotated[StorableStr, Query(max_length=35)]], _repeatable("Exact language tag.")
    ] = [],
    occurred_from: Annotated[
        AwareDatetime | None, Query(description="occurred_at at or after.")
    ] = None,
    occurred_to: Annotated[
        AwareDatetime | None, Query(description="occurred_at at or before.")
    ] = None,
    updated_since: Annotated[
        AwareDatetime | None, Query(description="updated_at at or after: incremental sync.")
    ] = None,
    sort: Annotated[ClaimSort, Query(description="Order of the list.")] = ClaimSort.newest_updated,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """List claims, filtered: `?status=disputed`, `?stance=denies&source_kind=state_media`."""
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
    data: ClaimCreate, response: Response, session: WriteSession, _key: WriteKey
) -> ClaimDetail:
    """Create a claim. It starts `unsourced`; record stances to give it a status."""
    claim = service.create_claim(session=session, data=data)
    response.headers["Location"] = f"/claims/{claim.id}"
    return service.claim_detail(session=session, claim=claim)


@router.get(
    "/{claim_id}",
    operation_id="get_claim",
    response_model=ClaimDetail,
    responses=problem_responses(401, 403, 404),
)
def get_claim(claim_id: str, session: ReadSession) -> ClaimDetail:
    """One claim with each source's current stance and the reason for its status."""
    claim = service.get_claim(session=session, claim_id=claim_id)
    return service.claim_detail(session=session, claim=claim)


@router.patch(
    "/{claim_id}",
    operation_id="update_claim",
    response_model=ClaimDetail,
    responses=problem_responses(401, 403, 404, 413, 422),
)
def update_claim(
    claim_id: str, data: ClaimUpdate, session: WriteSession, _key: WriteKey
) -> ClaimDetail:
    """Change text, language, place, occurred_at or tags; fields left out stay as they are."""
    claim = service.update_claim(session=session, claim_id=claim_id, data=data)
    return service.claim_detail(session=session, claim=claim)


@router.delete(
    "/{claim_id}",
    operation_id="delete_claim",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
def delete_claim(claim_id: str, session: WriteSession, _key: WriteKey) -> None:
    """Delete a claim and its stance history."""
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
def create_stance(
    claim_id: str, data: StanceCreate, response: Response, session: WriteSession, _key: WriteKey
) -> StancePublic:
    """Record that a source asserts or denies the claim. A newer stance of the same source
    supersedes its older one; the claim's status and counts change in the same transaction."""
    stance, source = stance_service.record_stance(session=session, claim_id=claim_id, data=data)
    response.headers["Location"] = f"/claims/{stance.claim_id}/stances/{stance.id}"
    return stance_service.stance_public(stance, source)


@router.get(
    "/{claim_id}/stances/{stance_id}",
    operation_id="get_stance",
    response_model=StancePublic,
    responses=problem_responses(401, 403, 404),
)
def get_stance(claim_id: str, stance_id: str, session: ReadSession) -> StancePublic:
    """One stance of the claim's history."""
    return stance_service.stance_public(
        *stance_service.get_stance(session=session, claim_id=claim_id, stance_id=stance_id)
    )
