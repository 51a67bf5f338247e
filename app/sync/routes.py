"""POST /bulk and GET /export, claims-api NDJSON in and out (docs/bulk.md), and /changes,
the feed a sync job follows, deletions included (docs/sync.md)."""

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.core.auth import ReadAccess, WriteKey
from app.core.deps import ReadSession, WriteSession
from app.core.errors import AppError, problem_responses
from app.core.pagination import Paging
from app.http.response_cache import keep_out_of_cache
from app.sync.bulk.importer import MEDIA_TYPE, import_body
from app.sync.changes import ChangePage, list_changes, stops_at_running_transactions
from app.sync.export import export_lines

router = APIRouter(tags=["sync"])
changes_router = APIRouter(prefix="/changes", tags=["sync"], dependencies=[ReadAccess])

ACCEPTED_TYPES = (MEDIA_TYPE, "application/jsonl")
BULK_EXAMPLE = (
    '{"type": "source", "id": "s1", "name": "Syrian state media", "kind": "state_media", '
    '"affiliation": "Syrian government"}\n'
    '{"type": "claim", "id": "c1", "text": "Syrian insurgents entered the city of Hama.", '
    '"place": "Hama", "tags": ["syria"]}\n'
    '{"type": "stance", "id": "t1", "claim_id": "c1", "source_id": "s1", "stance": "denies", '
    '"stated_at": "2024-12-05T11:21:00Z"}\n'
)


class UnsupportedMediaType(AppError):
    status, slug = 415, "unsupported-media-type"


class BulkResult(BaseModel):
    lines: int = Field(description="Lines read, blank ones and the header included.")
    sources_created: int
    sources_matched: int = Field(
        description="Source lines whose name already existed (case-insensitive): reused as is."
    )
    reports_created: int = 0
    reports_matched: int = Field(
        default=0,
        description="Report lines whose url was already stored (compared as POST /reports "
        "does): reused as is.",
    )
    claims_created: int
    stances_created: int
    source_ids: dict[str, str] = Field(description="The file's source ids -> database ids.")
    report_ids: dict[str, str] = Field(
        default_factory=dict, description="The file's report ids -> database ids."
    )
    claim_ids: dict[str, str] = Field(description="The file's claim ids -> database ids.")


@router.post(
    "/bulk",
    operation_id="import_bulk",
    response_model=BulkResult,
    responses=problem_responses(401, 403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "claims-api NDJSON: one source, claim or stance a line (docs/bulk.md).",
            "content": {
                MEDIA_TYPE: {
                    "schema": {"type": "string"},
                    "example": BULK_EXAMPLE,
                }
            },
        }
    },
)
async def import_bulk(request: Request, session: WriteSession, _key: WriteKey) -> BulkResult:
    """Load sources, claims and stances from NDJSON in one transaction: a bad line is 422
    naming it, and nothing is written. Sources are matched by name; claims and stances are
    always created. Status, counts and `current` are derived as for single writes."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(f"Send the body as {MEDIA_TYPE} (one JSON object a line).")
    body = await request.body()
    importer = await run_in_threadpool(import_body, session=session, body=body)
    return BulkResult(
        # The counts by name; verdicts_written, which the answer does not carry, is ignored.
        **asdict(importer.counts),
        source_ids=_public_ids(importer.source_ids),
        report_ids=_public_ids(importer.reports.ids),
        claim_ids=_public_ids(importer.claim_ids),
    )


def _public_ids(ids: dict[str, int]) -> dict[str, str]:
    """The file's ids -> database ids, as public (string) ids."""
    return {label: str(pk) for label, pk in ids.items()}


@router.get(
    "/export",
    operation_id="export_all",
    dependencies=[ReadAccess],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every source, claim and stance, one JSON object a line.",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403),
    },
)
def export_all(request: Request) -> Any:
    """Stream the whole database as claims-api NDJSON: a header, then every source, claim
    and stance by id, from one consistent snapshot. `claims-api import` or `POST /bulk`
    read it back."""
    return StreamingResponse(
        export_lines(engine=request.app.state.engine),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="claims-api-export.ndjson"'},
    )


@changes_router.get(
    "",
    operation_id="list_changes",
    response_model=ChangePage,
    responses=problem_responses(401, 403, 422),
)
def list_changes_route(request: Request, session: ReadSession, paging: Paging) -> ChangePage:
    """Every claim and source that changed after `cursor` (from the beginning without one),
    oldest change first, each once with its current state, or as a tombstone if deleted.
    Store `sync_cursor` and pass it back later to get only what changed since."""
    if stops_at_running_transactions(session):
        keep_out_of_cache(request)  # no change to the data would drop its answer
    items, next_cursor, sync_cursor = list_changes(session=session, window=paging)
    return paging.page(ChangePage, items, next_cursor, sync_cursor=sync_cursor)
