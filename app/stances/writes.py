"""Recording a stance: the one write path (the route, the seeds), in SQLAlchemy Core, since
it is the hottest write and should take as few statements and as little ORM as the rules allow.

One transaction: share-lock the source, then lock the claim (the order update_source uses,
so the two cannot deadlock); retire the source's current stance on the claim when the new
one supersedes it (app.stances.rules.supersedes); insert the new
stance; derive the claim's status and counts once, and bring its status periods up to date
with them (app/stances/periods.py: the usual stance, the claim's latest, only extends the
timeline, and its status comes from one aggregate query; a back-dated one or a tie replays
the timeline from its stated_at, and the status is that of the last period); write them
with the claim; and add the
outbox events (stance.created, then claim.status_changed when the status changed, and
claim.timeline_changed when the stance rewrote the claim's past). The stance is serialized
once, for the event and for the response.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    String,
    bindparam,
    case,
    func,
    insert,
    literal,
    null,
    select,
    text,
    true,
    update,
)
from sqlalchemy import cast as sql_cast

from app.claims.models import Claim
from app.claims.service import no_such_claim
from app.core.db import utcnow
from app.core.errors import NotFound, ValidationFailed
from app.core.ids import parse_id
from app.core.models import table_of
from app.events.models import Event, EventType
from app.events.outbox import claim_snapshot_of, event_row
from app.reports.models import Report
from app.reports.quotes import like_pattern
from app.search.column import StanceText, search_text, stance_texts
from app.sources.models import Source
from app.stances.models import Stance, StanceCreate, StancePublic
from app.stances.periods import PeriodsChange, extend_periods, sync_periods_from
from app.stances.rules import StanceKind, StatusCounts, counts_after, status_of, supersedes

_claim = table_of(Claim)
_source = table_of(Source)
_stance = table_of(Stance)
_event = table_of(Event)
_report = table_of(Report)

# Built once: a statement object memoizes its cache key, so each execution skips that work.
_LOCK_SOURCE = (
    select(_source.c.id, _source.c.name, _source.c.kind, _source.c.affiliation)
    .where(_source.c.id == bindparam("source_pk"))
    .with_for_update(read=True)
)
# Every column but the search column, which only grows and is only ever appended to here.
_LOCK_CLAIM = (
    select(*(c for c in _claim.c if c.name != "search_text"))
    .where(_claim.c.id == bindparam("claim_pk"))
    .with_for_update()
)
# The bare predicate of the partial unique index (claim_id, source_id) WHERE is_current, so
# SQLite can use that index: with the `is_current = 1` SQLAlchemy writes for a boolean
# column, it walks every stance of the source instead (~1,800 per POST at 1M claims).
_CURRENT_OF_SOURCE = (
    select(_stance.c.id, _stance.c.stated_at, _stance.c.stance)
    .where(
        _stance.c.claim_id == bindparam("claim_pk"),
        _stance.c.source_id == bindparam("source_pk"),
        text("stance.is_current"),
    )
    .subquery("held")
)
# One row: when the claim's latest stance was stated (one probe of its (claim_id,
# stated_at) index), and the source's current stance on it, if any. Read after the claim
# is locked, so no stance of the claim can commit in between.
_BEFORE_INSERT = select(
    select(func.max(_stance.c.stated_at))
    .where(_stance.c.claim_id == bindparam("claim_pk"))
    .scalar_subquery()
    .label("latest"),
    _CURRENT_OF_SOURCE.c.id,
    _CURRENT_OF_SOURCE.c.stated_at,
    _CURRENT_OF_SOURCE.c.stance,
).select_from(select(literal(1).label("one")).subquery("one").outerjoin(_CURRENT_OF_SOURCE, true()))
_SET_CURRENT = (
    update(_stance)
    .where(_stance.c.id == bindparam("stance_pk"))
    .values(is_current=bindparam("current"))
)
# The cited report's url, and whether the quote is in its text: asked of the database
# (one primary-key read), so that the text, up to 500,000 characters, never travels. The
# LIKE restates app.reports.quotes.quote_found over the stored normalised text;
# tests/stances/test_quote_found.py runs both over one table of cases on both engines.
_REPORT_OF_STANCE = select(
    _report.c.url,
    case(
        (_report.c.text_key.is_(None), null()),
        else_=_report.c.text_key.like(bindparam("pattern", type_=String), escape="/"),
    ).cast(Boolean),
    _report.c.title,
).where(_report.c.id == bindparam("report_pk"))
_REPORT_URL = select(_report.c.url, null().cast(Boolean), _report.c.title).where(
    _report.c.id == bindparam("report_pk")
)
# FOR KEY SHARE on PostgreSQL: the report cannot be deleted between this read and the
# insert that cites it (SQLite writers take turns anyway).
_REPORT_OF_STANCE = _REPORT_OF_STANCE.with_for_update(read=True, key_share=True)
_REPORT_URL = _REPORT_URL.with_for_update(read=True, key_share=True)
_INSERT_STANCE = insert(_stance)
_INSERT_EVENT = insert(_event)
_UPDATE_CLAIM = (
    update(_claim)
    .where(_claim.c.id == bindparam("claim_pk"))
    .values(
        status=bindparam("new_status"),
        asserting_sources=bindparam("asserting"),
        denying_sources=bindparam("denying"),
        status_since=bindparam("since", type_=_claim.c.status_since.type),
        updated_at=bindparam("now", type_=_claim.c.updated_at.type),
    )
)

# Whether an earlier stance of the claim cites the report: its title is in the column then.
_CITED_BEFORE = (
    select(_stance.c.id)
    .where(
        _stance.c.claim_id == bindparam("claim_pk"),
        _stance.c.report_id == bindparam("report_pk"),
        _stance.c.id < bindparam("stance_pk"),
    )
    .limit(1)
)

_APPEND_SEARCH_TERMS = (
    update(_claim)
    .where(_claim.c.id == bindparam("claim_pk"))
    .values(search_text=_claim.c.search_text.concat(bindparam("terms", type_=String)))
)


def _camps_query() -> Any:
    """How many camps (up to 2) the claim's current asserting stances come from. A camp is
    the source's affiliation key (affiliation stripped and casefolded, as
    app.stances.rules.camp groups them) or, unaffiliated, the source itself."""
    camp = func.coalesce(
        literal("a:").concat(_source.c.affiliation_key),
        literal("s:").concat(sql_cast(_source.c.id, String)),
    )
    camps = (
        select(camp.label("camp"))
        .select_from(_stance.join(_source, _source.c.id == _stance.c.source_id))
        .where(
            _stance.c.claim_id == bindparam("claim_pk"),
            _stance.c.is_current,
            _stance.c.stance == StanceKind.asserts.value,
        )
        .distinct()
        .limit(2)
        .subquery()
    )
    return select(func.count()).select_from(camps)


_CAMPS = _camps_query()


@dataclass(frozen=True)
class Citation:
    """What a stance takes from the report it cites."""

    report_pk: int | None = None
    reported_via: str | None = None
    quote_found: bool | None = None
    title: str | None = None


def cite_report(conn: Connection, data: StanceCreate) -> Citation:
    """The stance's report (422 naming report_id when there is none with that id), its url
    for `reported_via` when none was given, and whether the quote is in its text."""
    if data.report_id is None:
        return Citation(reported_via=data.reported_via)
    try:
        report_pk = parse_id(data.report_id, "report")
    except NotFound:
        raise _unknown_report(data.report_id) from None
    pattern = like_pattern(data.quote)
    statement = _REPORT_URL if pattern is None else _REPORT_OF_STANCE
    row = conn.execute(statement, {"report_pk": report_pk, "pattern": pattern}).first()
    if row is None:
        raise _unknown_report(data.report_id)
    found = None if row[1] is None else bool(row[1])
    return Citation(report_pk, data.reported_via or row[0], found, row[2])


def _cite_before_the_claim(conn: Connection, data: StanceCreate) -> Citation | ValidationFailed:
    """cite_report before the claim is locked: a title change locks the report, then the
    claims citing it (it rewrites their search columns), so a stance takes them in that
    order too and the two cannot deadlock. An unknown report is returned, not raised, to be
    answered after an unknown claim or source, as before."""
    try:
        return cite_report(conn, data)
    except ValidationFailed as unknown_report:
        return unknown_report


@dataclass(frozen=True)
class RecordedStance:
    stance: StancePublic
    body: bytes  # the stance as JSON, exactly as the API answers it


@dataclass(frozen=True)
class InsertedStance:
    pk: int
    stated_at: datetime
    current: bool
    # The kind of the source's stance it retired (None: it retired none).
    retired: str | None
    # Stated after every other stance of the claim: it can only extend the claim's
    # timeline, and it is current.
    latest: bool


def insert_stance(
    conn: Connection,
    *,
    claim_pk: int,
    source_pk: int,
    data: StanceCreate,
    now: datetime,
    citation: Citation | None = None,
) -> InsertedStance:
    """Insert the stance, current if it supersedes the source's current one on the claim."""
    stated_at = data.stated_at or now
    keys = {"claim_pk": claim_pk, "source_pk": source_pk}
    before = conn.execute(_BEFORE_INSERT, keys).one()
    held = None if before.id is None else (before.stated_at, before.id)
    # Decided before the insert, with the new id taken to be the highest (it almost always
    # is), and checked again once the id is known.
    current = supersedes((stated_at, None), held)
    if held is not None and current:
        # First, since at most one stance per (claim, source) may be current.
        conn.execute(_SET_CURRENT, {"stance_pk": before.id, "current": False})
    citation = citation or Citation(reported_via=data.reported_via)
    values = data.model_dump(exclude={"source_id", "stated_at"})
    values.update(
        report_id=citation.report_pk,
        reported_via=citation.reported_via,
        quote_found=citation.quote_found,
        claim_id=claim_pk,
        source_id=source_pk,
        stated_at=stated_at,
        is_current=current,
        created_at=now,
    )
    stance_pk: int = conn.execute(_INSERT_STANCE, values).inserted_primary_key[0]  # type: ignore[index]
    if held is not None and current and not supersedes((stated_at, stance_pk), held):
        # A tie lost to a higher id already there (ids are not always handed out in order).
        conn.execute(_SET_CURRENT, {"stance_pk": stance_pk, "current": False})
        conn.execute(_SET_CURRENT, {"stance_pk": before.id, "current": True})
        current = False
    retired = before.stance if held is not None and current else None
    latest = before.latest is None or before.latest < stated_at
    return InsertedStance(stance_pk, stated_at, current, retired, latest)


def record_stance(conn: Connection, *, claim_id: str, data: StanceCreate) -> RecordedStance:
    """Record a stance and, in the same transaction, the claim's new status and counts and
    the outbox events; the caller commits. 404 for an unknown claim, 422 for an unknown
    source."""
    source_pk = _existing_source_id(data.source_id)
    claim_pk = parse_id(claim_id, "claim")
    source = conn.execute(_LOCK_SOURCE, {"source_pk": source_pk}).first()
    citation = _cite_before_the_claim(conn, data)
    claim = conn.execute(_LOCK_CLAIM, {"claim_pk": claim_pk}).mappings().first()
    if claim is None:
        raise no_such_claim(claim_id)
    if source is None:
        raise _unknown_source(data.source_id)
    if isinstance(citation, ValidationFailed):
        raise citation
    now = utcnow()
    inserted = insert_stance(
        conn, claim_pk=claim_pk, source_pk=source_pk, data=data, now=now, citation=citation
    )
    timeline, (status, asserting, denying) = _derive(conn, claim, inserted, data.stance)
    new_status = status.value
    # A new stance is a change to the claim, even when its status holds.
    conn.execute(
        _UPDATE_CLAIM,
        {
            "claim_pk": claim_pk,
            "new_status": new_status,
            "asserting": asserting,
            "denying": denying,
            "since": timeline.status_since,
            "now": now,
        },
    )
    _index_quote(conn, claim_pk, inserted.pk, citation, data.quote, claim["language"])
    stance = StancePublic.model_validate(
        {
            **data.model_dump(exclude={"source_id", "stated_at"}),
            "id": inserted.pk,
            "claim_id": claim_pk,
            "source_id": source_pk,
            "report_id": citation.report_pk,
            "reported_via": citation.reported_via,
            "quote_found": citation.quote_found,
            "stated_at": inserted.stated_at,
            "current": inserted.current,
            "created_at": now,
            "source": source._asdict(),
        }
    )
    body = stance.model_dump_json(by_alias=True).encode()
    changed = {
        "status": new_status,
        "asserting_sources": asserting,
        "denying_sources": denying,
        "status_since": timeline.status_since,
        "updated_at": now,
    }
    events = _events(claim, changed, body, history_rewritten=timeline.history_rewritten)
    conn.execute(_INSERT_EVENT, events)
    return RecordedStance(stance, body)


def _derive(
    conn: Connection, claim: Any, inserted: InsertedStance, kind: str
) -> tuple[PeriodsChange, StatusCounts]:
    """The claim's periods brought up to date after its new stance, and its status and
    counts now, derived once. The claim's latest stance moves its counts by what it
    replaced, and extends its timeline by one step; any other replays the timeline from
    its stated_at, and the present is the last period."""
    if not inserted.latest:
        return sync_periods_from(conn, claim_pk=claim["id"], since=inserted.stated_at)
    asserting, denying = counts_after(
        claim["asserting_sources"], claim["denying_sources"], retired=inserted.retired, added=kind
    )
    # The camps count only for an assertion by several and a denial by none.
    camps = asserting
    if asserting >= 2 and not denying:
        camps = conn.execute(_CAMPS, {"claim_pk": claim["id"]}).scalar_one()
    state = (status_of(asserting, denying, camps), asserting, denying)
    change = extend_periods(
        conn, claim_pk=claim["id"], stance_pk=inserted.pk, at=inserted.stated_at, state=state
    )
    return change, state


def _index_quote(
    conn: Connection,
    claim_pk: int,
    stance_pk: int,
    citation: Citation,
    quote: str | None,
    language: str,
) -> None:
    """Search finds the claim by the quote from now on, and by the cited report's title if
    no earlier stance of the claim cites that report: their terms appended to the claim's
    search column (app/search/column.py), one statement, only for terms."""
    cited: tuple[int, ...] = ()
    if citation.report_pk is not None and citation.title:
        keys = {"claim_pk": claim_pk, "report_pk": citation.report_pk, "stance_pk": stance_pk}
        if conn.execute(_CITED_BEFORE, keys).first() is not None:
            cited = (citation.report_pk,)
    stance = StanceText(quote, citation.report_pk, citation.title)
    terms = search_text(text="", language=language, quotes=stance_texts([stance], cited=cited))
    if terms:
        conn.execute(_APPEND_SEARCH_TERMS, {"claim_pk": claim_pk, "terms": " " + terms})


def _events(
    claim: Any, changed: dict[str, Any], stance_body: bytes, *, history_rewritten: bool
) -> list[dict[str, Any]]:
    """The outbox rows: stance.created, then claim.status_changed if the current status
    changed, and claim.timeline_changed if the stance rewrote the claim's past."""
    snapshot = claim_snapshot_of({**claim, **changed})
    stance = json.loads(stance_body)
    events = [event_row(EventType.stance_created, {"stance": stance, "claim": snapshot})]
    if changed["status"] != claim["status"]:
        events.append(
            event_row(
                EventType.claim_status_changed,
                {"claim": snapshot, "old_status": claim["status"], "new_status": changed["status"]},
            )
        )
    if history_rewritten:
        # A back-dated stance: the present may hold while the past it describes changed.
        events.append(event_row(EventType.claim_timeline_changed, {"claim": snapshot}))
    return events


def _existing_source_id(source_id: str) -> int:
    try:
        return parse_id(source_id, "source")
    except NotFound:
        raise _unknown_source(source_id) from None


def _unknown_source(source_id: str) -> ValidationFailed:
    return ValidationFailed.on(
        "body", "source_id", f"no source has id '{source_id[:40]}'", "unknown_source"
    )


def _unknown_report(report_id: str) -> ValidationFailed:
    return ValidationFailed.on(
        "body", "report_id", f"no report has id '{report_id[:40]}'", "unknown_report"
    )
