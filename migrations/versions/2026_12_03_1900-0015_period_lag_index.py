"""The as-of list's indexes lead with the period's lag class after the status, so that
`GET /claims?as_of=T&status=S` walks each class from T minus its lowest lag rather than
past every period begun after T (app/stances/period_lag.py). They replace 0013's indexes
in the list's order and 0010's range up to T, which no query reads any more.

The class is written here as SQL of this revision's own, the same expression the app's
queries spell (tests/stances/test_period_lag.py compares them).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "claim_status_period"
KEYS = ("claim_updated_at", "claim_created_at")
LAG_HOURS = (1, 8, 64, 512, 4096, 32768)
OLD_INDEXES = {
    "ix_claim_status_period_status_claim_updated_at": [
        "status", "claim_updated_at", "claim_id", "valid_from", "valid_to"
    ],
    "ix_claim_status_period_status_claim_created_at": [
        "status", "claim_created_at", "claim_id", "valid_from", "valid_to"
    ],
    "ix_claim_status_period_status_valid_from": ["status", "valid_from", "valid_to", "claim_id"],
}  # fmt: skip


def _lag_class(dialect: str, key: str) -> str:
    """Which of 13 classes (-6 to 6) valid_from - key falls in: [-1 h, 1 h) is 0, [1 h, 8 h)
    is 1, [-8 h, -1 h) is -1, growing eightfold; below -32768 h is -6, from 32768 h on 6."""
    bounds = [-hours for hours in reversed(LAG_HOURS)] + list(LAG_HOURS)
    if dialect == "postgresql":
        hours = f"EXTRACT(EPOCH FROM valid_from - {key}) / 3600"
        listed = ", ".join(str(bound) for bound in bounds)
        return f"width_bucket({hours}, ARRAY[{listed}]::numeric[]) - {len(LAG_HOURS)}"
    hours = f"(julianday(valid_from) - julianday({key})) * 24"
    whens = [
        f"WHEN {hours} >= {bound} THEN {k}"
        for k, bound in enumerate(bounds, start=1 - len(LAG_HOURS))
    ]
    return f"CASE {' '.join(reversed(whens))} ELSE -{len(LAG_HOURS)} END"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in OLD_INDEXES:
        op.drop_index(name, table_name=TABLE)
    for key in KEYS:
        op.execute(
            f"CREATE INDEX ix_{TABLE}_status_lag_{key} ON {TABLE} "
            f"(status, ({_lag_class(dialect, key)}), {key}, claim_id, valid_from, valid_to)"
        )


def downgrade() -> None:
    for key in KEYS:
        op.drop_index(f"ix_{TABLE}_status_lag_{key}", table_name=TABLE)
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, TABLE, columns)
