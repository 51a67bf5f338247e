"""/reports: the list, one report, and the stances that cite it."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import StringConstraints

from app.core.auth import ReadAccess, WriteKey
from app.core.deps import ReadSession, WriteSession
from app.core.fields import StorableStr
from app.core.pagination import Paging
from app.http.conditional import IfNoneMatch, respond, tagged
from app.http.operation_kinds import create_one, delete_one, read_one, read_page, update_one
from app.http.unchanged import unchanged
from app.reports import service
from app.reports.models import (
    Report,
    ReportCreate,
    ReportPage,
    ReportPublic,
    ReportSummary,
    ReportUpdate,
)
from app.stances.models import StancePage
from app.stances.service import history_page

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[ReadAccess])


def _public(report: Report) -> ReportPublic:
    return ReportPublic.model_validate(report, from_attributes=True)


@router.get("", **read_page("list_reports", ReportPage))
def list_reports(
    session: ReadSession,
    paging: Paging,
    publisher_id: Annotated[
        Annotated[StorableStr, StringConstraints(max_length=40)] | None,
        Query(description="Reports published by this source."),
    ] = None,
    url: Annotated[
        Annotated[StorableStr, StringConstraints(max_length=2048)] | None,
        Query(description="The report with exactly this url."),
    ] = None,
) -> ReportPage:
    """List reports, newest `published_at` first and undated ones last; without their text."""
    rows, next_cursor = service.list_reports(
        session=session,
        publisher_id=publisher_id,
        url=url,
        window=paging,
    )
    items = [ReportSummary.model_validate(row, from_attributes=True) for row in rows]
    return paging.page(ReportPage, items, next_cursor)


@router.post("", **create_one("create_report", ReportPublic, 409))
def create_report(
    data: ReportCreate, response: Response, session: WriteSession, _key: WriteKey
) -> ReportPublic:
    """Record a report. A second report with the same url is 409 naming the first."""
    report = service.create_report(session=session, data=data)
    response.headers["Location"] = f"/reports/{report.id}"
    return _public(report)


@router.get("/{report_id}", **read_one("get_report", ReportPublic))
def get_report(
    report_id: str, response: Response, session: ReadSession, if_none_match: IfNoneMatch = None
) -> ReportPublic | Response:
    """One report, with its full text."""
    return respond(
        response, _public(service.get_report(session=session, report_id=report_id)), if_none_match
    )


ReportUnchanged = Annotated[None, unchanged(service.get_report, _public, "report_id")]


@router.patch("/{report_id}", **update_one("update_report", ReportPublic, 409))
def update_report(
    report_id: str,
    data: ReportUpdate,
    response: Response,
    session: WriteSession,
    _key: WriteKey,
    _unchanged: ReportUnchanged,
) -> ReportPublic:
    """Change a report. A new text re-checks the quote of every stance citing it, in the
    same transaction. With `If-Match`, only if the report is still as you read it."""
    report = service.update_report(session=session, report_id=report_id, data=data)
    return tagged(response, _public(report))


@router.delete("/{report_id}", **delete_one("delete_report", 409))
def delete_report(
    report_id: str, session: WriteSession, _key: WriteKey, _unchanged: ReportUnchanged
) -> None:
    """Delete a report no stance cites; while stances cite it, 409 says how many. With
    `If-Match`, only if the report is still as you read it."""
    service.delete_report(session=session, report_id=report_id)


@router.get("/{report_id}/stances", **read_page("list_report_stances", StancePage, 404))
def list_report_stances(report_id: str, session: ReadSession, paging: Paging) -> StancePage:
    """The stances known through this report, newest first."""
    report = service.get_report(session=session, report_id=report_id)
    return history_page(session=session, paging=paging, report_id=report.id)
