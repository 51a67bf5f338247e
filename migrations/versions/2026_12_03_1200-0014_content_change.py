"""The response cache's change log: which claims each commit changed, kept by triggers.

One row per claim whose reads may have changed (its row, tags, stances, verdict or status
periods), holding the latest change; row 0 stands for every claim (a source or a report
changed, and claims' reads show their names, urls and titles). The cache of open reads
(app/http/change_log.py) reads the rows changed since it last looked and drops only the
answers they can affect, where it used to empty itself on every commit.

Triggers keep the table, so every writer (the API, bulk import, `check --repair`, another
process, SQL by hand) feeds it without knowing. Order, as in sync_change (0005): on SQLite
one writer at a time, txid 0 and seq the last + 1; on PostgreSQL the transaction id, read
against a snapshot (seq 0). PostgreSQL's triggers are per statement, over transition
tables: a COPY of a million stances writes each claim's row once, not once per stance.

A report's stance_count is left out on purpose: only the stance triggers of migration 0009
change it, and the stance behind it records its claim here in the same transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EVERY_CLAIM = 0
# table -> the column naming the claim a row belongs to.
CLAIM_TABLES = {
    "claim": "id",
    "claim_tag": "claim_id",
    "stance": "claim_id",
    "verdict": "claim_id",
    "claim_status_period": "claim_id",
}
SHARED_TABLES = ("source", "report")
# Updates that change what a read shows. The periods' copy of their claim's times follows
# the claim (0013), whose own trigger has recorded it already.
WATCHED_UPDATES = {
    "claim_status_period": (
        "claim_id",
        "valid_from",
        "valid_to",
        "status",
        "asserting_sources",
        "denying_sources",
        "status_since",
        "changed_by_stance_id",
    ),
    "report": (
        "url",
        "url_key",
        "title",
        "publisher_id",
        "published_at",
        "language",
        "text",
        "text_key",
        "created_at",
        "updated_at",
    ),
}

SQLITE_NEXT = (
    "COALESCE((SELECT seq FROM content_change WHERE txid = 0 ORDER BY seq DESC LIMIT 1), 0) + 1"
)


def _sqlite_record(claim: str, when: str = "") -> str:
    where = f" WHERE {when}" if when else ""
    return (
        "INSERT OR REPLACE INTO content_change (claim_id, txid, seq) "
        f"SELECT {claim}, 0, {SQLITE_NEXT}{where};"
    )


POSTGRES_TXID = "pg_current_xact_id()::text::bigint"
POSTGRES_UPSERT = (
    "ON CONFLICT (claim_id) DO UPDATE SET txid = EXCLUDED.txid "
    "WHERE content_change.txid <> EXCLUDED.txid"
)


def _postgres_rows_function(name: str, column: str) -> str:
    # ORDER BY: concurrent writers lock the rows they share in one order, never in a cycle.
    def changed(rows: str) -> str:
        return (
            "INSERT INTO content_change (claim_id, txid, seq) "
            f"SELECT DISTINCT {column}, {POSTGRES_TXID}, 0 FROM {rows} "
            f"ORDER BY 1 {POSTGRES_UPSERT};"
        )

    both = (
        f"INSERT INTO content_change (claim_id, txid, seq) SELECT claim, {POSTGRES_TXID}, 0 "
        f"FROM (SELECT {column} AS claim FROM old_rows UNION SELECT {column} FROM new_rows) AS c "
        f"ORDER BY 1 {POSTGRES_UPSERT};"
    )
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {changed("new_rows")}
  ELSIF TG_OP = 'DELETE' THEN
    {changed("old_rows")}
  ELSE
    {both}
  END IF;
  RETURN NULL;
END
$$
"""


POSTGRES_EVERY_CLAIM = f"""
CREATE FUNCTION content_change_every_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO content_change (claim_id, txid, seq) VALUES ({EVERY_CLAIM}, {POSTGRES_TXID}, 0)
  {POSTGRES_UPSERT};
  RETURN NULL;
END
$$
"""
POSTGRES_FUNCTIONS = {
    "id": "content_change_of_claim",
    "claim_id": "content_change_of_claim_rows",
}
TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    op.create_table(
        "content_change",
        sa.Column("claim_id", Id, nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_content_change")),
    )
    op.create_index("ix_content_change_txid_seq", "content_change", ["txid", "seq"])
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _postgres_triggers() -> None:
    for column, function in POSTGRES_FUNCTIONS.items():
        op.execute(_postgres_rows_function(function, column))
    op.execute(POSTGRES_EVERY_CLAIM)
    for table, column in CLAIM_TABLES.items():
        for kind, transition in TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER content_change_{table}_{kind} AFTER {kind.upper()} ON {table} "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION {POSTGRES_FUNCTIONS[column]}()"
            )
    for table in SHARED_TABLES:
        for kind in TRANSITIONS:
            watched = WATCHED_UPDATES.get(table) if kind == "update" else None
            event = f"UPDATE OF {', '.join(watched)}" if watched else kind.upper()
            op.execute(
                f"CREATE TRIGGER content_change_{table}_{kind} AFTER {event} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION content_change_every_claim()"
            )


def _sqlite_triggers() -> None:
    for table in (*CLAIM_TABLES, *SHARED_TABLES):
        column = CLAIM_TABLES.get(table)
        for kind in ("insert", "update", "delete"):
            watched = WATCHED_UPDATES.get(table) if kind == "update" else None
            event = f"UPDATE OF {', '.join(watched)}" if watched else kind.upper()
            if column is None:
                body = _sqlite_record(str(EVERY_CLAIM))
            elif kind == "update":  # a row moved to another claim changes both
                body = _sqlite_record(f"NEW.{column}") + _sqlite_record(
                    f"OLD.{column}", when=f"OLD.{column} IS NOT NEW.{column}"
                )
            else:
                body = _sqlite_record(f"{'OLD' if kind == 'delete' else 'NEW'}.{column}")
            op.execute(
                f"CREATE TRIGGER content_change_{table}_{kind} AFTER {event} ON {table} "
                f"BEGIN {body} END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in (*CLAIM_TABLES, *SHARED_TABLES):
        for kind in TRANSITIONS:
            on = f" ON {table}" if postgres else ""
            op.execute(f"DROP TRIGGER content_change_{table}_{kind}{on}")
    if postgres:
        for function in (*POSTGRES_FUNCTIONS.values(), "content_change_every_claim"):
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index("ix_content_change_txid_seq", table_name="content_change")
    op.drop_table("content_change")
