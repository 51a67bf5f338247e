"""The search index in SQL, on both engines: which claims match a query, and how well.

SQLite asks its FTS5 table `claim_fts`, PostgreSQL the GIN-indexed `claim.search_vector`;
both index the same analysed column (app/search/column.py), and the query is the same
analysed `SearchQuery` (app/search/query.py) written for each. The score of `ranked` is
higher for a better match on both: BM25 on SQLite (FTS5's `bm25`, negated), `ts_rank_cd`
on PostgreSQL tuned to order matches as BM25 does (see `ranked`).
"""

from typing import Any

from sqlalchemy import (
    Connection,
    Double,
    Float,
    Integer,
    cast,
    column,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.sql import ColumnElement, Subquery

from app.search.query import SearchQuery, to_fts5, to_tsquery

# ts_rank_cd's normalization 8 divides by the document's number of unique words: BM25's
# length penalty. Measured over the 72 queries of tests/search/queries.json, the queries
# whose top 10 differ between the engines: 0 with 8 (and 9), 1 with 16, 2 with 2, 7 with 0.
TS_RANK_NORMALIZATION = 8


def _tsquery(query: SearchQuery, *, any_part: bool = False) -> Any:
    return func.to_tsquery(text("'simple'::regconfig"), to_tsquery(query, any_part=any_part))


def _fts5_matches(query: SearchQuery) -> Any:
    return text("SELECT rowid FROM claim_fts WHERE claim_fts MATCH :match").bindparams(
        match=to_fts5(query)
    )


def matches(conn: Connection, query: SearchQuery) -> ColumnElement[bool]:
    """Claims whose text or stance quotes match every part of a (non-empty) query."""
    if conn.dialect.name == "postgresql":
        return literal_column("claim.search_vector").op("@@")(_tsquery(query))
    matching = _fts5_matches(query).columns(column("rowid", Integer))
    if _many_matches(conn, to_fts5(query)):
        # Walk the list's own index and probe the match set: the unary + stops SQLite from
        # fetching every match by rowid and sorting them all (1,440 for one place name at
        # 100k claims, growing with the archive; bench/NOTES.md).
        return literal_column("+claim.id").in_(matching)
    return literal_column("claim.id").in_(matching)


# One statement, built once: the two counts cost 0.1 ms in SQLite, and each statement three
# times that in SQLAlchemy.
_MATCHES_AND_CLAIMS = text(
    "SELECT (SELECT count(*) FROM claim_fts WHERE claim_fts MATCH :match), "
    "(SELECT max(id) FROM claim)"
)


def _many_matches(conn: Connection, match: str) -> bool:
    """More matches than the ~21 * claims / matches index rows a walk would read to fill a
    page (a page of 20 plus one), counting a sorted fetch 4x dearer than an index step."""
    found, claims = conn.execute(_MATCHES_AND_CLAIMS, {"match": match}).one()
    return bool(4 * found * found > 21 * (claims or 0))


def ranked(conn: Connection, query: SearchQuery, *, any_part: bool = False) -> Subquery:
    """(id, score) of every claim matching a non-empty query, a higher score better: with
    `any_part`, the claims matching any part of it (the candidates of claim matching)."""
    if conn.dialect.name == "postgresql":
        vector: ColumnElement[Any] = literal_column("search_vector")
        # Ranked by the parts joined by OR: cover density over an AND query rewards parts
        # that stand close together, which BM25 ignores (7 of 72 top-3s differed by that);
        # over OR every occurrence counts alone, as in BM25. Matching stays AND.
        rank = func.ts_rank_cd(vector, _tsquery(query, any_part=True), TS_RANK_NORMALIZATION)
        # ts_rank_cd is a real: as a double, the value a cursor carries is exactly the one
        # the next page compares (the driver reads a real as its shortest decimal, which
        # is not the same number once the comparison widens the real to a double).
        score = cast(rank, Double)
        return (
            select(literal_column("id", Integer).label("id"), score.label("score"))
            .select_from(text("claim AS ranked_claim"))
            .where(vector.op("@@")(_tsquery(query, any_part=any_part)))
            .subquery("ranked")
        )
    return (
        text(
            "SELECT rowid AS id, -bm25(claim_fts) AS score FROM claim_fts "
            "WHERE claim_fts MATCH :match"
        )
        .bindparams(match=to_fts5(query, any_part=any_part))
        .columns(column("id", Integer), column("score", Float))
        .subquery("ranked")
    )
