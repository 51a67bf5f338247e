"""/claims: the list, and one claim."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import StringConstraints, TypeAdapter
from sqlmodel import Session

from app.claims import csv as claims_csv
from app.claims import service
from app.claims.detail import claim_detail, claim_detail_at
from app.claims.filters import ClaimFilters, ClaimSort
from app.claims.models import ClaimCreate, ClaimDetail, ClaimPage, ClaimUpdate
from app.core.auth import ReadAccess, WriteKey
from app.core.deps import ReadSession, WriteSession
from app.core.errors import problem_responses
from app.core.fields import Rfc3339, StorableStr
from app.core.pagination import DEFAULT_LIMIT, MAX_REPEATS, Cursor, Limit, next_link, repeatable
from app.http.conditional import (
    IfNoneMatch,
    if_match,
    read_responses,
    respond,
    tagged,
    write_responses,
)
from app.http.idempotency.in_transaction import answer_in_transaction
from app.sources.models import SourceKind
from app.stances.rules import ClaimStatus, StanceKind
from app.verdicts.jsonld import JSONLD_RESPONSE, jsonld_response, prefers_jsonld
from app.verdicts.rating import Rating

router = APIRouter(prefix="/claims", tags=["claims"], dependencies=[ReadAccess])

Q_DESCRIPTION = (
    "Search the claim's text, the quotes of its stances, and the titles of the reports its "
    "stances cite, whatever the stance's kind (docs/search-analysis.md); nothing else (not "
    "notes, places, tags, source names or report texts). "
    "Every word must match, in any form (`insurgent` finds insurgents; case, accents and "
    "Arabic diacritics, letter variants and prefixes such as و and ال do not matter); the "
    "last word is a prefix unless the query ends in a space (`Ham` finds Hama); "
    '"quoted phrases" match those words in that order. Operators and other punctuation '
    "are text. The words may come from different texts of the claim. A query of only "
    "stopwords or punctuation matches nothing."
)


# long: one parameter per filter of the contract, each documented for the OpenAPI document
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
    stance: Annotated[list[StanceKind], repeatable("A current stance of this kind.")] = [],
    source_id: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=40)]],
        repeatable("A current stance by this source."),
    ] = [],
    source_kind: Annotated[
        list[SourceKind], repeatable("A current stance by a source of this kind.")
    ] = [],
    affiliation: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=200)]],
        repeatable("A current stance by a source of this affiliation (case-insensitive)."),
    ] = [],
    report_id: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=40)]],
        repeatable("A current stance known through this report."),
    ] = [],
    q: Annotated[
        Annotated[StorableStr, StringConstraints(min_length=1, max_length=200)] | None,
        Query(description=Q_DESCRIPTION),
    ] = None,
    tag: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=64)]], repeatable("Exact tag.")
    ] = [],
    place: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=200)]], repeatable("Exact place.")
    ] = [],
    language: Annotated[
        list[Annotated[StorableStr, StringConstraints(max_length=35)]],
        repeatable("Exact language tag."),
    ] = [],
    occurred_from: Annotated[Rfc3339 | None, Query(description="occurred_at at or after.")] = None,
    occurred_to: Annotated[Rfc3339 | None, Query(description="occurred_at at or before.")] = None,
    updated_since: Annotated[
        Rfc3339 | None, Query(description="updated_at at or after: incremental sync.")
    ] = None,
    verdict: Annotated[list[Rating], repeatable("The fact-checker's verdict.")] = [],
    as_of: Annotated[
        Rfc3339 | None,
        Query(
            description="Stated time: status and stance-side filters, and each claim's "
            "status, counts and status_since, as the sources had stated them by then."
        ),
    ] = None,
    sort: Annotated[
        ClaimSort,
        Query(description="Order of the list; `relevance` (with `q` only): best matches first."),
    ] = ClaimSort.newest_updated,
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
        report_id=report_id,
        q=q,
        tag=tag,
        place=place,
        language=language,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        updated_since=updated_since,
        verdict=verdict,
        as_of=as_of,
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
def get_claim(
    claim_id: str,
    request: Request,
    response: Response,
    session: ReadSession,
    as_of: Annotated[
        Rfc3339 | None,
        Query(description="Stated time: the claim as its sources had stated it by then."),
    ] = None,
    known_at: Annotated[
        Rfc3339 | None,
        Query(description="Recorded time: count only the stances recorded by then."),
    ] = None,
    if_none_match: IfNoneMatch = None,
) -> ClaimDetail | Response:
    """One claim with each source's current stance, the reason for its status, and its
    verdict; schema.org JSON-LD (ClaimReview or Claim) for `Accept: application/ld+json`
    (always the present review). With `as_of` and/or `known_at`, the claim as stated by
    then and as known then."""
    claim = service.get_claim(session=session, claim_id=claim_id)
    if prefers_jsonld(request):
        return jsonld_response(request=request, session=session, claim=claim)
    response.headers["Vary"] = "Accept"
    if as_of is None and known_at is None:
        detail = claim_detail(session=session, claim=claim)
    else:
        detail = claim_detail_at(session=session, claim=claim, as_of=as_of, known_at=known_at)
    return respond(response, detail, if_none_match)


def _current_claim(session: Session, claim_id: str) -> ClaimDetail:
    """The claim as GET shows it, its row locked for the write that follows (If-Match)."""
    claim = service.get_claim(session=session, claim_id=claim_id, for_update=True)
    return claim_detail(session=session, claim=claim)


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
    return tagged(response, claim_detail(session=session, claim=claim))


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
