"""A claim as GET /claims/{claim_id} shows it: with its current stances and its verdict;
now, or as stated by `as_of` and known at `known_at` (replayed from its history)."""

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, select
from sqlmodel import Session

from app.claims.models import Claim, ClaimDetail, ClaimPublic
from app.claims.service import no_such_claim
from app.core.ids import parse_id
from app.core.models import table_of
from app.sources.models import Source, SourceSummary
from app.stances.models import Stance, StanceLine
from app.stances.periods import history_stance
from app.stances.rules import CurrentStance, derive_status
from app.stances.service import claim_history, stance_public
from app.stances.timeline import state_at
from app.verdicts.models import Verdict, VerdictPublic
from app.verdicts.service import find_verdict

# The columns each part of the answer shows, in the order of the statement below.
_CLAIM = list(ClaimPublic.model_fields)
_STANCE = [name for name in StanceLine.model_fields if name != "current"]
_SOURCE = list(SourceSummary.model_fields)
_VERDICT = [name for name in VerdictPublic.model_fields if name != "source"]
_PARTS = (_CLAIM, _STANCE, _SOURCE, _VERDICT, _SOURCE)
_CLAIM_AT, _STANCE_AT, _SOURCE_AT, _VERDICT_AT, _REVIEWER_AT = range(len(_PARTS))
# Where each part's columns start in a row.
_STARTS = [sum(len(names) for names in _PARTS[:at]) for at in range(len(_PARTS))]


def _detail_statement() -> Any:
    claim, stance, verdict = table_of(Claim), table_of(Stance), table_of(Verdict)
    stance_source, reviewer = table_of(Source).alias("stance_source"), table_of(Source).alias()
    tables = (claim, stance, stance_source, verdict, reviewer)
    return (
        select(
            *(table.c[name] for table, names in zip(tables, _PARTS, strict=True) for name in names)
        )
        .select_from(
            claim.outerjoin(stance, and_(stance.c.claim_id == claim.c.id, stance.c.is_current))
            .outerjoin(stance_source, stance_source.c.id == stance.c.source_id)
            .outerjoin(verdict, verdict.c.claim_id == claim.c.id)
            .outerjoin(reviewer, reviewer.c.id == verdict.c.source_id)
        )
        .where(claim.c.id == bindparam("claim_id"))
        .order_by(stance.c.stated_at.desc(), stance.c.id.desc())
    )


# Built once: building a statement costs twice what running it does (bench/NOTES.md).
_DETAIL = _detail_statement()


def find_claim_detail(*, session: Session, claim_id: int) -> ClaimDetail | None:
    """The claim, each current stance with its source (newest first) and its verdict with
    the reviewer, or None when there is no such claim. One statement (a row per current
    stance): one snapshot of all three, and one round trip on PostgreSQL."""
    rows = session.execute(_DETAIL, {"claim_id": claim_id}).all()
    if not rows:
        return None
    first = rows[0]  # the claim and its verdict are on every row
    claim, verdict = _part(first, _CLAIM_AT), _part(first, _VERDICT_AT)
    stances, current = [], []
    for row in rows:
        stance, source = _part(row, _STANCE_AT), _part(row, _SOURCE_AT)
        if stance["id"] is None:
            break  # the claim has no current stance: one row, its stance columns null
        stances.append({**stance, "current": True, "source": source})
        current.append(
            CurrentStance(
                stance["stance"],
                source["id"],
                source["name"],
                source["affiliation"],
                stance["report_id"],
            )
        )
    return ClaimDetail.model_validate(
        {
            **claim,
            "status_explanation": derive_status(current).explanation,
            "stances": stances,
            "verdict": None
            if verdict["claim_id"] is None
            else {**verdict, "source": _part(first, _REVIEWER_AT)},
        }
    )


def get_claim_detail(*, session: Session, claim_id: str) -> ClaimDetail:
    """The claim GET /claims/{claim_id} names (404 if none)."""
    detail = find_claim_detail(session=session, claim_id=parse_id(claim_id, "claim"))
    if detail is None:
        raise no_such_claim(claim_id)
    return detail


def claim_detail(*, session: Session, claim: Claim) -> ClaimDetail:
    """find_claim_detail of a claim this transaction holds (just written, or locked)."""
    detail = find_claim_detail(session=session, claim_id=claim.id)  # type: ignore[arg-type]
    if detail is None:
        raise no_such_claim(str(claim.id))
    return detail


def _part(row: Row[Any], at: int) -> dict[str, Any]:
    """The values of the row's part `at` of _PARTS, by name."""
    names, start = _PARTS[at], _STARTS[at]
    return dict(zip(names, row[start : start + len(names)], strict=True))


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
