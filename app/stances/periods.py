"""Keeping claim_status_period equal to the replay of each claim's history, in the
transaction of the write that changed it (a stance, a bulk batch, an affiliation change,
`claims-api check --repair`, the migration that introduced the table).

A new stance cannot change the periods before its stated_at, so its write replays only
from there (`sync_periods_from`): the stances stated since, from each source's latest
stance before (the claim's current stances, and the whole history of the few sources that
stated anything since), and the period that held just before. The usual new stance is the
claim's latest, and then there is nothing to replay: the claim's present status begins, or
extends, its last period (`extend_periods`). Other writes replay a claim's whole history
(`sync_periods`, `sync_many`). Either way only the periods that differ are touched, and a
stance that changes nothing (same status and counts) writes nothing.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from app.claims.models import Claim
from app.core.models import table_of
from app.sources.models import Source
from app.stances.models import Stance
from app.stances.periods_model import ClaimStatusPeriod
from app.stances.rules import ClaimStatus, StatusCounts
from app.stances.timeline import (
    HistoryStance,
    Period,
    advance,
    replay,
    split_at,
    status_since,
)

CHUNK = 500  # claims per statement when many are synced at once (bind-parameter limits)

_claim = table_of(Claim)
_source = table_of(Source)
_stance = table_of(Stance)
_period = table_of(ClaimStatusPeriod)

_HISTORY_COLUMNS = (
    _stance.c.claim_id,
    _stance.c.id,
    _stance.c.source_id,
    _source.c.name,
    _source.c.affiliation,
    _stance.c.stance,
    _stance.c.stated_at,
    _stance.c.created_at,
    _stance.c.report_id,
)
_HISTORY = (
    select(*_HISTORY_COLUMNS)
    .join(_source, _source.c.id == _stance.c.source_id)
    .where(_stance.c.claim_id == bindparam("claim_pk"))
)
_STORED_COLUMNS = (
    _period.c.claim_id,
    _period.c.id,
    _period.c.valid_from,
    _period.c.valid_to,
    _period.c.status,
    _period.c.asserting_sources,
    _period.c.denying_sources,
    _period.c.status_since,
    _period.c.changed_by_stance_id,
)
_STORED = select(*_STORED_COLUMNS).where(_period.c.claim_id == bindparam("claim_pk"))
# The periods a stance stated at :since can touch, oldest first: the one holding just
# before (the last begun before :since) and those begun since; a range of the (claim_id,
# valid_from) index, found by a probe of it.
_SINCE = bindparam("since", type_=_period.c.valid_from.type)
_HELD_FROM = (
    select(func.max(_period.c.valid_from))
    .where(_period.c.claim_id == bindparam("claim_pk"), _period.c.valid_from < _SINCE)
    .scalar_subquery()
)
_STORED_SINCE = (
    select(*_STORED_COLUMNS)
    .where(
        _period.c.claim_id == bindparam("claim_pk"),
        _period.c.valid_from >= func.coalesce(_HELD_FROM, _SINCE),
    )
    .order_by(_period.c.valid_from)
)
_SOURCES_SINCE = select(_stance.c.source_id).where(
    _stance.c.claim_id == bindparam("claim_pk"), _stance.c.stated_at >= bindparam("since")
)
# What a replay from :since needs (timeline.split_at): every stance stated since, and each
# source's latest before, which is its current stance unless it stated something since,
# in which case all its stances on the claim are read. The bare is_current: see writes.py.
_HISTORY_SINCE = (
    select(*_HISTORY_COLUMNS)
    .join(_source, _source.c.id == _stance.c.source_id)
    .where(
        _stance.c.claim_id == bindparam("claim_pk"),
        or_(
            _stance.c.stated_at >= bindparam("since"),
            text("stance.is_current"),
            _stance.c.source_id.in_(_SOURCES_SINCE.scalar_subquery()),
        ),
    )
)
_DELETE = delete(_period).where(_period.c.id == bindparam("period_pk"))
# The claim's created_at and updated_at come along from its row, in the same statement.
_INSERT = insert(_period).values(
    claim_created_at=select(_claim.c.created_at)
    .where(_claim.c.id == bindparam("of_claim"))
    .scalar_subquery(),
    claim_updated_at=select(_claim.c.updated_at)
    .where(_claim.c.id == bindparam("of_claim"))
    .scalar_subquery(),
)
_SET_SINCE = (
    update(_claim).where(_claim.c.id == bindparam("claim_pk")).values(status_since=bindparam("s"))
)


@dataclass(frozen=True)
class PeriodsChange:
    changed: bool  # any period written or removed
    # A period that had already ended was rewritten, or one now begins before the period
    # that held until this write: history changed, not only the present.
    history_rewritten: bool
    status_since: datetime | None


def history_stance(stance: Stance, source: Source) -> HistoryStance:
    """What the timeline's rules need of a stored stance."""
    return HistoryStance(
        id=stance.id,  # type: ignore[arg-type]
        source_id=stance.source_id,
        source_name=source.name,
        affiliation=source.affiliation,
        stance=stance.stance,
        stated_at=stance.stated_at,
        created_at=stance.created_at,
        report_id=stance.report_id,
    )


def _history_row(row: Any) -> HistoryStance:
    # A _HISTORY_COLUMNS row has the stance's columns and its source's name and affiliation.
    return history_stance(row, row)


def _stored_key(row: Any) -> tuple[object, ...]:
    return (
        row.valid_from,
        row.valid_to,
        row.status,
        row.asserting_sources,
        row.denying_sources,
        row.status_since,
        row.changed_by_stance_id,
    )


def history_of(conn: Connection, claim_pk: int) -> list[HistoryStance]:
    """One claim's stance history, with its sources' present names and affiliations."""
    return [_history_row(row) for row in conn.execute(_HISTORY, {"claim_pk": claim_pk})]


def expected_periods(conn: Connection, claim_pks: list[int]) -> dict[int, list[Period]]:
    """The replay of each claim's history (claims with no stance have no period)."""
    history: dict[int, list[HistoryStance]] = defaultdict(list)
    for chunk in _chunks(claim_pks):
        query = (
            select(*_HISTORY_COLUMNS)
            .join(_source, _source.c.id == _stance.c.source_id)
            .where(_stance.c.claim_id.in_(chunk))
        )
        for row in conn.execute(query):
            history[row.claim_id].append(_history_row(row))
    return {pk: replay(history.get(pk, [])) for pk in claim_pks}


def stored_periods(conn: Connection, claim_pks: list[int]) -> dict[int, list[Any]]:
    """Each claim's stored period rows, oldest first."""
    stored: dict[int, list[Any]] = {pk: [] for pk in claim_pks}
    for chunk in _chunks(claim_pks):
        query = (
            select(*_STORED_COLUMNS)
            .where(_period.c.claim_id.in_(chunk))
            .order_by(_period.c.claim_id, _period.c.valid_from)
        )
        for row in conn.execute(query):
            stored[row.claim_id].append(row)
    return stored


def periods_differ(stored: list[Any], expected: list[Period]) -> bool:
    return [_stored_key(r) for r in stored] != [p.key for p in expected]


def sync_periods(conn: Connection, *, claim_pk: int) -> PeriodsChange:
    """Make one (locked) claim's stored periods and status_since those of its replay."""
    expected = replay(history_of(conn, claim_pk))
    stored = list(conn.execute(_STORED, {"claim_pk": claim_pk}))
    plan = _plan(claim_pk, stored, expected)
    _write([plan], conn)
    return plan.change


def sync_periods_from(
    conn: Connection, *, claim_pk: int, since: datetime
) -> tuple[PeriodsChange, StatusCounts]:
    """sync_periods for a (locked) claim whose new stance was stated at `since`, replaying
    only from there; also the claim's status and counts now, those of its last period.
    The caller writes the claim's status_since (the change's), with its status."""
    keys = {"claim_pk": claim_pk, "since": since}
    stored = list(conn.execute(_STORED_SINCE, keys))
    history = [_history_row(r) for r in conn.execute(_HISTORY_SINCE, keys)]
    tail, resume = split_at(history, since, _held_before(stored, since))
    expected = replay(tail, resume=resume)
    plan = _plan(claim_pk, stored, expected)
    _write([plan], conn, claim_since=False)
    return plan.change, present_state(expected)


def extend_periods(
    conn: Connection, *, claim_pk: int, stance_pk: int, at: datetime, state: StatusCounts
) -> PeriodsChange:
    """The periods of a (locked) claim whose new stance `stance_pk`, stated at `at`, is the
    only one stated at or after `at`, and whose status and counts are now `state`: the
    replay's last step, alone. The caller writes the claim's status_since."""
    stored = list(conn.execute(_STORED_SINCE, {"claim_pk": claim_pk, "since": at}))
    previous = _held_before(stored, at)
    expected = [] if previous is None else [previous]
    advance(expected, at, state, stance_pk)
    plan = _plan(claim_pk, stored, expected)
    _write([plan], conn, claim_since=False)
    return plan.change


def _held_before(stored: list[Any], at: datetime) -> Period | None:
    """The period that held just before `at`, of _STORED_SINCE's rows."""
    if not stored or stored[0].valid_from >= at:
        return None
    row = stored[0]
    return Period(
        row.valid_from,
        row.valid_to,
        ClaimStatus(row.status),
        row.asserting_sources,
        row.denying_sources,
        row.status_since,
        row.changed_by_stance_id,
    )


def present_state(periods: list[Period]) -> StatusCounts:
    """The status and counts a claim with these periods has now."""
    return periods[-1].state if periods else (ClaimStatus.unsourced, 0, 0)


def sync_many(conn: Connection, claim_pks: Iterable[int]) -> dict[int, StatusCounts]:
    """sync_periods for many claims, a chunk of claims per read and per write (bulk
    import, repair, the migration); returns each claim's status and counts now, those of
    its last period."""
    pks = sorted(set(claim_pks))
    present: dict[int, StatusCounts] = {}
    for chunk in _chunks(pks):
        expected = expected_periods(conn, chunk)
        stored = stored_periods(conn, chunk)
        _write([_plan(pk, stored[pk], expected[pk]) for pk in chunk], conn)
        present.update((pk, present_state(expected[pk])) for pk in chunk)
    return present


@dataclass(frozen=True)
class _Plan:
    claim_pk: int
    removed: list[int]  # period ids
    added: list[dict[str, Any]]
    change: PeriodsChange


def _plan(claim_pk: int, stored: list[Any], expected: list[Period]) -> _Plan:
    """The least writing that turns `stored` into `expected`: rows equal in both stay."""
    wanted = {p.key: p for p in expected}
    kept = {_stored_key(r) for r in stored} & set(wanted)
    removed = [r for r in stored if _stored_key(r) not in kept]
    added = [p for key, p in wanted.items() if key not in kept]
    change = PeriodsChange(
        bool(removed or added), _rewrites_history(stored, removed, added), status_since(expected)
    )
    rows = [_row(claim_pk, p) for p in added]
    return _Plan(claim_pk, [r.id for r in removed], rows, change)


def _rewrites_history(stored: list[Any], removed: list[Any], added: list[Period]) -> bool:
    """Whether the change touches the past: a closed period goes, or a new one begins before
    the period that held until now."""
    last_start = max((r.valid_from for r in stored), default=None)
    return any(r.valid_to is not None for r in removed) or (
        last_start is not None and any(p.valid_from < last_start for p in added)
    )


def _row(claim_pk: int, p: Period) -> dict[str, Any]:
    return {
        "claim_id": claim_pk,
        "of_claim": claim_pk,
        "valid_from": p.valid_from,
        "valid_to": p.valid_to,
        "status": p.status.value,
        "asserting_sources": p.asserting_sources,
        "denying_sources": p.denying_sources,
        "status_since": p.status_since,
        "changed_by_stance_id": p.changed_by,
    }


def _write(plans: list[_Plan], conn: Connection, *, claim_since: bool = True) -> None:
    """The plans' periods, and (claim_since) the claims' status_since where it moved."""
    removed = [{"period_pk": pk} for plan in plans for pk in plan.removed]
    added = [row for plan in plans for row in plan.added]
    since = [
        {"claim_pk": plan.claim_pk, "s": plan.change.status_since}
        for plan in plans
        if plan.change.changed and claim_since
    ]
    if removed:
        # First: a new row may take a removed one's (claim_id, valid_from).
        conn.execute(_DELETE, removed)
    if added:
        conn.execute(_INSERT, added)
    if since:
        conn.execute(_SET_SINCE, since)


def _chunks(values: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
