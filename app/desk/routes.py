"""The desk: read-only HTML pages over the same services as the JSON API.

- `/`: the claims, contested first; `/desk/claims/{id}`, `/desk/sources/{id}` and
  `/desk/reports/{id}`: one of each. A separate path rather than content negotiation on
  `/claims/{id}`: the OpenAPI document and the response cache's keys stay as they are, and
  a link or a bookmark always opens the page.
- Unknown ids answer an HTML 404 page (a person is reading), other bad input the API's
  problem+json 422 (only a hand-edited URL can send it: the form offers valid values).
- With CLAIMS_REQUIRE_KEY_FOR_READS the desk is off: every desk path is a 404, as if it
  did not exist. Browsers cannot send the API's `Authorization: Bearer` key, and a cookie
  carrying it would be a second way in to guard; a closed deployment that wants a wall
  screen serves one behind its own proxy authentication.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy import Engine

from app.claims import service as claim_service
from app.claims.csv import CONTENT_TYPE as CSV_CONTENT_TYPE
from app.claims.csv import encode_claims
from app.claims.models import ClaimPublic
from app.core.config import Settings
from app.core.db import read_session, run_read
from app.core.deps import ReadSession
from app.core.errors import NotFound
from app.core.fields import in_utc
from app.desk import views
from app.desk.query import Cursor, DeskQuery
from app.desk.rendering import STATIC_DIR, render
from app.stances.rules import ClaimStatus
from app.verdicts.claimreview import JSONLD_MEDIA_TYPE
from app.verdicts.claimreview_import import claim_as_jsonld

STATIC_FILES = {"desk.css": "text/css", "favicon.svg": "image/svg+xml"}


def desk_open(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.require_key_for_reads:
        raise NotFound("Nothing is at this path.")


router = APIRouter(dependencies=[Depends(desk_open)])


def _form_time(value: object) -> object:
    # <input type="datetime-local"> sends "2024-12-05T11:21", no zone: the desk means UTC.
    if isinstance(value, str) and len(value) in (16, 19) and value[10:11] == "T":
        return value + ("Z" if len(value) == 19 else ":00Z")
    return None if value == "" else value


def _in_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else in_utc(value)


AsOf = Annotated[
    datetime | None,
    BeforeValidator(_form_time),
    AfterValidator(_in_utc),
    Query(description="Show the claim as its sources had stated it by this moment (UTC)."),
]


def _page(request: Request, template: str, build: Callable[[], dict[str, Any]]) -> HTMLResponse:
    try:
        context = build()
    except NotFound as missing:
        return render(request, "not_found.html", {"detail": missing.detail}, status_code=404)
    return render(request, template, context)


@router.get("/", response_class=HTMLResponse)
async def desk(request: Request, query: Annotated[DeskQuery, Query()]) -> HTMLResponse:
    # On the event loop for SQLite (app.core.db.run_read), as the JSON list is.
    return await run_read(request.app.state.engine, _desk_page, request, query)


def _desk_page(engine: Engine, request: Request, query: DeskQuery) -> HTMLResponse:
    with read_session(engine) as session:
        page = views.desk_page(session=session, query=query)
        context = {"page": page, "query": query, "ClaimStatus": ClaimStatus}
        return render(request, "desk.html", context)


@router.get("/desk/claims/{claim_id}.csv")
def claim_csv(claim_id: str, session: ReadSession) -> Response:
    """The claim's row of GET /claims as CSV, for a spreadsheet."""
    claim = claim_service.get_claim(session=session, claim_id=claim_id)
    body = encode_claims([ClaimPublic.model_validate(claim, from_attributes=True)])
    disposition = f'attachment; filename="claim-{claim.id}.csv"'
    return Response(body, media_type=CSV_CONTENT_TYPE, headers={"Content-Disposition": disposition})


@router.get("/desk/claims/{claim_id}.jsonld")
def claim_jsonld(claim_id: str, request: Request, session: ReadSession) -> Response:
    """What GET /claims/{id} answers to `Accept: application/ld+json`, as a link can't ask."""
    claim = claim_service.get_claim(session=session, claim_id=claim_id)
    claim_url = str(request.url_for("get_claim", claim_id=str(claim.id)))
    body = claim_as_jsonld(session=session, claim=claim, claim_url=claim_url)
    return JSONResponse(body, media_type=JSONLD_MEDIA_TYPE)


@router.get("/desk/claims/{claim_id}", response_class=HTMLResponse)
async def claim(claim_id: str, request: Request, as_of: AsOf = None) -> HTMLResponse:
    # As of a time, the claim's history is replayed: in the pool (run_read's `long`).
    engine = request.app.state.engine
    return await run_read(engine, _claim_page, request, claim_id, as_of, long=as_of is not None)


def _claim_page(
    engine: Engine, request: Request, claim_id: str, as_of: datetime | None
) -> HTMLResponse:
    with read_session(engine) as session:
        return _page(
            request,
            "claim.html",
            lambda: {"page": views.claim_page(session=session, claim_id=claim_id, as_of=as_of)},
        )


@router.get("/desk/sources/{source_id}", response_class=HTMLResponse)
def source(
    source_id: str, request: Request, session: ReadSession, cursor: Cursor | None = None
) -> HTMLResponse:
    return _page(
        request,
        "source.html",
        lambda: {"page": views.source_page(session=session, source_id=source_id, cursor=cursor)},
    )


@router.get("/desk/reports/{report_id}", response_class=HTMLResponse)
def report(report_id: str, request: Request, session: ReadSession) -> HTMLResponse:
    def build() -> dict[str, Any]:
        found = views.find_report(session=session, report_id=report_id)
        if found is None:
            raise NotFound(f"No report has id '{report_id[:40]}'.")
        return {"page": found}

    return _page(request, "report.html", build)


@router.get("/desk/static/{name}")
def static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise NotFound(f"No desk asset '{name[:40]}'.")
    return FileResponse(
        STATIC_DIR / name,
        media_type=STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=3600"},
    )
