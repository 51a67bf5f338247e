"""The as-of list's order in the status periods: each period carries its claim's
created_at and updated_at, indexed after the status, so that
`GET /claims?as_of=T&status=S` walks the periods of S in the list's order and picks those
holding at T from the index entries, rather than every claim and a probe of its periods.

A trigger on claim keeps the two columns equal to the claim's, whichever writer changes
them (the API, bulk import, `check --repair`); writers of periods set them on insert.
SQLite cannot make an added column NOT NULL, so there the table is rebuilt with its rows
and their claims' times; PostgreSQL adds, fills and constrains the columns in place.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.stances.rules import ClaimStatus

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
STATUSES = ", ".join(f"'{s.value}'" for s in ClaimStatus)
TABLE = "claim_status_period"
TRIGGER = "claim_status_period_follow_claim"
# The columns of migration 0010, in its order.
COLUMNS = (
    "id",
    "claim_id",
    "valid_from",
    "valid_to",
    "status",
    "asserting_sources",
    "denying_sources",
    "status_since",
    "changed_by_stance_id",
)
SORT_INDEXES = {
    "ix_claim_status_period_status_claim_updated_at": "claim_updated_at",
    "ix_claim_status_period_status_claim_created_at": "claim_created_at",
}

SQLITE_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} AFTER UPDATE OF created_at, updated_at ON claim
WHEN old.created_at IS NOT new.created_at OR old.updated_at IS NOT new.updated_at
BEGIN
  UPDATE {TABLE} SET claim_created_at = new.created_at, claim_updated_at = new.updated_at
  WHERE claim_id = new.id;
END
"""
POSTGRES_FUNCTION = f"""
CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {TABLE} SET claim_created_at = NEW.created_at, claim_updated_at = NEW.updated_at
  WHERE claim_id = NEW.id;
  RETURN NULL;
END
$$
"""
POSTGRES_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} AFTER UPDATE OF created_at, updated_at ON claim FOR EACH ROW
WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
      OR OLD.updated_at IS DISTINCT FROM NEW.updated_at)
EXECUTE FUNCTION {TRIGGER}()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _add_columns_postgres()
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        _rebuild_sqlite()
        op.execute(SQLITE_TRIGGER)
    for name, column in SORT_INDEXES.items():
        op.create_index(name, TABLE, ["status", column, "claim_id", "valid_from", "valid_to"])


def _add_columns_postgres() -> None:
    for column in ("claim_created_at", "claim_updated_at"):
        op.add_column(TABLE, sa.Column(column, Timestamp, nullable=True))
    op.execute(
        f"UPDATE {TABLE} AS p SET claim_created_at = c.created_at, "
        "claim_updated_at = c.updated_at FROM claim AS c WHERE c.id = p.claim_id"
    )
    for column in ("claim_created_at", "claim_updated_at"):
        op.alter_column(TABLE, column, nullable=False)


def _rebuild_sqlite() -> None:
    """The table as 0010 made it plus the two columns, filled in one pass over the rows."""
    new = f"{TABLE}_0013"
    op.create_table(
        new,
        sa.Column("id", Id, nullable=False),
        sa.Column("claim_id", Id, nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("asserting_sources", sa.Integer(), nullable=False),
        sa.Column("denying_sources", sa.Integer(), nullable=False),
        sa.Column("status_since", Timestamp, nullable=False),
        sa.Column("changed_by_stance_id", Id, nullable=False),
        sa.Column("claim_created_at", Timestamp, nullable=False),
        sa.Column("claim_updated_at", Timestamp, nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f(f"ck_{TABLE}_status_valid")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], ondelete="CASCADE", name=op.f(f"fk_{TABLE}_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_stance_id"],
            ["stance.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{TABLE}_changed_by_stance_id_stance"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        sqlite_autoincrement=True,
    )
    names = ", ".join(COLUMNS)
    from_period = ", ".join(f"p.{name}" for name in COLUMNS)
    op.execute(
        f"INSERT INTO {new} ({names}, claim_created_at, claim_updated_at) "
        f"SELECT {from_period}, c.created_at, c.updated_at "
        f"FROM {TABLE} AS p JOIN claim AS c ON c.id = p.claim_id"
    )
    op.drop_table(TABLE)  # and its two indexes, made again below under their names
    op.rename_table(new, TABLE)
    op.create_index(
        "uq_claim_status_period_claim_id_valid_from", TABLE, ["claim_id", "valid_from"], unique=True
    )
    op.create_index(
        "ix_claim_status_period_status_valid_from",
        TABLE,
        ["status", "valid_from", "valid_to", "claim_id"],
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(f"DROP TRIGGER {TRIGGER} ON claim")
        op.execute(f"DROP FUNCTION {TRIGGER}()")
    else:
        op.execute(f"DROP TRIGGER {TRIGGER}")
    for name in SORT_INDEXES:
        op.drop_index(name, table_name=TABLE)
    for column in ("claim_updated_at", "claim_created_at"):
        op.execute(f"ALTER TABLE {TABLE} DROP COLUMN {column}")
