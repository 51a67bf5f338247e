"""Verdicts: a fact-checker's rating of a claim, beside its derived status.

Released empty (a reserved slot): databases migrated then are already past it, so
the schema it was reserved for is created by revision 0006. Left empty for good.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:20:00
"""

from collections.abc import Sequence

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
