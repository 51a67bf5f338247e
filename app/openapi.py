"""The OpenAPI document, tidied for SDK generators: every error is problem+json only."""

from enum import StrEnum
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import PROBLEM_MEDIA_TYPE, problem_responses
from app.services.claims import ClaimSort

# Any operation can meet these: the rate limit, and a database that is down.
UNIVERSAL_ERRORS = (429, 503)
UNLIMITED_PATHS = ("/healthz", "/readyz")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Enums whose values are not identifiers ("-updated_at"): without x-enum-varnames an SDK
# generator names their members VALUE_0, VALUE_2; with it, NEWEST_UPDATED.
NAMED_ENUMS: tuple[type[StrEnum], ...] = (ClaimSort,)


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
    for enum in NAMED_ENUMS:
        if enum.__name__ in components:
            enum_schema = components[enum.__name__]
            enum_schema["x-enum-varnames"] = [enum(v).name.upper() for v in enum_schema["enum"]]
    return schema
