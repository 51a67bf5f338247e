"""What each desk page shows, gathered from the service functions and the public models
the JSON API returns (ClaimPublic, ClaimDetail, StancePublic): the desk has no SQL of its
own, so it shows exactly what the API would say.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from app.claims import service as claim_service
from app.claims.detail import claim_detail_at, get_claim_detail
from app.claims.filters import ClaimSort
from app.claims.models import ClaimDetail, ClaimPublic
from app.core.errors import NotFound
from app.desk.query import DeskQuery, Section
from app.desk.timeline_svg import as_datetime
from app.reports import service as report_service
from app.reports.models import ReportSummary
from app.sources import service as source_service
from app.sources.models import SourcePublic
from app.stances import rules
from app.stances import service as stance_service
from app.stances.models import StancePublic
from app.stances.rules import CurrentStance, StanceKind
from app.stances.service import StanceGlance
from app.verdicts.models import VerdictPublic

HISTORY_PAGE = 100
# A claim page shows at most this much history; the JSON API pages through the rest.
MAX_HISTORY = 1000


# ---------------------------------------------------------------------------------------
# v1.1 (contract.md, "time and provenance"): what the desk shows of reports, quote_found,
# status_since, as_of and the timeline comes through the functions below, from the same
# services as the JSON API (nothing is derived again here).
# ---------------------------------------------------------------------------------------


def status_since_of(claim: ClaimPublic) -> datetime | None:
    """`status_since` of a claim as the API returns it."""
    return claim.status_since


def quote_found_of(stance: StancePublic) -> bool | None:
    """Whether the stance's quote is in its report's text (`quote_found`)."""
    return stance.quote_found


def claim_timeline(*, session: Session, claim_id: str) -> list[dict[str, Any]]:
    """The items of GET /claims/{id}/timeline, as JSON values."""
    claim = claim_service.get_claim(session=session, claim_id=claim_id)
    timeline = stance_service.claim_timeline(session=session, claim_id=claim.id, known_at=None)  # type: ignore[arg-type]
    return [item.model_dump(by_alias=True, mode="json") for item in timeline.items]


def claim_as_of(
    *, session: Session, detail: ClaimDetail, as_of: datetime
) -> tuple[ClaimDetail, datetime | None]:
    """GET /claims/{id}?as_of=T, and its status_since."""
    claim = claim_service.get_claim(session=session, claim_id=detail.id)
    then = claim_detail_at(session=session, claim=claim, as_of=as_of, known_at=None)
    return then, then.status_since


def find_report(*, session: Session, report_id: str) -> "ReportView | None":
    """A report and the stances that cite it (GET /reports/{id} and its /stances), up to
    MAX_HISTORY of them; None (the page is a 404) for an unknown id."""
    try:
        found = report_service.get_report(session=session, report_id=report_id)
    except NotFound:
        return None
    report = ReportSummary.model_validate(found, from_attributes=True).model_dump()
    if found.publisher_id is not None:
        publisher = source_service.get_source(session=session, source_id=str(found.publisher_id))
        report["publisher"] = {"id": str(publisher.id), "name": publisher.name}
    rows: list[HistoryRow] = []
    cursor: str | None = None
    while len(rows) < MAX_HISTORY:
        page, cursor = stance_service.list_stances(
            session=session, report_id=found.id, limit=HISTORY_PAGE, cursor=cursor
        )
        rows += [_history_row(stance_service.stance_public(*row)) for row in page]
        if cursor is None:
            break
    return ReportView(report=report, stances=rows)


# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Camp:
    """Sources of one affiliation taking the same position (an unaffiliated source is a
    camp of its own), as the status rule counts them."""

    label: str
    affiliation: str | None
    sources: list[dict[str, str]]


@dataclass(frozen=True)
class ReportLink:
    href: str
    label: str
    on_desk: bool


@dataclass(frozen=True)
class DeskClaim:
    claim: ClaimPublic
    section: Section
    camps: dict[str, list[Camp]]
    reports: list[ReportLink]
    status_since: datetime | None
    latest_stated: datetime | None


@dataclass(frozen=True)
class DeskPage:
    items: list[DeskClaim]
    next_section: Section | None
    next_cursor: str | None
    more: bool


@dataclass(frozen=True)
class HistoryRow:
    stance: StancePublic
    camp: str
    quote_found: bool | None
    report: ReportLink | None


@dataclass(frozen=True)
class ClaimPage:
    claim: ClaimDetail
    camps: dict[str, list[Camp]]
    status_since: datetime | None
    history: list[HistoryRow]
    history_truncated: bool
    timeline: list[dict[str, Any]]
    verdict: VerdictPublic | None
    as_of: datetime | None
    now: datetime


@dataclass(frozen=True)
class SourceRow:
    stance: StancePublic
    claim: ClaimPublic
    report: ReportLink | None


@dataclass(frozen=True)
class SourcePage:
    source: SourcePublic
    camp: str
    rows: list[SourceRow]
    next_cursor: str | None


@dataclass(frozen=True)
class ReportView:
    """A report (v1.1 Report, without its text) and the stances that cite it."""

    report: dict[str, Any]
    stances: list[HistoryRow] = field(default_factory=list)


# What the pages show of a stance: its public model (a claim's history) or, on the desk's
# cards, a glance at a current one.
Shown = StancePublic | StanceGlance


def position_of(stance: Shown) -> CurrentStance:
    """The stance as the status rules see it, for their camp rule."""
    if isinstance(stance, StanceGlance):
        return stance.position
    source = stance.source
    report_id = None if stance.report_id is None else int(stance.report_id)
    return CurrentStance(
        StanceKind(stance.stance), int(stance.source_id), source.name, source.affiliation, report_id
    )


def camp_label(stance: Shown) -> str:
    return rules.camp_label(position_of(stance))


def camps_of(stances: Sequence[Shown]) -> dict[str, list[Camp]]:
    """Current stances grouped by position ("asserts", "denies", and any other), then by
    camp, the camp rule being the status rule's own."""
    grouped: dict[str, dict[tuple[str, str], Camp]] = {}
    positions = sorted(
        map(position_of, stances), key=lambda p: (p.source_name.casefold(), p.source_id)
    )
    for position in positions:
        camps = grouped.setdefault(str(position.stance), {})
        key = rules.camp(position)
        if key not in camps:
            affiliation = position.affiliation and position.affiliation.strip()
            camps[key] = Camp(rules.camp_label(position), affiliation, [])
        camps[key].sources.append({"id": str(position.source_id), "name": position.source_name})
    return {
        kind: sorted(camps.values(), key=lambda c: c.label.casefold())
        for kind, camps in grouped.items()
    }


def report_link(stance: Shown) -> ReportLink | None:
    report_id = position_of(stance).report_id
    if report_id is not None:
        return ReportLink(f"/desk/reports/{report_id}", f"report {report_id}", on_desk=True)
    url = stance.reported_via
    if url and url.startswith(("https://", "http://")):
        return ReportLink(url, url.split("://", 1)[1].split("/", 1)[0], on_desk=False)
    return None


def reports_of(stances: Sequence[Shown]) -> list[ReportLink]:
    links: dict[str, ReportLink] = {}
    for stance in stances:
        link = report_link(stance)
        if link is not None:
            links.setdefault(link.href, link)
    return list(links.values())


def desk_page(*, session: Session, query: DeskQuery) -> DeskPage:
    """The page of the desk `query` asks for: its sections in order (disputed, denied,
    the rest), each newest change first, walked with GET /claims's own cursor."""
    sections = query.sections()
    names = [section for section, _ in sections]
    start = names.index(query.section) if query.section in names else 0
    items: list[DeskClaim] = []
    for index in range(start, len(sections)):
        section, statuses = sections[index]
        found, next_cursor = claim_service.list_claims(
            session=session,
            filters=query.filters(statuses),
            sort=ClaimSort.newest_updated,
            limit=query.limit - len(items),
            cursor=query.cursor if index == start else None,
        )
        items += _desk_claims(session, found, section)
        if next_cursor is not None:
            return DeskPage(items, section, next_cursor, more=True)
        if len(items) == query.limit:
            following = names[index + 1] if index + 1 < len(names) else None
            return DeskPage(items, following, None, more=following is not None)
    return DeskPage(items, None, None, more=False)


def _desk_claims(session: Session, claims: list[ClaimPublic], section: Section) -> list[DeskClaim]:
    # A card needs the claim as listed and a glance at its current stances: one indexed
    # read for the page, not the whole of GET /claims/{id} for each claim.
    current = stance_service.current_glances_of(
        session=session, claim_ids=[int(claim.id) for claim in claims]
    )
    return [_desk_claim(claim, section, current[int(claim.id)]) for claim in claims]


def _desk_claim(claim: ClaimPublic, section: Section, stances: list[StanceGlance]) -> DeskClaim:
    return DeskClaim(
        claim=claim,
        section=section,
        camps=camps_of(stances),
        reports=reports_of(stances),
        status_since=status_since_of(claim),
        latest_stated=max((s.stated_at for s in stances), default=None),
    )


def _history(session: Session, claim_id: str) -> list[StancePublic]:
    """The claim's stance history, newest first, up to MAX_HISTORY stances; read once per
    request (the session's), however many parts of the page ask for it."""
    key = ("desk_history", claim_id)
    if key not in session.info:
        session.info[key] = _read_history(session, claim_id)
    history: list[StancePublic] = session.info[key]
    return history


def _read_history(session: Session, claim_id: str) -> list[StancePublic]:
    claim = claim_service.get_claim(session=session, claim_id=claim_id)
    stances: list[StancePublic] = []
    cursor: str | None = None
    while len(stances) < MAX_HISTORY:
        rows, cursor = stance_service.list_stances(
            session=session, claim_id=claim.id, limit=HISTORY_PAGE, cursor=cursor
        )
        stances += [stance_service.stance_public(*row) for row in rows]
        if cursor is None:
            break
    return stances


def claim_page(*, session: Session, claim_id: str, as_of: datetime | None) -> ClaimPage:
    detail = get_claim_detail(session=session, claim_id=claim_id)
    since = status_since_of(detail)
    if as_of is not None:
        detail, since = claim_as_of(session=session, detail=detail, as_of=as_of)
    history = _history(session, claim_id)
    shown = history
    if as_of is not None:
        # The history as it stood then: later stances not yet said, `current` as of then.
        current_then = {s.id for s in detail.stances}
        shown = [
            s.model_copy(update={"current": s.id in current_then})
            for s in history
            if s.stated_at <= as_of
        ]
    timeline = claim_timeline(session=session, claim_id=claim_id)
    if as_of is not None:
        timeline = _cut(timeline, as_of)
    return ClaimPage(
        claim=detail,
        camps=camps_of(detail.stances),
        status_since=since,
        history=[_history_row(stance) for stance in shown],
        history_truncated=len(history) >= MAX_HISTORY,
        timeline=timeline,
        verdict=detail.verdict,
        as_of=as_of,
        now=as_of or datetime.now(UTC),
    )


def _cut(timeline: list[dict[str, Any]], as_of: datetime) -> list[dict[str, Any]]:
    """The periods as they stood at `as_of`: later ones gone, the last one open."""
    kept = [dict(p) for p in timeline if as_datetime(p["from"]) <= as_of]
    if kept and kept[-1]["to"] is not None and as_datetime(kept[-1]["to"]) > as_of:
        kept[-1]["to"] = None
    return kept


def _history_row(stance: StancePublic) -> HistoryRow:
    return HistoryRow(
        stance=stance,
        camp=camp_label(stance),
        quote_found=quote_found_of(stance),
        report=report_link(stance),
    )


def source_page(*, session: Session, source_id: str, cursor: str | None) -> SourcePage:
    source = source_service.get_source(session=session, source_id=source_id)
    rows, next_cursor = stance_service.list_stances(
        session=session, source_id=source.id, limit=HISTORY_PAGE, cursor=cursor
    )
    public = SourcePublic.model_validate(source, from_attributes=True)
    stances = [stance_service.stance_public(*row) for row in rows]
    claims = {
        s.claim_id: ClaimPublic.model_validate(
            claim_service.get_claim(session=session, claim_id=s.claim_id), from_attributes=True
        )
        for s in stances
    }
    label = rules.camp_label(
        CurrentStance(StanceKind.asserts, source.id or 0, source.name, source.affiliation)
    )
    return SourcePage(
        source=public,
        camp=label,
        rows=[SourceRow(s, claims[s.claim_id], report_link(s)) for s in stances],
        next_cursor=next_cursor,
    )
