"""The answer to an idempotent write, recorded in the write's own transaction.

The middleware claims the key in a transaction of its own and records the answer in
another after the route has run. A crash between the route's commit and that second record
left a committed write without its answer, and a retry after the lease ran the write again:
a duplicate. As in "Implementing Stripe-like Idempotency Keys in Postgres", the write and its
answer now commit together: a route that writes calls `record_answer` on its connection
just before its commit, so either both are there or neither is.

The UPDATE also checks that this request still holds the key's lease. When a retry took
the key over meanwhile (the lease ran out), the write is refused and rolled back, so a
lease shorter than a slow request can delay an answer but never duplicate a write.
"""

from typing import Any

from sqlalchemy import Connection, CursorResult, update
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from app.core.errors import Conflict
from app.http.idempotency.models import IdempotencyKey
from app.http.idempotency.store import Proceed, answer_columns, held

_STATE_KEY = "idempotency_claim"


class LeaseLost(Conflict):
    slug = "idempotency-key-in-use"


def hand_to_route(scope: Scope, claimed: Proceed) -> None:
    """Called by the middleware: the route of this request may record its answer."""
    scope.setdefault("state", {})[_STATE_KEY] = claimed


def record_answer(
    conn: Connection | Session,
    request: Request,
    *,
    status_code: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    """Record the answer of this request's Idempotency-Key in the transaction of `conn`,
    before its commit. Does nothing for a request without one."""
    claimed: Proceed | None = request.scope.get("state", {}).get(_STATE_KEY)
    if claimed is None:
        return
    lowered = {name.lower(): value for name, value in headers.items()}
    answer = answer_columns(status_code, lowered, body)
    recorded: CursorResult[Any] = conn.execute(  # type: ignore[assignment]
        update(IdempotencyKey).where(held(claimed)).values(**answer)
    )
    if recorded.rowcount != 1:
        raise LeaseLost(
            "This request's Idempotency-Key was taken over by a retry; "
            "retry after Retry-After seconds to get its answer.",
            headers={"Retry-After": "1"},
        )


def answer_in_transaction(conn: Connection | Session, request: Request, response: Response) -> None:
    """record_answer for a response the route has built (status, headers and body)."""
    record_answer(
        conn,
        request,
        status_code=response.status_code,
        headers=dict(response.headers),
        body=bytes(response.body),
    )
