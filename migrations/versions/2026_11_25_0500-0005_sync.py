"""Sync: the change feed behind GET /changes, kept by triggers.

One row per claim or source that ever existed: its latest change (a write, or its
deletion, which leaves the row as a tombstone). Triggers keep it, so every writer
(the API, bulk import, `check --repair`, future code) feeds it without knowing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
TRACKED = ("claim", "source")

# SQLite: one writer at a time, so the last seq + 1 (an index lookup) is a safe sequence,
# and the order of seq is the order of commits. Timestamps in the format SQLAlchemy stores.
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
SQLITE_TRIGGER = """
CREATE TRIGGER sync_change_{table}_{op} AFTER {OP} ON {table} BEGIN
  INSERT OR REPLACE INTO sync_change
    (resource_type, resource_id, txid, seq, changed_at, deleted_at)
  VALUES ('{table}', {row}.id, 0,
          COALESCE((SELECT seq FROM sync_change WHERE txid = 0 ORDER BY seq DESC LIMIT 1), 0)
          + 1, {now}, {deleted_at});
END
"""

# PostgreSQL: writers run concurrently and take sequence numbers out of commit order, so
# each row also records its transaction id; the feed serves only rows of transactions
# older than every transaction still running (see app/changes.py).
POSTGRES_FUNCTION = """
CREATE FUNCTION sync_change_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row_id bigint;
  gone timestamptz;
BEGIN
  IF TG_OP = 'DELETE' THEN
    row_id := OLD.id;
    gone := now();
  ELSE
    row_id := NEW.id;
  END IF;
  INSERT INTO sync_change (resource_type, resource_id, txid, seq, changed_at, deleted_at)
  VALUES (TG_TABLE_NAME, row_id, pg_current_xact_id()::text::bigint,
          nextval('sync_change_seq'), now(), gone)
  ON CONFLICT (resource_type, resource_id) DO UPDATE
    SET txid = EXCLUDED.txid, seq = EXCLUDED.seq,
        changed_at = EXCLUDED.changed_at, deleted_at = EXCLUDED.deleted_at;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "sync_change",
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("resource_id", Id, nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", Timestamp, nullable=False),
        sa.Column("deleted_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", name=op.f("pk_sync_change")),
    )
    op.create_index("ix_sync_change_txid_seq", "sync_change", ["txid", "seq"], unique=True)

    # What exists already enters the feed once: sources first, then claims.
    op.execute(
        "INSERT INTO sync_change (resource_type, resource_id, txid, seq, changed_at) "
        "SELECT 'source', id, 0, ROW_NUMBER() OVER (ORDER BY id), updated_at FROM source"
    )
    op.execute(
        "INSERT INTO sync_change (resource_type, resource_id, txid, seq, changed_at) "
        "SELECT 'claim', id, 0, (SELECT COUNT(*) FROM source) + ROW_NUMBER() OVER (ORDER BY id), "
        "updated_at FROM claim"
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE sync_change_seq AS bigint")
        op.execute(
            "SELECT setval('sync_change_seq', COALESCE((SELECT MAX(seq) FROM sync_change), 0) + 1,"
            " false)"
        )
        op.execute(POSTGRES_FUNCTION)
        for table in TRACKED:
            op.execute(
                f"CREATE TRIGGER sync_change_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION sync_change_record()"
            )
    else:
        for table in TRACKED:
            for kind, row, deleted_at in (
                ("insert", "NEW", "NULL"),
                ("update", "NEW", "NULL"),
                ("delete", "OLD", SQLITE_NOW),
            ):
                op.execute(
                    SQLITE_TRIGGER.format(
                        table=table,
                        op=kind,
                        OP=kind.upper(),
                        row=row,
                        now=SQLITE_NOW,
                        deleted_at=deleted_at,
                    )
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TRACKED:
            op.execute(f"DROP TRIGGER sync_change_{table} ON {table}")
        op.execute("DROP FUNCTION sync_change_record()")
        op.execute("DROP SEQUENCE sync_change_seq")
    else:
        for table in TRACKED:
            for kind in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER sync_change_{table}_{kind}")
    op.drop_index("ix_sync_change_txid_seq", table_name="sync_change")
    op.drop_table("sync_change")
