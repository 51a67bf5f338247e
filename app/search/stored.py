"""The search column recomputed from what is stored: for the writers that rewrite a
claim's column whole (a claim's new text, a report's new title) and for `claims-api check`.

Set-based: the claims' texts in one statement and their stances' quotes and cited
reports' titles in another, a chunk of claims at a time, whatever the number of claims.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update

from app.claims.models import Claim
from app.core.models import table_of
from app.reports.models import Report
from app.search.column import StanceText, search_text, stance_texts
from app.stances.models import Stance

CHUNK = 1000  # claims per statement: well under either engine's limit of bound values

_claim = table_of(Claim)
_stance = table_of(Stance)
_report = table_of(Report)

# The stances that add to a column, in the order they add: the ones with a quote or a
# report (the outer join keeps a report's title, null when it has none).
_STANCE_TEXTS = (
    select(_stance.c.claim_id, _stance.c.quote, _stance.c.report_id, _report.c.title)
    .select_from(_stance.outerjoin(_report, _report.c.id == _stance.c.report_id))
    .where(
        _stance.c.claim_id.in_(bindparam("claim_pks", expanding=True)),
        or_(_stance.c.quote.is_not(None), _stance.c.report_id.is_not(None)),
    )
    .order_by(_stance.c.claim_id, _stance.c.id)
)
_CLAIM_TEXTS = select(_claim.c.id, _claim.c.text, _claim.c.language).where(
    _claim.c.id.in_(bindparam("claim_pks", expanding=True))
)
_CLAIMS_CITING = (
    select(_stance.c.claim_id)
    .where(_stance.c.report_id == bindparam("report_pk"))
    .distinct()
    .order_by(_stance.c.claim_id)
)
_LOCK_CLAIMS = (
    select(_claim.c.id)
    .where(_claim.c.id.in_(bindparam("claim_pks", expanding=True)))
    .order_by(_claim.c.id)
    .with_for_update()
)
_WRITE_COLUMN = (
    update(_claim).where(_claim.c.id == bindparam("b_id")).values(search_text=bindparam("b_terms"))
)


def chunked(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def expected_columns(conn: Connection, claims: Sequence[Any]) -> dict[int, str]:
    """What search_text computes for each claim, given as rows of (id, text, language)
    (at most CHUNK of them), from its stances as stored now."""
    texts: dict[int, list[StanceText]] = {}
    if claims:
        rows = conn.execute(_STANCE_TEXTS, {"claim_pks": [c.id for c in claims]})
        for claim_pk, quote, report_pk, title in rows:
            texts.setdefault(claim_pk, []).append(StanceText(quote, report_pk, title))
    return {
        c.id: search_text(
            text=c.text, language=c.language, quotes=stance_texts(texts.get(c.id, ()))
        )
        for c in claims
    }


def rewrite_columns(conn: Connection, claim_pks: Sequence[int], *, lock: bool = False) -> None:
    """Write the column of these claims again from what is stored, a chunk at a time;
    with `lock`, each chunk's rows are locked (in id order) before they are read."""
    for chunk in chunked(sorted(claim_pks)):
        if lock and conn.dialect.name == "postgresql":
            conn.execute(_LOCK_CLAIMS, {"claim_pks": list(chunk)}).all()
        claims = conn.execute(_CLAIM_TEXTS, {"claim_pks": list(chunk)}).all()
        columns = expected_columns(conn, claims)
        if columns:
            conn.execute(
                _WRITE_COLUMN, [{"b_id": pk, "b_terms": terms} for pk, terms in columns.items()]
            )


def claims_citing(conn: Connection, report_pk: int) -> list[int]:
    """The claims with at least one stance citing the report, in id order."""
    return list(conn.execute(_CLAIMS_CITING, {"report_pk": report_pk}).scalars())


_CITED = (
    select(_stance.c.claim_id, _stance.c.report_id)
    .where(
        _stance.c.claim_id.in_(bindparam("claim_pks", expanding=True)),
        _stance.c.report_id.is_not(None),
    )
    .distinct()
)


def cited_reports(conn: Connection, claim_pks: Sequence[int]) -> dict[int, set[int]]:
    """The reports that the stored stances of each claim cite (claims citing none left out):
    their titles are in the claims' columns already."""
    cited: dict[int, set[int]] = {}
    for chunk in chunked(sorted(claim_pks)):
        for claim_pk, report_pk in conn.execute(_CITED, {"claim_pks": list(chunk)}):
            cited.setdefault(claim_pk, set()).add(report_pk)
    return cited
