"""The response cache's change log: which claims each commit changed, kept by triggers.

One row per claim whose reads may have changed (its row, tags, stances, verdict or status
periods), and per source and report, holding its latest change. The cache of open reads
(app/http/change_log.py) reads the rows changed since it last looked and drops only the
answers they can affect (a source or a report: every claim's, as they show their names,
urls and titles), where it used to empty itself on every commit. A row per resource, not
one shared "everything" row: writers of different sources never wait for each other here,
and the row locks taken follow the locks on the resources themselves, so no new deadlock.

Triggers keep the table, so every writer (the API, bulk import, `check --repair`, another
process, SQL by hand) feeds it without knowing. Order, as in sync_change (0005): on SQLite
one writer at a time, txid 0 and seq the last + 1; on PostgreSQL the transaction id, read
against a snapshot (seq 0). PostgreSQL's triggers are per statement, over transition
tables: a COPY of a million stances writes each claim's row once, not once per stance
(but a report's update, per row, for its column list).

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
# table -> (the resource its rows change, the column naming it)
TRACKED = {
    "claim": ("claim", "id"),
    "claim_tag": ("claim", "claim_id"),
    "stance": ("claim", "claim_id"),
    "verdict": ("claim", "claim_id"),
    "claim_status_period": ("claim", "claim_id"),
    "source": ("source", "id"),
    "report": ("report", "id"),
}
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
COLUMNS = "(resource_type, resource_id, txid, seq)"

SQLITE_NEXT = (
    "COALESCE((SELECT seq FROM content_change WHERE txid = 0 ORDER BY seq DESC LIMIT 1), 0) + 1"
)


def _sqlite_record(kind: str, resource: str, when: str = "") -> str:
    where = f" WHERE {when}" if when else ""
    return (
        f"INSERT OR REPLACE INTO content_change {COLUMNS} "
        f"SELECT '{kind}', {resource}, 0, {SQLITE_NEXT}{where};"
    )


POSTGRES_TXID = "pg_current_xact_id()::text::bigint"
POSTGRES_UPSERT = (
    "ON CONFLICT (resource_type, resource_id) DO UPDATE SET txid = EXCLUDED.txid "
    "WHERE content_change.txid <> EXCLUDED.txid"
)


def _postgres_statement_function(name: str, column: str) -> str:
    """Per statement, over its transition tables; TG_ARGV[0] is the resource type. ORDER BY:
    concurrent writers lock the rows they share in one order, never in a cycle."""

    def record(rows: str) -> str:
        return (
            f"INSERT INTO content_change {COLUMNS} "
            f"SELECT TG_ARGV[0], changed, {POSTGRES_TXID}, 0 FROM ({rows}) AS c "
            f"ORDER BY 2 {POSTGRES_UPSERT};"
        )

    old, new = f"SELECT {column} AS changed FROM old_rows", f"SELECT {column} FROM new_rows"
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {record(f"SELECT DISTINCT {column} AS changed FROM new_rows")}
  ELSIF TG_OP = 'DELETE' THEN
    {record(f"SELECT DISTINCT {column} AS changed FROM old_rows")}
  ELSE
    {record(f"{old} UNION {new}")}
  END IF;
  RETURN NULL;
END
$$
"""


# A report's update, with the column list a statement trigger over transition tables
# cannot have: per row.
POSTGRES_ROW_FUNCTION = f"""
CREATE FUNCTION content_change_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO content_change {COLUMNS} VALUES (TG_ARGV[0], NEW.id, {POSTGRES_TXID}, 0)
  {POSTGRES_UPSERT};
  RETURN NULL;
END
$$
"""
POSTGRES_FUNCTIONS = {"id": "content_change_of_ids", "claim_id": "content_change_of_claims"}
TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    op.create_table(
        "content_change",
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("resource_id", Id, nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", name=op.f("pk_content_change")),
    )
    op.create_index("ix_content_change_txid_seq", "content_change", ["txid", "seq"])
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _postgres_triggers() -> None:
    for column, function in POSTGRES_FUNCTIONS.items():
        op.execute(_postgres_statement_function(function, column))
    op.execute(POSTGRES_ROW_FUNCTION)
    for table, (kind, column) in TRACKED.items():
        for event, transition in TRANSITIONS.items():
            name = f"content_change_{table}_{event}"
            if table == "report" and event == "update":
                watched = ", ".join(WATCHED_UPDATES[table])
                op.execute(
                    f"CREATE TRIGGER {name} AFTER UPDATE OF {watched} ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION content_change_of_row('{kind}')"
                )
                continue
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} {transition} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {POSTGRES_FUNCTIONS[column]}('{kind}')"
            )


def _sqlite_triggers() -> None:
    for table, (kind, column) in TRACKED.items():
        for event in TRANSITIONS:
            watched = WATCHED_UPDATES.get(table) if event == "update" else None
            on = f"UPDATE OF {', '.join(watched)}" if watched else event.upper()
            if event == "update":  # a row moved to another claim changes both
                body = _sqlite_record(kind, f"NEW.{column}") + _sqlite_record(
                    kind, f"OLD.{column}", when=f"OLD.{column} IS NOT NEW.{column}"
                )
            else:
                body = _sqlite_record(kind, f"{'OLD' if event == 'delete' else 'NEW'}.{column}")
            op.execute(
                f"CREATE TRIGGER content_change_{table}_{event} AFTER {on} ON {table} "
                f"BEGIN {body} END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TRACKED:
        for event in TRANSITIONS:
            on = f" ON {table}" if postgres else ""
            op.execute(f"DROP TRIGGER content_change_{table}_{event}{on}")
    if postgres:
        for function in (*POSTGRES_FUNCTIONS.values(), "content_change_of_row"):
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index("ix_content_change_txid_seq", table_name="content_change")
    op.drop_table("content_change")
