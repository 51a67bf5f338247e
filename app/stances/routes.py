"""A claim's stances (/claims/{claim_id}/stances) and what a source has said
(/sources/{source_id}/stances)."""

from datetime import datetime
from functools import partial

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import Connection, Engine

from app.claims.service import get_claim
from app.core.auth import ReadAccess, WriteKey
from app.core.db import read_session, run_read
from app.core.deps import ReadSession
from app.core.group_commit import GroupCommit
from app.core.pagination import Paging
from app.http.conditional import IfNoneMatch, represented, respond
from app.http.idempotency.in_transaction import answer_in_transaction
from app.http.operation_kinds import create_one, read_one, read_page
from app.sources.service import get_source
from app.stances import service
from app.stances.models import KnownAt, StanceCreate, StancePage, StancePublic, Timeline
from app.stances.writes import record_stance

claim_stances = APIRouter(prefix="/claims", tags=["claims"], dependencies=[ReadAccess])
source_stances = APIRouter(prefix="/sources", tags=["sources"], dependencies=[ReadAccess])


@claim_stances.get("/{claim_id}/stances", **read_page("list_claim_stances", StancePage, 404))
def list_claim_stances(claim_id: str, session: ReadSession, paging: Paging) -> StancePage:
    """Every stance ever recorded on the claim, newest first; `current` marks the live ones."""
    claim = get_claim(session=session, claim_id=claim_id)
    return service.history_page(session=session, paging=paging, claim_id=claim.id)


@claim_stances.post("/{claim_id}/stances", **create_one("create_stance", StancePublic, 404))
async def create_stance(
    claim_id: str, data: StanceCreate, request: Request, _key: WriteKey
) -> Response:
    """Record that a source asserts or denies the claim. A newer stance of the same source
    supersedes its older one; the claim's status and counts change in the same transaction."""
    # On SQLite, queued for the writer thread, which commits the stances queued meanwhile
    # together (app/core/group_commit.py); answered once that commit is done.
    writer: GroupCommit = request.app.state.stance_writer
    return await writer.run(partial(_record, claim_id, data, request))


def _record(claim_id: str, data: StanceCreate, request: Request, conn: Connection) -> Response:
    recorded = record_stance(conn, claim_id=claim_id, data=data)
    # The bytes FastAPI would render from the StancePublic, serialized once (the outbox
    # event got the same), and recorded with the stance for a retry of its key.
    response = Response(
        recorded.body, status_code=status.HTTP_201_CREATED, media_type="application/json"
    )
    stance = recorded.stance
    response.headers["Location"] = f"/claims/{stance.claim_id}/stances/{stance.id}"
    answer_in_transaction(conn, request, response)
    return response


@claim_stances.get("/{claim_id}/timeline", **read_one("get_claim_timeline", Timeline, 422))
async def get_claim_timeline(
    claim_id: str,
    request: Request,
    known_at: KnownAt = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The claim's status periods in stated time, oldest first, each with the stance that
    began it; `to` is null for the period that holds now."""
    return await run_read(
        request.app.state.engine, _timeline_response, claim_id, known_at, if_none_match
    )


def _timeline_response(
    engine: Engine, claim_id: str, known_at: datetime | None, if_none_match: str | None
) -> Response:
    # A replay of one claim's history: its time grows with that claim's stances, not with
    # the archive, and its statements are under the loop's budget (run_read).
    with read_session(engine) as session:
        claim = get_claim(session=session, claim_id=claim_id)
        timeline = service.claim_timeline(session=session, claim_id=claim.id, known_at=known_at)  # type: ignore[arg-type]
    return represented(timeline, if_none_match)


@claim_stances.get("/{claim_id}/stances/{stance_id}", **read_one("get_stance", StancePublic))
def get_stance(
    claim_id: str,
    stance_id: str,
    response: Response,
    session: ReadSession,
    if_none_match: IfNoneMatch = None,
) -> StancePublic | Response:
    """One stance of the claim's history."""
    stance = service.stance_public(
        *service.get_stance(session=session, claim_id=claim_id, stance_id=stance_id)
    )
    return respond(response, stance, if_none_match)


@source_stances.get("/{source_id}/stances", **read_page("list_source_stances", StancePage, 404))
def list_source_stances(source_id: str, session: ReadSession, paging: Paging) -> StancePage:
    """What this source has said, on every claim, newest first."""
    source = get_source(session=session, source_id=source_id)
    return service.history_page(session=session, paging=paging, source_id=source.id)
