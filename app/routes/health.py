"""Liveness with a database round trip."""

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from app.deps import ReadSession
from app.errors import problem_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str


@router.get(
    "/healthz", operation_id="get_health", response_model=Health, responses=problem_responses(503)
)
def get_health(session: ReadSession) -> Health:
    """200 when the service and its database answer."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return Health(status="ok", database=session.get_bind().dialect.name)
