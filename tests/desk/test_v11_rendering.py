"""The v1.1 fields (report_id, quote_found, status_since, reports) as the desk will show
them once the models carry them: rendered from models that have them, without a server."""

import re
from datetime import UTC, datetime

from app.claims.models import ClaimDetail
from app.desk import views
from app.desk.query import DeskQuery, Section
from app.desk.rendering import templates
from app.sources.models import SourceSummary
from app.stances.models import StancePublic

SAID = datetime(2024, 12, 5, 11, 21, tzinfo=UTC)


class StanceV11(StancePublic):
    report_id: str | None = None
    quote_found: bool | None = None


class ClaimV11(ClaimDetail):
    status_since: datetime | None = None


def _stance(stance_id: str, source: str, stance: str, **v11: object) -> StanceV11:
    return StanceV11(
        id=stance_id,
        claim_id="1",
        source_id=stance_id,
        stance=stance,
        stated_at=SAID,
        url=None,
        quote=f"quote {stance_id}",
        reported_via=None,
        note=None,
        current=True,
        created_at=SAID,
        source=SourceSummary(id=stance_id, name=source, kind="state_media", affiliation=None),
        **v11,
    )


def _claim(stances: list[StancePublic]) -> ClaimV11:
    return ClaimV11(
        id="1",
        text="Syrian insurgents entered the city of Hama.",
        language="en",
        place="Hama",
        occurred_at=None,
        tags=[],
        status="disputed",
        asserting_sources=1,
        denying_sources=1,
        created_at=SAID,
        updated_at=SAID,
        status_explanation="disputed: because; known through 1 report",
        stances=stances,
        status_since=SAID,
    )


def test_quote_found_and_report_links_in_the_history() -> None:
    stances: list[StancePublic] = [
        _stance("1", "Syrian state media", "denies", report_id="7", quote_found=False),
        _stance("2", "Hayat Tahrir al-Sham", "asserts", report_id="7", quote_found=True),
        _stance("3", "A monitor", "asserts"),
    ]
    claim = _claim(stances)
    page = views.ClaimPage(
        claim=claim,
        camps=views.camps_of(claim.stances),
        status_since=views.status_since_of(claim),
        history=[views._history_row(s) for s in stances],
        history_truncated=False,
        timeline=[],
        verdict=None,
        as_of=None,
        now=SAID,
    )
    html = templates.get_template("claim.html").render(page=page)
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr ")[1:]
    assert ['class="quote-missing"' in r for r in rows] == [True, False, False]
    assert ['class="quote-found"' in r for r in rows] == [False, True, False]
    assert [re.findall(r'href="(/desk/reports/\d+)"', r) for r in rows] == [
        ["/desk/reports/7"],
        ["/desk/reports/7"],
        [],
    ]
    assert 'since <time datetime="2024-12-05T11:21:00Z">' in html


def test_status_since_and_reports_on_the_desk() -> None:
    stances: list[StancePublic] = [
        _stance("1", "Syrian state media", "denies", report_id="7"),
        _stance("2", "Hayat Tahrir al-Sham", "asserts", report_id="7"),
    ]
    claim = _claim(stances)
    item = views.DeskClaim(
        claim=claim,
        section=Section.disputed,
        camps=views.camps_of(stances),
        reports=views.reports_of(stances),
        status_since=views.status_since_of(claim),
        latest_stated=SAID,
    )
    page = views.DeskPage([item], None, None, more=False)
    html = templates.get_template("desk.html").render(page=page, query=DeskQuery())
    assert 'since <time datetime="2024-12-05T11:21:00Z">' in html
    assert re.findall(r'<a class="report" href="([^"]+)">', html) == ["/desk/reports/7"]


def test_report_page_marks_each_quote() -> None:
    stances = [
        _stance("1", "Syrian state media", "denies", report_id="7", quote_found=False),
        _stance("2", "Hayat Tahrir al-Sham", "asserts", report_id="7", quote_found=True),
        _stance("3", "A monitor", "asserts", report_id="7"),
    ]
    report = {
        "id": "7",
        "url": "https://example.org/hama",
        "title": "<b>Insurgents</b> enter Hama",
        "language": "en",
        "published_at": SAID,
        "publisher": {"id": "5", "name": "The Associated Press"},
    }
    found = views.ReportView(report=report, stances=[views._history_row(s) for s in stances])
    html = templates.get_template("report.html").render(page=found)
    assert "&lt;b&gt;Insurgents&lt;/b&gt; enter Hama" in html and "<b>" not in html
    cells = re.findall(r'data-label="In the text\?"><span class="(quote-\w+)"', html)
    assert cells == ["quote-missing", "quote-found", "quote-unknown"]
    assert "3 stances cite it" in html
