"""The claim_status_period table: each claim's status periods in stated time, kept on
write (app/stances/periods.py) so that lists as of a past time are served by an index."""

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.sql.elements import Grouping
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.models import IdType, enum_check, id_reference
from app.stances.period_lag import lag_class
from app.stances.rules import ClaimStatus


class ClaimStatusPeriod(SQLModel, table=True):
    """[valid_from, valid_to) of one claim; valid_to is null for the period that holds now."""

    __tablename__ = "claim_status_period"
    __table_args__ = (
        enum_check("status", ClaimStatus),
        # One claim's timeline in order, and the probe "which period holds at T" of a
        # list that walks the claims by their sort index.
        Index(
            "uq_claim_status_period_claim_id_valid_from",
            "claim_id",
            "valid_from",
            unique=True,
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_type=IdType, primary_key=True)
    claim_id: int = Field(sa_column=id_reference("claim.id", ondelete="CASCADE", nullable=False))
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_to: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(sa_type=String(16))
    asserting_sources: int
    denying_sources: int
    status_since: datetime = Field(sa_type=UTCDateTime)
    changed_by_stance_id: int = Field(
        sa_column=id_reference("stance.id", ondelete="CASCADE", nullable=False)
    )
    # The claim's own created_at and updated_at (recorded time), the keys the list sorts
    # by: set on insert, and kept equal to the claim's by the trigger of migration 0013.
    claim_created_at: datetime = Field(sa_type=UTCDateTime)
    claim_updated_at: datetime = Field(sa_type=UTCDateTime)


# The list as of T filtered by status: the periods of that status, a lag class at a time,
# in the list's order (app/stances/period_lag.py; migration 0015).
_period = ClaimStatusPeriod.__table__  # type: ignore[attr-defined]
LAG_INDEXES = {
    key: f"ix_claim_status_period_status_lag_{key}"
    for key in ("claim_updated_at", "claim_created_at")
}
for _key, _name in LAG_INDEXES.items():
    Index(
        _name,
        _period.c.status,
        Grouping(lag_class(_period.c.valid_from, _period.c[_key])),  # (...): an expression
        _period.c[_key],
        _period.c.claim_id,
        _period.c.valid_from,
        _period.c.valid_to,
    )
