"""A claim's verdict, the claim as schema.org JSON-LD, and the ClaimReview import."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import Discriminator, Field, Tag
from sqlmodel import Session

from app.auth import ReadAccess, WriteKey
from app.claimreview import (
    CLAIMREVIEW_EXAMPLE,
    JSONLD_MEDIA_TYPE,
    JSONLD_SCHEMA,
    ClaimReviewIn,
)
from app.conditional import (
    IfNoneMatch,
    PreconditionFailed,
    if_match,
    read_responses,
    respond,
    tagged,
    write_responses,
)
from app.deps import ReadSession, WriteSession
from app.errors import problem_responses
from app.models import Claim, VerdictPublic
from app.services import claimreview as claimreview_service
from app.services.claimreview import ClaimReviewImport
from app.services.stances import lock_claim
from app.verdicts import (
    VerdictOutcome,
    VerdictPut,
    delete_verdict,
    find_verdict,
    get_verdict,
    put_verdict,
)

router = APIRouter(tags=["verdicts"], dependencies=[ReadAccess])

MAX_IMPORT = 100

IMPORT_EXAMPLES: dict[str, Any] = {
    "one review": {"value": CLAIMREVIEW_EXAMPLE},
    "a list": {"value": [CLAIMREVIEW_EXAMPLE]},
}
# One review or a list of them. The tags name each shape in error paths, which read as
# `review.claimReviewed` or `reviews.3.reviewRating`.
ClaimReviews = Annotated[
    Annotated[ClaimReviewIn, Tag("review")]
    | Annotated[list[ClaimReviewIn], Field(min_length=1, max_length=MAX_IMPORT), Tag("reviews")],
    Discriminator(lambda value: "reviews" if isinstance(value, list) else "review"),
]

# Declared on get_claim: the same resource as schema.org JSON-LD.
JSONLD_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The claim; as schema.org JSON-LD (a ClaimReview when it has a "
        "verdict, else a Claim) when the request sends `Accept: application/ld+json`.",
        "content": {JSONLD_MEDIA_TYPE: {"schema": JSONLD_SCHEMA}},
    }
}


def _quality(accept: str, media_type: str) -> float:
    """The q-value the Accept header gives one media type by name (0 when not named)."""
    best = 0.0
    for part in accept.split(","):
        name, *params = (piece.strip() for piece in part.split(";"))
        if name.lower() != media_type:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def prefers_jsonld(request: Request) -> bool:
    """JSON-LD when the client names it, at least as high as plain JSON."""
    return accept_prefers_jsonld(request.headers.get("accept", ""))


def accept_prefers_jsonld(accept: str) -> bool:
    """prefers_jsonld for an Accept value (also the response cache's key)."""
    jsonld = _quality(accept, JSONLD_MEDIA_TYPE)
    return jsonld > 0 and jsonld >= _quality(accept, "application/json")


def jsonld_response(*, request: Request, session: Session, claim: Claim) -> Response:
    claim_url = str(request.url_for("get_claim", claim_id=str(claim.id)))
    body = claimreview_service.claim_as_jsonld(session=session, claim=claim, claim_url=claim_url)
    return JSONResponse(body, media_type=JSONLD_MEDIA_TYPE, headers={"Vary": "Accept"})


@router.get(
    "/claims/{claim_id}/verdict",
    operation_id="get_verdict",
    response_model=VerdictPublic,
    responses={**problem_responses(401, 403, 404), **read_responses()},
)
def read_verdict(
    claim_id: str, response: Response, session: ReadSession, if_none_match: IfNoneMatch = None
) -> VerdictPublic | Response:
    """The fact-checker's verdict on the claim; 404 when it has none."""
    return respond(response, get_verdict(session=session, claim_id=claim_id), if_none_match)


def _current_verdict(session: Session, claim_id: str) -> VerdictPublic:
    """The verdict as GET shows it, its claim row locked for the write that follows. With
    no verdict there is no representation to match: 412 (RFC 9110 13.1.1), not 404."""
    claim = lock_claim(session=session, claim_id=claim_id)
    verdict = find_verdict(session=session, claim_id=claim.id)  # type: ignore[arg-type]
    if verdict is None:
        raise PreconditionFailed(f"Claim '{claim_id}' has no verdict for If-Match to match.")
    return verdict


VerdictUnchanged = Annotated[None, if_match(_current_verdict, "claim_id")]


@router.put(
    "/claims/{claim_id}/verdict",
    operation_id="put_verdict",
    response_model=VerdictPublic,
    responses={
        201: {"model": VerdictPublic, "description": "Created"},
        **problem_responses(401, 403, 404, 413, 422),
        **write_responses(),
    },
)
def write_verdict(
    claim_id: str,
    data: VerdictPut,
    response: Response,
    session: WriteSession,
    _key: WriteKey,
    _unchanged: VerdictUnchanged,
) -> VerdictPublic:
    """Publish or replace the claim's verdict: 201 when it is the first, 200 after.
    A verdict equal to the current one changes nothing (no event, same `updated_at`)."""
    verdict, outcome = put_verdict(session=session, claim_id=claim_id, data=data)
    if outcome == VerdictOutcome.created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/claims/{verdict.claim_id}/verdict"
    return tagged(response, verdict)


@router.delete(
    "/claims/{claim_id}/verdict",
    operation_id="delete_verdict",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**problem_responses(401, 403, 404), **write_responses(returns_body=False)},
)
def withdraw_verdict(
    claim_id: str, session: WriteSession, _key: WriteKey, _unchanged: VerdictUnchanged
) -> None:
    """Withdraw the claim's verdict; the claim's `updated_at` moves."""
    delete_verdict(session=session, claim_id=claim_id)


@router.post(
    "/imports/claimreview",
    operation_id="import_claimreview",
    response_model=ClaimReviewImport,
    responses=problem_responses(401, 403, 413, 422),
)
def import_claimreview(
    body: Annotated[ClaimReviews, Body(openapi_examples=IMPORT_EXAMPLES)],
    session: WriteSession,
    _key: WriteKey,
) -> ClaimReviewImport:
    """Import schema.org ClaimReview JSON-LD as fact-checkers publish it (one object or a
    list of up to 100): each review creates or updates its claim, the claim's verdict and a
    source for the reviewing organisation, all or nothing. Importing the same reviews again
    changes nothing. Properties the service does not use are ignored."""
    reviews = body if isinstance(body, list) else [body]
    return claimreview_service.import_claimreviews(session=session, reviews=reviews)
