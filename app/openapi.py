"""The OpenAPI document, tidied for SDK generators: every error is problem+json only."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import PROBLEM_MEDIA_TYPE, problem_responses
from app.idempotency.openapi import document_idempotency_key

# Any operation can meet these: the rate limit, and a database that is down.
UNIVERSAL_ERRORS = (429, 503)
UNLIMITED_PATHS = ("/healthz", "/readyz")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _tidy(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    document_idempotency_key(schema)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            statuses = [s for s in UNIVERSAL_ERRORS if not (s == 429 and path in UNLIMITED_PATHS)]
            for status, declared in problem_responses(*statuses).items():
                responses.setdefault(str(status), {"description": declared["description"]})
            for status, response in responses.items():
                if status[0] in "45":
                    # FastAPI's own 422 (HTTPValidationError) is not what we send.
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
