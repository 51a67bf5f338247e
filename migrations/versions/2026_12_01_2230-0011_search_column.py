"""Search: one analysed column that both engines index (issue 14).

`claim.search_text` holds the terms of the claim's text and its stances' quotes, analysed
in Python (app/search/column.py). SQLite's FTS5 table `claim_fts` is rebuilt over it (the
`ascii` tokenizer: the terms are folded already, so it only splits at the spaces), and
PostgreSQL's generated `search_vector` is `to_tsvector('simple', search_text)`. The column
is filled for every stored claim here, a batch of claims per statement.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.search.column import search_text

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
FTS_TRIGGERS = ("claim_fts_insert", "claim_fts_delete", "claim_fts_update")


def _fts5(column: str, tokenize: str) -> list[str]:
    """The external-content FTS5 table over one claim column and the triggers keeping it."""
    return [
        f"CREATE VIRTUAL TABLE claim_fts USING fts5({column}, content='claim', "
        f"content_rowid='id', tokenize='{tokenize}')",
        "CREATE TRIGGER claim_fts_insert AFTER INSERT ON claim BEGIN "
        f"INSERT INTO claim_fts(rowid, {column}) VALUES (new.id, new.{column}); END",
        "CREATE TRIGGER claim_fts_delete AFTER DELETE ON claim BEGIN "
        f"INSERT INTO claim_fts(claim_fts, rowid, {column}) "
        f"VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER claim_fts_update AFTER UPDATE OF {column} ON claim BEGIN "
        f"INSERT INTO claim_fts(claim_fts, rowid, {column}) "
        f"VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO claim_fts(rowid, {column}) VALUES (new.id, new.{column}); END",
        "INSERT INTO claim_fts(claim_fts) VALUES ('rebuild')",
    ]


def _drop_fts5() -> None:
    for trigger in FTS_TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE claim_fts")


def _search_vector(column: str) -> list[str]:
    return [
        "ALTER TABLE claim ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, {column})) STORED",
        "CREATE INDEX ix_claim_search_vector ON claim USING gin (search_vector)",
    ]


def _drop_search_vector() -> None:
    op.execute("DROP INDEX ix_claim_search_vector")
    op.execute("ALTER TABLE claim DROP COLUMN search_vector")


def _fill(conn: sa.Connection) -> None:
    """Every claim's column, a batch of claims (and their quotes) at a time, in id order."""
    after = 0
    while True:
        claims = conn.execute(
            sa.text("SELECT id, text, language FROM claim WHERE id > :after ORDER BY id LIMIT :n"),
            {"after": after, "n": BATCH},
        ).all()
        if not claims:
            return
        last = claims[-1].id
        quotes: dict[int, list[str]] = {}
        for claim_id, quote in conn.execute(
            sa.text(
                "SELECT claim_id, quote FROM stance WHERE claim_id > :after "
                "AND claim_id <= :last AND quote IS NOT NULL ORDER BY claim_id, id"
            ),
            {"after": after, "last": last},
        ):
            quotes.setdefault(claim_id, []).append(quote)
        conn.execute(
            sa.text("UPDATE claim SET search_text = :terms WHERE id = :id"),
            [
                {
                    "id": c.id,
                    "terms": search_text(
                        text=c.text, language=c.language, quotes=quotes.get(c.id, ())
                    ),
                }
                for c in claims
            ],
        )
        after = last


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        _drop_search_vector()
    else:
        _drop_fts5()
    op.add_column(
        "claim", sa.Column("search_text", sa.Text(), nullable=False, server_default=sa.text("''"))
    )
    _fill(conn)
    for statement in _search_vector("search_text") if postgres else _fts5("search_text", "ascii"):
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        _drop_search_vector()
    else:
        _drop_fts5()
    op.execute("ALTER TABLE claim DROP COLUMN search_text")
    if postgres:
        for statement in _search_vector("text"):
            op.execute(statement)
    else:
        # As migration 0001 made it; `rebuild` indexes the claims stored since.
        for statement in _fts5("text", "unicode61 remove_diacritics 2"):
            op.execute(statement)
