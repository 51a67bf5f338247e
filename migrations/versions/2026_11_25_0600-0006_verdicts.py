"""Verdicts: a fact-checker's rating of a claim, beside its derived status.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
RATINGS = ("true", "mostly_true", "mixed", "mostly_false", "false", "unproven")


def upgrade() -> None:
    op.create_table(
        "verdict",
        sa.Column("claim_id", Id, nullable=False),
        sa.Column("rating", sa.String(16), nullable=False),
        sa.Column("textual_rating", sa.String(200), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("source_id", Id, nullable=False),
        sa.Column("reviewed_at", Timestamp, nullable=False),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.CheckConstraint(
            f"rating IN ({', '.join(repr(r) for r in RATINGS)})",
            name=op.f("ck_verdict_rating_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], ondelete="CASCADE", name=op.f("fk_verdict_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            ondelete="RESTRICT",
            name=op.f("fk_verdict_source_id_source"),
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_verdict")),
    )
    op.create_index("ix_verdict_rating_claim_id", "verdict", ["rating", "claim_id"])
    op.create_index("ix_verdict_source_id_url", "verdict", ["source_id", "url"])


def downgrade() -> None:
    op.drop_table("verdict")
