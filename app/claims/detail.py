"""A claim as GET /claims/{claim_id} shows it: with its current stances and its verdict."""

from sqlmodel import Session

from app.claims.models import Claim, ClaimDetail
from app.stances.service import current_stances, derive_claim_status, stance_public
from app.verdicts.service import find_verdict


def claim_detail(*, session: Session, claim: Claim) -> ClaimDetail:
    pairs = current_stances(session=session, claim_id=claim.id)  # type: ignore[arg-type]
    return ClaimDetail.model_validate(
        {
            **claim.model_dump(),
            "status_explanation": derive_claim_status(pairs).explanation,
            "stances": [stance_public(stance, source) for stance, source in pairs],
            "verdict": find_verdict(session=session, claim_id=claim.id),  # type: ignore[arg-type]
        }
    )
