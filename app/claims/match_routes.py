"""Claim matching: POST /claims/match and GET /claims/{claim_id}/similar."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.claims import service
from app.claims.matching import (
    DEFAULT_MATCHES,
    MAX_MATCHES,
    ClaimMatches,
    MatchRequest,
    match_claims,
)
from app.core.auth import ReadAccess
from app.core.deps import ReadSession
from app.http.operation_kinds import operation

router = APIRouter(prefix="/claims", tags=["claims"], dependencies=[ReadAccess])

MatchLimit = Annotated[
    int, Query(ge=1, le=MAX_MATCHES, description="How many matches, 1..50, best first.")
]


@router.post("/match", **operation("match_claims", ClaimMatches, 413, 415, 422))
def match(
    data: MatchRequest, session: ReadSession, limit: MatchLimit = DEFAULT_MATCHES
) -> ClaimMatches:
    """The stored claims most like a text, best first, each with a score in 0..1 and the
    words it shares with the text: ask "do we already have this?" before creating a claim.
    A read sent as POST (the text may be long): it writes nothing, needs no write key
    (only a read key when reads are closed), and may be retried freely; an
    Idempotency-Key header is ignored."""
    return match_claims(session=session, text=data.text, language=data.language, limit=limit)


@router.get("/{claim_id}/similar", **operation("list_similar_claims", ClaimMatches, 404))
def similar(
    claim_id: str, session: ReadSession, limit: MatchLimit = DEFAULT_MATCHES
) -> ClaimMatches:
    """Other claims most like this one's text, best first, as POST /claims/match scores
    them: rewordings and duplicates to merge or link."""
    claim = service.get_claim(session=session, claim_id=claim_id)
    return match_claims(
        session=session,
        text=claim.text,
        language=claim.language,
        limit=limit,
        exclude_id=claim.id,
    )
