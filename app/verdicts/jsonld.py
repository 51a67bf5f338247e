"""A claim as schema.org JSON-LD: the alternative representation of GET /claims/{claim_id}."""

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.claims.models import Claim
from app.core.negotiation import quality
from app.verdicts.claimreview import JSONLD_MEDIA_TYPE, JSONLD_SCHEMA
from app.verdicts.claimreview_import import claim_as_jsonld

# Declared on get_claim: the same resource as schema.org JSON-LD.
JSONLD_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The claim; as schema.org JSON-LD (a ClaimReview when it has a "
        "verdict, else a Claim) when the request sends `Accept: application/ld+json`.",
        "content": {JSONLD_MEDIA_TYPE: {"schema": JSONLD_SCHEMA}},
    }
}


def prefers_jsonld(request: Request) -> bool:
    """JSON-LD when the client names it, at least as high as plain JSON."""
    return accept_prefers_jsonld(request.headers.get("accept", ""))


def accept_prefers_jsonld(accept: str) -> bool:
    """prefers_jsonld for an Accept value (also the response cache's key)."""
    jsonld = quality(accept, JSONLD_MEDIA_TYPE)
    return jsonld > 0 and jsonld >= quality(accept, "application/json")


def jsonld_response(*, request: Request, session: Session, claim: Claim) -> Response:
    claim_url = str(request.url_for("get_claim", claim_id=str(claim.id)))
    body = claim_as_jsonld(session=session, claim=claim, claim_url=claim_url)
    return JSONResponse(body, media_type=JSONLD_MEDIA_TYPE, headers={"Vary": "Accept"})
