"""GET /claims?q=...&sort=relevance: the best matches first, keyset-paginated.

The cursor carries the score and the id of the page's last claim: ties of score are broken
by id, newest first, so every claim is on exactly one page. A score is recomputed per page
from the index's statistics, which new claims move: a cursor resumes after its score, it
does not freeze the ranking.
"""

from dataclasses import replace
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Float, FromClause, Integer, literal, select, tuple_
from sqlmodel import Session, col

from app.claims import as_of
from app.claims.filters import ClaimFilters, ClaimSort, conditions, search_query
from app.claims.models import Claim, ClaimPublic
from app.core.errors import ValidationFailed
from app.core.pagination import decode_cursor, encode_cursor
from app.search import sql as search_sql

_PUBLIC_COLUMNS = [Claim.__table__.c[name] for name in ClaimPublic.model_fields]  # type: ignore[attr-defined]
_CLAIM_LIST = TypeAdapter(list[ClaimPublic])


def _columns(filters: ClaimFilters) -> list[Any]:
    """The items' fields: status, counts and status_since as of T when as_of is given,
    like every other sort of the list."""
    if filters.as_of is None:
        return _PUBLIC_COLUMNS
    return as_of.columns_at(list(ClaimPublic.model_fields))


def _claims(filters: ClaimFilters) -> FromClause:
    """The claims, each joined to its period at T when as_of is given (the status filter
    as of T reads it)."""
    if filters.as_of is None:
        return as_of.claim
    return as_of.claim.outerjoin(as_of.period, as_of.holds_at(filters.as_of))


def list_by_relevance(
    *, session: Session, filters: ClaimFilters, limit: int, cursor: str | None
) -> tuple[list[ClaimPublic], str | None]:
    query = search_query(filters)
    if query is None:
        raise ValidationFailed.on(
            "query", "sort", "relevance ranks the matches of a search: give q", "needs_q"
        )
    after = decode_cursor(cursor, ClaimSort.relevance.value, float) if cursor else None
    if query.is_empty:
        return [], None  # stopwords, marks or punctuation only: the index is not asked
    conn = session.connection()
    ranked = search_sql.ranked(conn, query)
    claim_id = col(Claim.id)
    statement = (
        select(*_columns(filters), ranked.c.score)
        .select_from(_claims(filters))
        .join(ranked, ranked.c.id == claim_id)
        .where(*conditions(session, replace(filters, q=None)))
    )
    if after is not None:
        score, last_id = after
        statement = statement.where(
            tuple_(ranked.c.score, claim_id)
            < tuple_(literal(score, Float()), literal(last_id, Integer()))
        )
    statement = statement.order_by(ranked.c.score.desc(), claim_id.desc()).limit(limit + 1)
    rows = conn.execute(statement).mappings().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(ClaimSort.relevance.value, last["score"], last["id"])
    return _CLAIM_LIST.validate_python([dict(row) for row in rows]), next_cursor
