"""What each kind of operation declares in its route decorator: its operation id, response
model, status code and the answers the OpenAPI document lists for it, kept here once so
that every conditional GET of one resource (every PATCH, every DELETE, every page of a
list) documents the same answers.

Spread into the decorator, with the problem statuses the operation adds to its kind's:

    @router.patch("/{source_id}", **update_one("update_source", SourcePublic, 409))
"""

from typing import Any

from fastapi import status

from app.core.errors import problem_responses
from app.http.conditional import read_responses, write_responses

Declaration = dict[str, Any]

# Any key-guarded operation: no key when one is needed (401), or a key without the scope (403).
_GUARDED = (401, 403)
# Any operation with a request body: too large (413), or not what its model accepts (422).
_WITH_BODY = (413, 422)


def operation(operation_id: str, model: type | None, *problems: int) -> Declaration:
    """Any operation: the guard's problems and its own."""
    declared: Declaration = {
        "operation_id": operation_id,
        "responses": problem_responses(*_GUARDED, *problems),
    }
    if model is not None:
        declared["response_model"] = model
    return declared


def read_page(operation_id: str, page: type, *problems: int) -> Declaration:
    """GET of a list's page; a filter or cursor it cannot read is 422."""
    return operation(operation_id, page, *problems, 422)


def create_one(operation_id: str, model: type, *problems: int) -> Declaration:
    """POST that creates a resource: 201 with its Location."""
    created = operation(operation_id, model, *problems, *_WITH_BODY)
    return {**created, "status_code": status.HTTP_201_CREATED}


def read_one(operation_id: str, model: type, *problems: int) -> Declaration:
    """Conditional GET of one resource: its ETag, 304 for If-None-Match, 404."""
    declared = operation(operation_id, model, 404, *problems)
    declared["responses"].update(read_responses())
    return declared


def update_one(operation_id: str, model: type, *problems: int) -> Declaration:
    """Conditional PATCH of one resource: 404, 412 for If-Match, its new ETag."""
    declared = operation(operation_id, model, 404, *problems, *_WITH_BODY)
    declared["responses"].update(write_responses())
    return declared


def put_one(operation_id: str, model: type, *problems: int) -> Declaration:
    """Conditional PUT that creates or replaces one resource: as update_one, and 201 with
    its Location when it creates."""
    declared = update_one(operation_id, model, *problems)
    declared["responses"][status.HTTP_201_CREATED] = {"model": model, "description": "Created"}
    return declared


def delete_one(operation_id: str, *problems: int) -> Declaration:
    """Conditional DELETE of one resource: 204, 404, 412 for If-Match."""
    declared = operation(operation_id, None, 404, *problems)
    declared["responses"].update(write_responses(returns_body=False))
    return {**declared, "status_code": status.HTTP_204_NO_CONTENT}
