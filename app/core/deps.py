"""Dependency aliases shared by the routes."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from app.core.db import read_session, write_session


def _read_session(request: Request) -> Iterator[Session]:
    yield from read_session(request.app.state.engine)


def _write_session(request: Request) -> Iterator[Session]:
    yield from write_session(request.app.state.engine)


ReadSession = Annotated[Session, Depends(_read_session)]
WriteSession = Annotated[Session, Depends(_write_session)]
