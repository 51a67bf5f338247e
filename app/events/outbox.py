"""The transactional outbox: services record events in the same transaction as the change.

`emit` only adds a row to the session; it commits with the change or rolls back with it,
so no event is lost if the process dies between the commit and the send, and no event is
sent for a change that did not happen. The webhook sender (app/webhooks/sender.py) turns
committed events into deliveries.
"""

from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python
from sqlmodel import Session

from app.claims.models import Claim, ClaimPublic
from app.core.db import utcnow
from app.events.models import Event, EventType

__all__ = [
    "EventType",
    "claim_snapshot",
    "claim_snapshot_of",
    "emit",
    "emit_status_changed",
    "event_row",
]


def event_row(event_type: EventType | str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The outbox row of an event, for a Core insert into the event table in the change's
    transaction. `data` should carry the claim the event is about as `"claim":
    claim_snapshot(claim)`, so that subscription filters can apply."""
    return {
        "type": EventType(event_type).value,
        "data": to_jsonable_python(dict(data)),
        "created_at": utcnow(),
    }


def emit(session: Session, event_type: EventType | str, data: Mapping[str, Any]) -> Event:
    """Add an event to the session's transaction (see event_row)."""
    event = Event(**event_row(event_type, data))
    session.add(event)
    return event


def claim_snapshot(claim: Claim) -> dict[str, Any]:
    """The claim as the API shows it in lists, as JSON values."""
    return ClaimPublic.model_validate(claim, from_attributes=True).model_dump(mode="json")


def claim_snapshot_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """claim_snapshot of a claim row's values."""
    return ClaimPublic.model_validate(row).model_dump(mode="json")


def emit_status_changed(session: Session, *, claim: Claim, old_status: str) -> None:
    """claim.status_changed, when the claim's status is no longer `old_status`."""
    if claim.status != old_status:
        emit(
            session,
            EventType.claim_status_changed,
            {
                "claim": claim_snapshot(claim),
                "old_status": old_status,
                "new_status": claim.status,
            },
        )
