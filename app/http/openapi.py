"""The OpenAPI document, tidied for SDK generators: every error is problem+json only."""

from enum import StrEnum
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from app.claims.filters import ClaimSort
from app.core.auth import SCOPE_RANK, Scope, read_guard
from app.core.config import Settings
from app.core.errors import PROBLEM_MEDIA_TYPE, problem_responses
from app.http.idempotency.openapi import document_idempotency_key

# Any operation can meet these: the rate limit, and a database that is down.
UNIVERSAL_ERRORS = (429, 503)
UNLIMITED_PATHS = ("/healthz", "/readyz")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Enums whose values are not identifiers ("-updated_at"): without x-enum-varnames an SDK
# generator names their members VALUE_0, VALUE_2; with it, NEWEST_UPDATED.
NAMED_ENUMS: tuple[type[StrEnum], ...] = (ClaimSort,)


# Summaries are the operation ids in plain English ("List changes"), not FastAPI's title-cased
# function names ("List Changes Route"): one mechanism, this table over the derived ones.
SUMMARIES = {
    "import_bulk": "Import in bulk",
    "put_verdict": "Write verdict",
    "delete_verdict": "Withdraw verdict",
}
PROPER_WORDS = {"claimreview": "ClaimReview"}


def operation_summary(operation_id: str) -> str:
    """The English summary of an operation, from its snake_case operation id."""
    if operation_id in SUMMARIES:
        return SUMMARIES[operation_id]
    words = [PROPER_WORDS.get(word, word) for word in operation_id.split("_")]
    return " ".join([words[0].capitalize(), *words[1:]])


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            settings: Settings = app.state.settings
            scopes = _required_scopes(app)
            _name_required_scopes(schema, scopes)
            if not settings.require_key_for_reads:
                _make_key_optional(schema, {op for op, scope in scopes.items() if scope is None})
            _add_links(schema)
            app.openapi_schema = _tidy(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# OpenAPI links: what a client (or a schema-driven test) can do next with what it created.
_CLAIM = {"claim_id": "$response.body#/id"}
_SOURCE = {"source_id": "$response.body#/id"}
LINKS: dict[str, dict[str, dict[str, str]]] = {
    "create_claim": {
        "get_claim": _CLAIM,
        "update_claim": _CLAIM,
        "delete_claim": _CLAIM,
        "create_stance": _CLAIM,
        "list_claim_stances": _CLAIM,
    },
    "create_source": {
        "get_source": _SOURCE,
        "update_source": _SOURCE,
        "delete_source": _SOURCE,
        "list_source_stances": _SOURCE,
    },
    "create_stance": {
        "get_stance": {"claim_id": "$response.body#/claim_id", "stance_id": "$response.body#/id"},
        "get_claim": {"claim_id": "$response.body#/claim_id"},
    },
}


def _add_links(schema: dict[str, Any]) -> None:
    known = {op.get("operationId") for ops in schema["paths"].values() for op in ops.values()}
    for operations in schema["paths"].values():
        for operation in operations.values():
            links = LINKS.get(operation.get("operationId", ""), {})
            success = operation["responses"].get("201")
            if success is None:
                continue
            for target, parameters in links.items():
                if target in known:
                    success.setdefault("links", {})[target] = {
                        "operationId": target,
                        "parameters": parameters,
                    }


def _calls(dependant: Dependant) -> list[Any]:
    found = [dependant.call]
    for sub in dependant.dependencies:
        found += _calls(sub)
    return found


def _required_scopes(app: FastAPI) -> dict[tuple[str, str], Scope | None]:
    """(path, method) -> the scope a key needs, for every guarded operation; None for the
    reads guarded only by read_guard (open unless CLAIMS_REQUIRE_KEY_FOR_READS is set)."""
    found: dict[tuple[str, str], Scope | None] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        calls = _calls(route.dependant)
        needed = [c.required_scope for c in calls if hasattr(c, "required_scope")]
        if needed or read_guard in calls:
            scope = max(needed, key=SCOPE_RANK.__getitem__) if needed else None
            for method in route.methods or ():
                found[(route.path_format, method.lower())] = scope
    return found


def _name_required_scopes(
    schema: dict[str, Any], scopes: dict[tuple[str, str], Scope | None]
) -> None:
    # `x-required-scope`: what a key must carry (read, write, admin), so that clients, the
    # docs and tests/core/test_access.py read it from the document rather than from a list.
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if (path, method) in scopes:
                operation["x-required-scope"] = str(scopes[(path, method)] or Scope.read)


def _make_key_optional(schema: dict[str, Any], open_reads: set[tuple[str, str]]) -> None:
    # An empty requirement object is OpenAPI's "or no credentials at all".
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if (path, method) in open_reads and operation.get("security"):
                operation["security"] = [*operation["security"], {}]


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    document_idempotency_key(schema)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            operation["summary"] = operation_summary(operation["operationId"])
            responses = operation["responses"]
            if "requestBody" in operation:
                # A body that is not UTF-8 JSON at all cannot be read: 400 (bad-request);
                # one of another media type than documented is 415 (app/http/limits.py).
                responses.setdefault("400", {"description": "Bad Request"})
                responses.setdefault("415", {"description": "Unsupported Media Type"})
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
