"""Reports and provenance: the report table, stances citing reports (report_id,
quote_found), the third stance `retracts`, and triggers that keep report.stance_count
and feed reports into the change feed (as 0005 does for claims and sources).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
CURRENT_ONLY = {"sqlite_where": sa.text("is_current"), "postgresql_where": sa.text("is_current")}
STANCES_V1 = "stance IN ('asserts', 'denies')"
STANCES_V11 = "stance IN ('asserts', 'denies', 'retracts')"
# What the SQLite rebuild must keep of the table's definition.
STANCE_TABLE = {"sqlite_autoincrement": True}

# The same statements as 0005 for the change feed.
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
SQLITE_SYNC_TRIGGER = """
CREATE TRIGGER sync_change_report_{op} AFTER {OP} ON report BEGIN
  INSERT OR REPLACE INTO sync_change
    (resource_type, resource_id, txid, seq, changed_at, deleted_at)
  VALUES ('report', {row}.id, 0,
          COALESCE((SELECT seq FROM sync_change WHERE txid = 0 ORDER BY seq DESC LIMIT 1), 0)
          + 1, {now}, {deleted_at});
END
"""

# stance_count follows every insert, delete (a claim's cascade included) and re-citing
# of a stance, whichever code path does it.
SQLITE_COUNT_TRIGGERS = (
    """CREATE TRIGGER report_stance_count_insert AFTER INSERT ON stance
    WHEN NEW.report_id IS NOT NULL BEGIN
      UPDATE report SET stance_count = stance_count + 1 WHERE id = NEW.report_id;
    END""",
    """CREATE TRIGGER report_stance_count_delete AFTER DELETE ON stance
    WHEN OLD.report_id IS NOT NULL BEGIN
      UPDATE report SET stance_count = stance_count - 1 WHERE id = OLD.report_id;
    END""",
    """CREATE TRIGGER report_stance_count_update AFTER UPDATE OF report_id ON stance
    WHEN OLD.report_id IS NOT NEW.report_id BEGIN
      UPDATE report SET stance_count = stance_count - 1 WHERE id = OLD.report_id;
      UPDATE report SET stance_count = stance_count + 1 WHERE id = NEW.report_id;
    END""",
)
POSTGRES_COUNT_FUNCTION = """
CREATE FUNCTION report_stance_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.report_id IS NOT NULL THEN
    UPDATE report SET stance_count = stance_count - 1 WHERE id = OLD.report_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.report_id IS NOT NULL THEN
    UPDATE report SET stance_count = stance_count + 1 WHERE id = NEW.report_id;
  END IF;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "report",
        sa.Column("id", Id, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("url_key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=True),
        sa.Column("publisher_id", Id, nullable=True),
        sa.Column("published_at", Timestamp, nullable=True),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_key", sa.Text(), nullable=True),
        sa.Column("stance_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["source.id"],
            ondelete="RESTRICT",
            name=op.f("fk_report_publisher_id_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        sa.UniqueConstraint("url_key", name=op.f("uq_report_url_key")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_report_published_at_id", "report", ["published_at", "id"])
    op.create_index(
        "ix_report_publisher_id_published_at_id", "report", ["publisher_id", "published_at", "id"]
    )

    # Batch mode rebuilds the table on SQLite (its CHECK cannot be altered in place); the
    # partial indexes are dropped first and built again after, predicates and all.
    op.drop_index("ix_stance_current_source_id_stance", table_name="stance")
    op.drop_index("uq_stance_current_claim_id_source_id", table_name="stance")
    sequence = _stance_sequence()
    with op.batch_alter_table("stance", table_kwargs=STANCE_TABLE) as batch:
        batch.add_column(sa.Column("report_id", Id, nullable=True))
        batch.add_column(sa.Column("quote_found", sa.Boolean(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_stance_report_id_report"),
            "report",
            ["report_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.drop_constraint(op.f("ck_stance_stance_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_stance_stance_valid"), STANCES_V11)
    _restore_stance_sequence(sequence)
    _create_current_indexes()
    op.create_index("ix_stance_report_id_stated_at_id", "stance", ["report_id", "stated_at", "id"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER sync_change_report AFTER INSERT OR UPDATE OR DELETE ON report "
            "FOR EACH ROW EXECUTE FUNCTION sync_change_record()"
        )
        op.execute(POSTGRES_COUNT_FUNCTION)
        op.execute(
            "CREATE TRIGGER report_stance_count AFTER INSERT OR DELETE OR UPDATE OF report_id "
            "ON stance FOR EACH ROW EXECUTE FUNCTION report_stance_count()"
        )
    else:
        for kind, row, deleted_at in (
            ("insert", "NEW", "NULL"),
            ("update", "NEW", "NULL"),
            ("delete", "OLD", SQLITE_NOW),
        ):
            op.execute(
                SQLITE_SYNC_TRIGGER.format(
                    op=kind, OP=kind.upper(), row=row, now=SQLITE_NOW, deleted_at=deleted_at
                )
            )
        for trigger in SQLITE_COUNT_TRIGGERS:
            op.execute(trigger)


def _stance_sequence() -> int | None:
    """SQLite: the last stance id handed out. Rebuilding the table would forget it, and
    AUTOINCREMENT exists so that ids of deleted stances are never handed out again."""
    if op.get_bind().dialect.name != "sqlite":
        return None
    return (
        op.get_bind()
        .execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'stance'"))
        .scalar()
    )


def _restore_stance_sequence(sequence: int | None) -> None:
    if sequence is None:
        return
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'stance'"))
    bind.execute(
        sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('stance', :seq)"),
        {"seq": sequence},
    )


def _create_current_indexes() -> None:
    op.create_index(
        "uq_stance_current_claim_id_source_id",
        "stance",
        ["claim_id", "source_id"],
        unique=True,
        **CURRENT_ONLY,
    )
    op.create_index(
        "ix_stance_current_source_id_stance",
        "stance",
        ["source_id", "stance", "claim_id"],
        **CURRENT_ONLY,
    )


def downgrade() -> None:
    bind = op.get_bind()
    retractions = bind.execute(
        sa.text("SELECT count(*) FROM stance WHERE stance = 'retracts'")
    ).scalar_one()
    if retractions:
        # Dropping them would silently change the status of their claims.
        raise RuntimeError(
            f"{retractions} stances are retractions, which the schema before 0009 cannot "
            "hold: delete them (or their claims) before downgrading."
        )
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER report_stance_count ON stance")
        op.execute("DROP FUNCTION report_stance_count()")
        op.execute("DROP TRIGGER sync_change_report ON report")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER report_stance_count_{name}")
            op.execute(f"DROP TRIGGER sync_change_report_{name}")
    op.execute("DELETE FROM sync_change WHERE resource_type = 'report'")

    op.drop_index("ix_stance_report_id_stated_at_id", table_name="stance")
    op.drop_index("ix_stance_current_source_id_stance", table_name="stance")
    op.drop_index("uq_stance_current_claim_id_source_id", table_name="stance")
    sequence = _stance_sequence()
    with op.batch_alter_table("stance", table_kwargs=STANCE_TABLE) as batch:
        batch.drop_constraint(op.f("ck_stance_stance_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_stance_stance_valid"), STANCES_V1)
        batch.drop_constraint(op.f("fk_stance_report_id_report"), type_="foreignkey")
        batch.drop_column("quote_found")
        batch.drop_column("report_id")
    _restore_stance_sequence(sequence)
    _create_current_indexes()

    op.drop_index("ix_report_publisher_id_published_at_id", table_name="report")
    op.drop_index("ix_report_published_at_id", table_name="report")
    op.drop_table("report")
