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
every change of the claim's key (the trigger of migration 0013) with nothing to keep. Each
engine spells it its own way: PostgreSQL with width_bucket (a CASE of twelve comparisons
cost its planner 3 ms for the list's thirteen walks), SQLite with that CASE. Migration 0015
creates the indexes with this SQL, which tests/stances/test_period_lag.py compares with
what this module compiles to.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

LAG_HOURS = (1, 8, 64, 512, 4096, 32768)
OUTERMOST = len(LAG_HOURS)
# Class k lies from BOUNDS[k + OUTERMOST - 1] (inclusive) to the next bound: class 0 is
# [-1 h, 1 h), class 1 [1 h, 8 h), class -1 [-8 h, -1 h), ...; the outermost are open-ended.
BOUNDS = tuple(-hours for hours in reversed(LAG_HOURS)) + LAG_HOURS
CLASSES = range(-OUTERMOST, OUTERMOST + 1)
BOUNDED = CLASSES[1:]  # all but the lowest class have a lowest lag
# SQLite's julianday() is a double: its error (well under a second) must not move a walk's
# start past a period that holds.
_MARGIN = timedelta(minutes=1)


class lag_class(FunctionElement[int]):
    """The class of (valid_from - key), from two timestamp columns. Its constants are
    literals, never parameters: an index on an expression serves only a query that spells
    the same expression."""

    type = Integer()
    inherit_cache = True
    name = "lag_class"


@compiles(lag_class, "sqlite")
def _sqlite_lag_class(element: lag_class, compiler: SQLCompiler, **kw: Any) -> str:
    start, key = (compiler.process(clause, **kw) for clause in element.clauses)
    return sqlite_lag_class(start, key)


@compiles(lag_class, "postgresql")
def _postgres_lag_class(element: lag_class, compiler: SQLCompiler, **kw: Any) -> str:
    start, key = (compiler.process(clause, **kw) for clause in element.clauses)
    return postgres_lag_class(start, key)


def sqlite_lag_class(start: str, key: str) -> str:
    hours = f"(julianday({start}) - julianday({key})) * 24"
    whens = " ".join(
        f"WHEN {hours} >= {bound} THEN {k}"
        for k, bound in reversed(list(zip(BOUNDED, BOUNDS, strict=True)))
    )
    return f"CASE {whens} ELSE {CLASSES[0]} END"


def postgres_lag_class(start: str, key: str) -> str:
    hours = f"EXTRACT(EPOCH FROM {start} - {key}) / 3600"
    bounds = ", ".join(str(bound) for bound in BOUNDS)
    return f"width_bucket({hours}, ARRAY[{bounds}]::numeric[]) - {OUTERMOST}"


def walk_starts(at: datetime) -> dict[int, datetime]:
    """The greatest key a period of each bounded class holding at `at` can have: a period
    that holds began by `at`, so its key is at most at - lag. Bounds past the calendar's
    ends are its first or last day."""
    starts = {}
    for lag, lowest in zip(BOUNDED, BOUNDS, strict=True):
        try:
            starts[lag] = at - timedelta(hours=lowest) + _MARGIN
        except OverflowError:
            starts[lag] = (datetime.min if lowest > 0 else datetime.max).replace(tzinfo=UTC)
    return starts
