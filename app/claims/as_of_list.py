"""GET /claims?as_of=T: which side of the join drives the list, and through which index.

- A status filter of one sourced status (asserted, denied, disputed, corroborated) is
  driven by the status periods: those of that status holding at T, each joined to its
  claim by primary key. The periods carry their claim's created_at and updated_at
  (migration 0013), so the order and the keyset are the same as the claim side's: the
  claim's present created_at / updated_at (recorded time, as every item shows them), then
  its id. Two indexes can serve it:
  - the walk: (status, claim_<key>, claim_id, valid_from, valid_to) in the list's order,
    the periods holding at T picked from the index entries until the page is full;
  - the range: (status, valid_from, ...) up to T, the periods still holding at T kept and
    sorted; cheap when few periods of that status had begun by T, where the walk would
    pass every later one first.
  PostgreSQL chooses between them from its statistics. SQLite's planner has none for
  this, so the list chooses (`+column` keeps SQLite off the other index): an oldest-first
  walk starts among the periods that began first, so it always walks; a newest-first
  walk passes the periods begun after T first, so when many did and few had begun by T
  (two bounded counts) it reads the range instead.
- Anything else (no status filter, `unsourced` among the statuses, or several statuses,
  which no index returns in one order) walks the claims' sort index and joins each claim
  to its period at T (app/claims/as_of.py); claims with no period then are unsourced.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, literal_column, or_, select
from sqlmodel import Session, col

from app.claims import as_of
from app.claims.filters import ClaimFilters, ClaimSort, conditions
from app.claims.models import Claim, ClaimPublic
from app.stances.rules import ClaimStatus

# Per item of the page: a newest-first walk passing at most WALK_SKIPS_PER_ITEM periods
# begun after T is kept; otherwise the range is read when it holds at most
# RANGE_PERIODS_PER_ITEM, which costs less than such a walk (the 100k archive, the
# report of branch asof-index).
WALK_SKIPS_PER_ITEM = 20
RANGE_PERIODS_PER_ITEM = 500

_NAMES = list(ClaimPublic.model_fields)


@dataclass(frozen=True)
class ListQuery:
    """The list's statement (filtered, not yet ordered or paged) and its keyset columns."""

    statement: Select[Any]
    key: Any
    claim_id: Any


def list_query(session: Session, filters: ClaimFilters, sort: ClaimSort, limit: int) -> ListQuery:
    assert filters.as_of is not None
    if len(filters.status) == 1 and filters.status[0] is not ClaimStatus.unsourced:
        return _period_side(session, filters, sort, limit)
    return _claim_side(session, filters, sort)


def _claim_side(session: Session, filters: ClaimFilters, sort: ClaimSort) -> ListQuery:
    """Status, counts and status_since of the period that held at as_of, if any."""
    assert filters.as_of is not None
    statement = (
        select(*as_of.columns_at(_NAMES))
        .select_from(as_of.claim.outerjoin(as_of.period, as_of.holds_at(filters.as_of)))
        .where(*conditions(session, filters))
    )
    return ListQuery(statement, sort.column, col(Claim.id))


def _period_side(session: Session, filters: ClaimFilters, sort: ClaimSort, limit: int) -> ListQuery:
    assert filters.as_of is not None
    period, at = as_of.period, filters.as_of
    [status] = filters.status
    conn = session.connection()
    key: Any = period.c[f"claim_{sort.field_name}"]
    claim_id: Any = period.c.claim_id
    valid_from: ColumnElement[Any] = period.c.valid_from
    valid_to: ColumnElement[Any] = period.c.valid_to
    if conn.dialect.name == "sqlite":
        if _reads_the_range(conn, status, at, sort, limit):
            key, claim_id = _unindexed(key), _unindexed(claim_id)  # no walk in key order
        else:
            valid_from, valid_to = _unindexed(valid_from), _unindexed(valid_to)  # no range
    statement = (
        select(*as_of.columns_at(_NAMES))
        .select_from(period.join(as_of.claim, as_of.claim.c.id == period.c.claim_id))
        .where(
            period.c.status == status.value,
            valid_from <= at,
            or_(valid_to > at, valid_to.is_(None)),
            *conditions(session, replace(filters, status=[])),
        )
    )
    return ListQuery(statement, key, claim_id)


def _reads_the_range(
    conn: Connection, status: ClaimStatus, at: datetime, sort: ClaimSort, limit: int
) -> bool:
    """SQLite's choice: the range rather than the walk (see the module's docstring)."""
    if not sort.descending:
        return False
    after = as_of.period.c.valid_from > at
    if _at_most(conn, status, after, WALK_SKIPS_PER_ITEM * (limit + 1)):
        return False
    return _at_most(conn, status, ~after, RANGE_PERIODS_PER_ITEM * (limit + 1))


def _at_most(conn: Connection, status: ClaimStatus, begun: Any, bound: int) -> bool:
    """Whether at most `bound` periods of `status` began then (reads at most bound + 1
    entries of the range's index)."""
    period = as_of.period
    periods = (
        select(period.c.id).where(period.c.status == status.value, begun).limit(bound + 1)
    ).subquery()
    return conn.execute(select(func.count()).select_from(periods)).scalar_one() <= bound


def _unindexed(column: Any) -> ColumnElement[Any]:
    """The column behind SQLite's unary +: the same value, which no index serves."""
    return literal_column(f"+{column.table.name}.{column.name}", column.type)
