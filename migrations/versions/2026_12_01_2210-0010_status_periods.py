"""Status over time: each claim's status periods in stated time, and status_since.

Existing claims get their periods from the same pure replay the write path uses
(app/stances/timeline.py), read and written a batch of claims at a time with this
revision's own SQL, so later changes to the app's models cannot change what it does.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:00:00
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.stances.rules import ClaimStatus
from app.stances.timeline import HistoryStance, replay

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
BATCH = 1000
STATUSES = ", ".join(f"'{s.value}'" for s in ClaimStatus)


def upgrade() -> None:
    op.add_column("claim", sa.Column("status_since", Timestamp, nullable=True))
    op.create_table(
        "claim_status_period",
        sa.Column("id", Id, nullable=False),
        sa.Column("claim_id", Id, nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("asserting_sources", sa.Integer(), nullable=False),
        sa.Column("denying_sources", sa.Integer(), nullable=False),
        sa.Column("status_since", Timestamp, nullable=False),
        sa.Column("changed_by_stance_id", Id, nullable=False),
        sa.CheckConstraint(
            f"status IN ({STATUSES})", name=op.f("ck_claim_status_period_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claim.id"],
            ondelete="CASCADE",
            name=op.f("fk_claim_status_period_claim_id_claim"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_stance_id"],
            ["stance.id"],
            ondelete="CASCADE",
            name=op.f("fk_claim_status_period_changed_by_stance_id_stance"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_status_period")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_claim_status_period_claim_id_valid_from",
        "claim_status_period",
        ["claim_id", "valid_from"],
        unique=True,
    )
    op.create_index(
        "ix_claim_status_period_status_valid_from",
        "claim_status_period",
        ["status", "valid_from", "valid_to", "claim_id"],
    )
    _build_periods()


def _build_periods() -> None:
    conn = op.get_bind()
    stance = sa.table(
        "stance",
        sa.column("id", Id),
        sa.column("claim_id", Id),
        sa.column("source_id", Id),
        sa.column("stance", sa.String()),
        sa.column("stated_at", Timestamp),
        sa.column("created_at", Timestamp),
    )
    source = sa.table(
        "source", sa.column("id", Id), sa.column("name", sa.String()), sa.column("affiliation")
    )
    claim = sa.table("claim", sa.column("id", Id), sa.column("status_since", Timestamp))
    period = sa.table(
        "claim_status_period",
        *(
            sa.column(name, type_)
            for name, type_ in [
                ("claim_id", Id),
                ("valid_from", Timestamp),
                ("valid_to", Timestamp),
                ("status", sa.String()),
                ("asserting_sources", sa.Integer()),
                ("denying_sources", sa.Integer()),
                ("status_since", Timestamp),
                ("changed_by_stance_id", Id),
            ]
        ),
    )
    after = 0
    while True:
        claim_pks = list(
            conn.execute(
                sa.select(stance.c.claim_id)
                .distinct()
                .where(stance.c.claim_id > after)
                .order_by(stance.c.claim_id)
                .limit(BATCH)
            ).scalars()
        )
        if not claim_pks:
            return
        after = claim_pks[-1]
        history: dict[int, list[HistoryStance]] = defaultdict(list)
        rows = conn.execute(
            sa.select(stance, source.c.name, source.c.affiliation)
            .join(source, source.c.id == stance.c.source_id)
            .where(stance.c.claim_id.in_(claim_pks))
        )
        for row in rows:
            history[row.claim_id].append(
                HistoryStance(
                    id=row.id,
                    source_id=row.source_id,
                    source_name=row.name,
                    affiliation=row.affiliation,
                    stance=row.stance,
                    stated_at=_aware(row.stated_at),
                    created_at=_aware(row.created_at),
                )
            )
        inserts, since = [], []
        for pk in claim_pks:
            periods = replay(history[pk])
            inserts += [
                {
                    "claim_id": pk,
                    "valid_from": p.valid_from,
                    "valid_to": p.valid_to,
                    "status": p.status.value,
                    "asserting_sources": p.asserting_sources,
                    "denying_sources": p.denying_sources,
                    "status_since": p.status_since,
                    "changed_by_stance_id": p.changed_by,
                }
                for p in periods
            ]
            if periods and periods[-1].status != ClaimStatus.unsourced:
                since.append({"pk": pk, "since": periods[-1].status_since})
        if inserts:
            conn.execute(sa.insert(period), inserts)
        if since:
            conn.execute(
                sa.update(claim)
                .where(claim.c.id == sa.bindparam("pk"))
                .values(status_since=sa.bindparam("since")),
                since,
            )


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: stored times are UTC (app/core/db.py)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def downgrade() -> None:
    op.drop_index("ix_claim_status_period_status_valid_from", table_name="claim_status_period")
    op.drop_index("uq_claim_status_period_claim_id_valid_from", table_name="claim_status_period")
    op.drop_table("claim_status_period")
    op.drop_column("claim", "status_since")
