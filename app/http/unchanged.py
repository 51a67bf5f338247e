"""If-Match for a resource kept the usual way: its service getter takes `for_update` and
locks the row, and the route's presenter makes the representation GET shows."""

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import Session

from app.http.conditional import if_match

Row = TypeVar("Row")


def unchanged(get: Callable[..., Row], present: Callable[[Row], BaseModel], id_param: str) -> Any:
    """The `if_match` dependency (app/http/conditional.py) for a resource that
    `get(session=..., <id_param>=..., for_update=True)` fetches, its row locked for the
    write that follows, and `present` shows as GET does."""

    def current(session: Session, resource_id: str) -> BaseModel:
        return present(get(session=session, for_update=True, **{id_param: resource_id}))

    return if_match(current, id_param)
