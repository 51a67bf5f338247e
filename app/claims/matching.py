"""Claim matching: "do we already have this?" (POST /claims/match, GET /claims/{id}/similar).

Candidates come from the search index: the claims sharing any term of the text (an OR
query over its analysed terms), the engine's best `CANDIDATES` of them. Each is then
scored in Python by `similarity` (app/search/analysis.py) of the two claims' texts: a
score in 0..1 and the words they share, as the desk typed them.
"""

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import select
from sqlmodel import Session, col

from app.claims.models import Claim, ClaimPublic
from app.core.fields import ClaimText, LanguageTag
from app.core.models import RequestModel
from app.search import sql as search_sql
from app.search.analysis import analyze, similarity, words_by_term
from app.search.query import MAX_QUERY_PARTS, SearchQuery

CANDIDATES = 50
DEFAULT_MATCHES = 10
MAX_MATCHES = 50


class MatchRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Insurgents have entered Hama", "language": "en"}]}
    )

    text: ClaimText
    language: LanguageTag = "en"


class ClaimMatch(BaseModel):
    claim: ClaimPublic
    score: float = Field(ge=0, le=1, description="1 for the same terms, 0 for none shared.")
    shared: list[str] = Field(description="The words of the text that the claim shares.")


class ClaimMatches(BaseModel):
    items: list[ClaimMatch]


_PUBLIC_COLUMNS = [Claim.__table__.c[name] for name in ClaimPublic.model_fields]  # type: ignore[attr-defined]
_CLAIM = TypeAdapter(ClaimPublic)


def match_claims(
    *,
    session: Session,
    text: str,
    language: str | None,
    limit: int = DEFAULT_MATCHES,
    exclude_id: int | None = None,
) -> ClaimMatches:
    """The stored claims most like `text`, best first (ties: newest first)."""
    terms = list(dict.fromkeys(analyze(text, language)))[:MAX_QUERY_PARTS]
    if not terms:
        return ClaimMatches(items=[])
    conn = session.connection()
    ranked = search_sql.ranked(conn, SearchQuery(terms=tuple(terms)), any_part=True)
    statement = (
        select(*_PUBLIC_COLUMNS)
        .join_from(Claim, ranked, ranked.c.id == col(Claim.id))
        .order_by(ranked.c.score.desc(), col(Claim.id).desc())
        .limit(CANDIDATES)
    )
    if exclude_id is not None:
        statement = statement.where(col(Claim.id) != exclude_id)
    words = words_by_term(text, language)
    matches = []
    for row in conn.execute(statement).mappings():
        alike = similarity(terms, analyze(row["text"], row["language"]))
        if alike.shared:
            shared = [words.get(term, term) for term in alike.shared]
            matches.append((alike.score, row["id"], _CLAIM.validate_python(row), shared))
    matches.sort(key=lambda match: (-match[0], -match[1]))
    return ClaimMatches(
        items=[
            ClaimMatch(claim=claim, score=round(score, 4), shared=shared)
            for score, _, claim, shared in matches[:limit]
        ]
    )
