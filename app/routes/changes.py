"""/changes: the feed a sync job follows, deletions included."""

from fastapi import APIRouter, Request, Response

from app.auth import ReadAccess
from app.changes import ChangePage, list_changes
from app.deps import ReadSession
from app.errors import problem_responses
from app.pagination import DEFAULT_LIMIT, next_link
from app.routes.claims import Cursor, Limit

router = APIRouter(prefix="/changes", tags=["sync"], dependencies=[ReadAccess])


@router.get(
    "",
    operation_id="list_changes",
    response_model=ChangePage,
    responses=problem_responses(401, 403, 422),
)
def list_changes_route(
    request: Request,
    response: Response,
    session: ReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ChangePage:
    """Every claim and source that changed after `cursor` (from the beginning without one),
    oldest change first, each once with its current state, or as a tombstone if deleted.
    Store `sync_cursor` and pass it back later to get only what changed since."""
    items, next_cursor, sync_cursor = list_changes(session=session, cursor=cursor, limit=limit)
    response.headers.update(next_link(request, next_cursor))
    return ChangePage(items=items, next_cursor=next_cursor, sync_cursor=sync_cursor)
