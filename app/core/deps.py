"""Dependency aliases shared by the routes."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from app.core.db import read_session, write_session

# Async generators, so FastAPI enters and leaves them on the event loop: a sync generator
# dependency costs two thread-pool hops per request (bench/NOTES.md). Opening a Session
# does no I/O; closing one returns its connection to the pool, a short call on any engine.


async def _read_session(request: Request) -> AsyncIterator[Session]:
    with read_session(request.app.state.engine) as session:
        yield session


async def _write_session(request: Request) -> AsyncIterator[Session]:
    with write_session(request.app.state.engine) as session:
        yield session


ReadSession = Annotated[Session, Depends(_read_session)]
WriteSession = Annotated[Session, Depends(_write_session)]
