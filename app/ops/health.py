"""Liveness with a database round trip."""

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import inspect, text

from app.core.deps import ReadSession
from app.core.errors import ServiceUnavailable, problem_responses

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


class Readiness(BaseModel):
    status: str
    database: str
    migration: str


@router.get(
    "/readyz",
    operation_id="get_readiness",
    response_model=Readiness,
    responses=problem_responses(503),
)
def get_readiness(request: Request, session: ReadSession) -> Readiness:
    """200 when the database answers and its schema is at the code's latest migration."""
    # Asked of the catalogue first: on PostgreSQL a query on a missing table is an error
    # (500), where a database never migrated is simply not ready (503).
    connection = session.connection()
    version = None
    if inspect(connection).has_table("alembic_version"):
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    head = request.app.state.migration_head
    if version != head:
        raise ServiceUnavailable(
            f"The database schema is at {version}, the code needs {head}; run `claims-api migrate`."
        )
    return Readiness(status="ready", database=session.get_bind().dialect.name, migration=version)
