"""A claim's verdict, the claim as schema.org JSON-LD, and the ClaimReview import."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status
from pydantic import Discriminator, Field, Tag
from sqlmodel import Session

from app.claims.service import get_claim
from app.core.auth import ReadAccess, WriteKey
from app.core.deps import ReadSession, WriteSession
from app.http.conditional import IfNoneMatch, PreconditionFailed, if_match, respond, tagged
from app.http.operation_kinds import delete_one, operation, put_one, read_one
from app.verdicts import claimreview_import as claimreview_service
from app.verdicts.claimreview import (
    CLAIMREVIEW_EXAMPLE,
    ClaimReviewIn,
)
from app.verdicts.claimreview_import import ClaimReviewImport
from app.verdicts.models import VerdictOutcome, VerdictPublic, VerdictPut
from app.verdicts.service import delete_verdict, find_verdict, get_verdict, put_verdict

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


@router.get("/claims/{claim_id}/verdict", **read_one("get_verdict", VerdictPublic))
def read_verdict(
    claim_id: str, response: Response, session: ReadSession, if_none_match: IfNoneMatch = None
) -> VerdictPublic | Response:
    """The fact-checker's verdict on the claim; 404 when it has none."""
    return respond(response, get_verdict(session=session, claim_id=claim_id), if_none_match)


def _current_verdict(session: Session, claim_id: str) -> VerdictPublic:
    """The verdict as GET shows it, its claim row locked for the write that follows. With
    no verdict there is no representation to match: 412 (RFC 9110 13.1.1), not 404."""
    claim = get_claim(session=session, claim_id=claim_id, for_update=True)
    verdict = find_verdict(session=session, claim_id=claim.id)  # type: ignore[arg-type]
    if verdict is None:
        raise PreconditionFailed(f"Claim '{claim_id}' has no verdict for If-Match to match.")
    return verdict


VerdictUnchanged = Annotated[None, if_match(_current_verdict, "claim_id")]


@router.put("/claims/{claim_id}/verdict", **put_one("put_verdict", VerdictPublic))
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


@router.delete("/claims/{claim_id}/verdict", **delete_one("delete_verdict"))
def withdraw_verdict(
    claim_id: str, session: WriteSession, _key: WriteKey, _unchanged: VerdictUnchanged
) -> None:
    """Withdraw the claim's verdict; the claim's `updated_at` moves."""
    delete_verdict(session=session, claim_id=claim_id)


@router.post("/imports/claimreview", **operation("import_claimreview", ClaimReviewImport, 413, 422))
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
