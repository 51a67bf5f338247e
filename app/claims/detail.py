"""A claim as GET /claims/{claim_id} shows it: with its current stances and its verdict;
now, or as stated by `as_of` and known at `known_at` (replayed from its history)."""

from datetime import datetime

from sqlmodel import Session

from app.claims.models import Claim, ClaimDetail
from app.stances.periods import history_stance
from app.stances.service import (
    claim_history,
    current_stances,
    derive_claim_status,
    stance_public,
)
from app.stances.timeline import state_at
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


def claim_detail_at(
    *, session: Session, claim: Claim, as_of: datetime | None, known_at: datetime | None
) -> ClaimDetail:
    """The claim as its sources had stated it by `as_of`, counting only the stances this
    service had recorded at `known_at`: each source's latest by then is current. The
    verdict is the present one (a review is not a stance)."""
    rows = {
        stance.id: (stance, source)
        for stance, source in claim_history(
            session=session,
            claim_id=claim.id,  # type: ignore[arg-type]
        )
    }
    state = state_at(
        [history_stance(*row) for row in rows.values()], as_of=as_of, known_at=known_at
    )
    stances = [
        stance_public(*rows[s.id]).model_copy(update={"current": True}) for s in state.current
    ]
    return ClaimDetail.model_validate(
        {
            **claim.model_dump(),
            "status": state.derived.status,
            "asserting_sources": state.derived.asserting_sources,
            "denying_sources": state.derived.denying_sources,
            "status_since": state.status_since,
            "status_explanation": state.derived.explanation,
            "stances": stances,
            "verdict": find_verdict(session=session, claim_id=claim.id),  # type: ignore[arg-type]
        }
    )
