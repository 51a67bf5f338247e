"""A query string validated by one pydantic model in one call.

FastAPI reads a query model field by field through its generic parameter machinery, which
costs more than the validation itself on a list route (bench/NOTES.md). This reads the
query string once: repeated names become lists for the model's list fields, any other name
takes its last value (as FastAPI does), and errors are FastAPI's own 422 with `query` first
in each location, so clients see the same problem+json either way.
"""

import types
import typing
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

M = TypeVar("M", bound=BaseModel)


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return typing.get_origin(annotation) is list


def list_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, f in model.model_fields.items() if _is_list(f.annotation))


def validate_query(model: type[M], lists: frozenset[str], request: Request) -> M:
    """The request's query string as `model` (`lists` = list_fields(model), computed once)."""
    params = request.query_params
    data = {key: params.getlist(key) if key in lists else params[key] for key in params}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in errors]
        ) from None
