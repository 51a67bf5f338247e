"""GET /claims?as_of=T: the list as its sources had stated it by T, from the stored status
periods (app/stances/periods_model.py) rather than a replay per request.

Each claim is joined to the period holding at T (at most one: a claim's periods do not
overlap), which gives its status, counts and status_since then; no period means unsourced.
The stance-side filters ask for a stance stated by T that is its source's latest by then:
the supersession rule of app/stances/rules.py in SQL (the latest `stated_at`, a tie to the
higher id), checked against the pure rule by tests/stances/test_timeline_property.py.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlmodel import col

from app.claims.models import Claim
from app.core.models import table_of
from app.sources.models import Source
from app.stances.models import Stance
from app.stances.periods_model import ClaimStatusPeriod
from app.stances.rules import ClaimStatus, StanceKind, affiliation_key

period = table_of(ClaimStatusPeriod)
claim = _claim = table_of(Claim)
_stance = table_of(Stance)


def holds_at(as_of: datetime) -> ColumnElement[bool]:
    """The join of a claim to its period at `as_of`: valid_from <= T < valid_to."""
    return and_(
        period.c.claim_id == _claim.c.id,
        period.c.valid_from <= as_of,
        or_(period.c.valid_to > as_of, period.c.valid_to.is_(None)),
    )


def columns_at(names: list[str]) -> list[Any]:
    """The list's columns with the derived ones taken from the period at T."""
    derived = {
        "status": _status(),
        "asserting_sources": func.coalesce(period.c.asserting_sources, 0),
        "denying_sources": func.coalesce(period.c.denying_sources, 0),
        # Unsourced again (every source retracted) has no status_since either.
        "status_since": period.c.status_since,
    }
    return [derived[name].label(name) if name in derived else _claim.c[name] for name in names]


def status_at(statuses: list[ClaimStatus]) -> ColumnElement[bool]:
    """The status of the period at T (unsourced when none held then) is one of these.
    Through coalesce, so that the outer join stays one: the planner then walks the list's
    sort index and probes each claim's period by its index (LIMIT stops the walk), rather
    than fetching every period of that status and sorting the claims."""
    return _status().in_([s.value for s in statuses])


def _status() -> ColumnElement[str]:
    return func.coalesce(period.c.status, literal(ClaimStatus.unsourced.value))


def stance_at(
    as_of: datetime,
    *,
    stance: list[StanceKind],
    source_ids: list[int] | None,
    source_kind: list[str],
    affiliation: list[str],
) -> ColumnElement[bool]:
    """One stance stated by T, its source's latest by then, matching every filter given."""
    held, later = _stance, _stance.alias("later")
    superseded = exists(
        select(later.c.id).where(
            later.c.claim_id == held.c.claim_id,
            # `+ 0` keeps SQLite off the (source_id, stated_at) index, which walks every
            # stance of the source (~1,800 at 1M claims); the claim's own are a handful.
            later.c.source_id + 0 == held.c.source_id,
            later.c.stated_at <= as_of,
            or_(
                later.c.stated_at > held.c.stated_at,
                and_(later.c.stated_at == held.c.stated_at, later.c.id > held.c.id),
            ),
        )
    )
    matching = select(held.c.id).where(
        held.c.claim_id == _claim.c.id, held.c.stated_at <= as_of, ~superseded
    )
    if stance:
        matching = matching.where(col(Stance.stance).in_([s.value for s in stance]))
    if source_ids is not None:
        # As for `later` above: the claim's stances by stated_at, not the source's.
        held_source = literal_column("+stance.source_id", held.c.source_id.type)
        matching = matching.where(held_source.in_(source_ids))
    if source_kind or affiliation:
        matching = matching.join(Source, col(Source.id) == Stance.source_id)
        if source_kind:
            matching = matching.where(col(Source.kind).in_(source_kind))
        if affiliation:
            matching = matching.where(
                col(Source.affiliation_key).in_([affiliation_key(a) for a in affiliation])
            )
    return exists(matching)
