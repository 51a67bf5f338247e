"""The lag class of a status period: how far its start (stated time) lies from its claim's
sort key (recorded time), in classes an index can lead with.

`GET /claims?as_of=T&status=S` wants the periods of S holding at T in the order of their
claim's updated_at (or created_at). One index in that order must pass every period begun
after T before it reaches the first that held then: midway through a 1M archive, about
half of them. But a period that holds at T began by T, so its claim's key is at most
T - lag. Within one lag class the walk can therefore start at T minus the class's lowest
lag, where nearly every entry began by T; the list merges one such walk a class
(app/claims/as_of_list.py). The classes grow eightfold from an hour, so the entries a walk
passes that began after T lie in a band as wide as its class.

The class is an expression of the row's own columns, not a stored column: the index follows
every change of the claim's key (the trigger of migration 0013) with nothing to keep.
Migration 0015 creates the indexes with this expression's SQL, which
tests/stances/test_period_lag.py compares with what this module compiles to.
"""

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Float, case, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

# Class k > 0: LAG_HOURS[k-1] <= lag < LAG_HOURS[k]; class 0: -1 < lag < 1; class -k:
# -LAG_HOURS[k] < lag <= -LAG_HOURS[k-1]; the outermost classes are open-ended.
LAG_HOURS = (1, 8, 64, 512, 4096, 32768)
OUTERMOST = len(LAG_HOURS)
CLASSES = range(-OUTERMOST, OUTERMOST + 1)
# SQLite's julianday() is a double: its error (well under a second) must not move a walk's
# start past a period that holds.
_MARGIN = timedelta(minutes=1)


class hours_between(FunctionElement[float]):
    """(start - end) in hours, as each engine computes it from two timestamps."""

    type = Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between, "sqlite")
def _sqlite_hours(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({start}) - julianday({end})) * 24"


@compiles(hours_between, "postgresql")
def _postgres_hours(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM {start} - {end}) / 3600"


@cache
def lag_class(valid_from: Any, key: Any) -> ColumnElement[int]:
    """The class of valid_from - key. Constants are literals, never parameters: an index on
    an expression serves only a query that spells the same expression. Built once a pair
    of columns: a list request reuses it rather than build its 26 comparisons again."""
    hours = hours_between(valid_from, key)
    whens: list[tuple[ColumnElement[bool], Any]] = []
    for k in range(OUTERMOST, 0, -1):
        whens.append((hours >= literal_column(str(LAG_HOURS[k - 1])), literal_column(str(k))))
    whens.append((hours > literal_column("-1"), literal_column("0")))
    for k in range(1, OUTERMOST):
        whens.append((hours > literal_column(f"-{LAG_HOURS[k]}"), literal_column(f"-{k}")))
    return case(*whens, else_=literal_column(f"-{OUTERMOST}"))


def walk_starts(at: datetime) -> dict[int, datetime]:
    """The greatest key a period of each bounded class holding at `at` can have: a period
    that holds began by `at`, so its key is at most at - lag. (The outermost negative class
    has no bound.) Bounds past the calendar's ends are its first or last day."""
    starts = {}
    for lag in BOUNDED:
        lowest = _lowest_hours(lag)
        assert lowest is not None
        try:
            starts[lag] = at - timedelta(hours=lowest) + _MARGIN
        except OverflowError:
            starts[lag] = (datetime.min if lowest > 0 else datetime.max).replace(tzinfo=UTC)
    return starts


def _lowest_hours(lag: int) -> int | None:
    if lag > 0:
        return LAG_HOURS[lag - 1]
    if lag == 0:
        return -1
    if lag > -OUTERMOST:
        return -LAG_HOURS[-lag]
    return None


BOUNDED = tuple(lag for lag in CLASSES if _lowest_hours(lag) is not None)
