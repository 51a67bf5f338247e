"""Search: the titles of the reports a claim's stances cite are in its search column.

`claim.search_text` (migration 0011) held the terms of the claim's text and its stances'
quotes. It now holds, after each stance's quote, the title of the stance's report when no
earlier stance of the claim cites that report (app/search/column.py). The column is
written again for every stored claim whose terms change, a batch of claims per statement;
SQLite's FTS5 triggers and PostgreSQL's generated `search_vector` follow it. Downgrade
writes the column of 0011 back (the text and quotes only). No schema change.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.search.column import StanceText, search_text, stance_texts

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

_CLAIMS = sa.text(
    "SELECT id, text, language, search_text FROM claim WHERE id > :after ORDER BY id LIMIT :n"
)
# The stances of the batch's claims that add to a column, in the order they add.
_STANCES = sa.text(
    "SELECT stance.claim_id, stance.quote, stance.report_id, report.title FROM stance "
    "LEFT JOIN report ON report.id = stance.report_id "
    "WHERE stance.claim_id > :after AND stance.claim_id <= :last "
    "AND (stance.quote IS NOT NULL OR stance.report_id IS NOT NULL) "
    "ORDER BY stance.claim_id, stance.id"
)
_WRITE = sa.text("UPDATE claim SET search_text = :terms WHERE id = :id")


def _refill(conn: sa.Connection, *, titles: bool) -> None:
    """Every claim's column, a batch of claims (and their stances) at a time, in id order;
    only the rows whose column changes are written."""
    after = 0
    while True:
        claims = conn.execute(_CLAIMS, {"after": after, "n": BATCH}).all()
        if not claims:
            return
        last = claims[-1].id
        texts: dict[int, list[StanceText]] = {}
        for claim_id, quote, report_id, title in conn.execute(
            _STANCES, {"after": after, "last": last}
        ):
            cited = StanceText(quote, report_id, title) if titles else StanceText(quote)
            texts.setdefault(claim_id, []).append(cited)
        changed = []
        for c in claims:
            terms = search_text(
                text=c.text, language=c.language, quotes=stance_texts(texts.get(c.id, ()))
            )
            if terms != c.search_text:
                changed.append({"id": c.id, "terms": terms})
        if changed:
            conn.execute(_WRITE, changed)
        after = last


def upgrade() -> None:
    _refill(op.get_bind(), titles=True)


def downgrade() -> None:
    _refill(op.get_bind(), titles=False)
