"""One error shape: every 4xx/5xx is application/problem+json (RFC 9457)."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from app.core.paths import path_operations

log = logging.getLogger("claims_api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Relative type URIs resolve against the service itself, which documents each at /problems/{slug}.
PROBLEM_BASE = "/problems/"
PROBLEM_TYPES = {
    "bad-request": "The request could not be read (for example a malformed header).",
    "unauthorized": "No API key, or an unknown or revoked one. Send Authorization: Bearer <key>.",
    "forbidden": "The API key is valid but lacks the scope this operation needs.",
    "not-found": "No resource has this id, or there is nothing at this path.",
    "method-not-allowed": "The path exists but does not accept this HTTP method.",
    "conflict": "The request conflicts with the current state (a duplicate name, "
    "or deleting a source that still has stances).",
    "payload-too-large": "The request body is larger than CLAIMS_MAX_BODY_BYTES "
    "(CLAIMS_MAX_REPORT_BODY_BYTES for /reports).",
    "header-too-large": "The request's headers are larger than CLAIMS_MAX_HEADER_BYTES.",
    "unsupported-media-type": "The body's Content-Type is not one this operation takes "
    "(application/json, unless its documentation says otherwise).",
    "rate-limited": "Too many requests from this key or client; wait Retry-After seconds.",
    "validation-error": "A field, parameter or body is invalid; `errors` names each one.",
    "idempotency-key-in-use": "A request with this Idempotency-Key is still being processed; "
    "retry after Retry-After seconds to get its answer.",
    "idempotency-key-reused": "This Idempotency-Key was already used, within 24 hours, with "
    "another request (method, path, query or body); use a new key for a new request.",
    "precondition-failed": "If-Match does not match the resource's current ETag: it changed "
    "since you read it. Read it again, reapply your change, retry.",
    "service-unavailable": "The database cannot be reached right now; "
    "retry after Retry-After seconds.",
    "internal-error": "An unexpected failure; it is logged, and the request changed nothing.",
}


class FieldError(BaseModel):
    location: str = Field(examples=["body"], description="body, query, path or header")
    field: str = Field(examples=["text"], description="dotted path of the bad field")
    message: str = Field(examples=["String should have at least 1 character"])
    code: str = Field(examples=["string_too_short"])


class Problem(BaseModel):
    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No claim has id '42'."])
    instance: str | None = Field(default=None, examples=["/claims/42"])
    errors: list[FieldError] | None = None


class AppError(Exception):
    """An error with its HTTP status; raised by services, rendered by one handler."""

    status = 500
    slug = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers


class BadRequest(AppError):
    status, slug = 400, "bad-request"


class Unauthorized(AppError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="claims-api"'})


class Forbidden(AppError):
    status, slug = 403, "forbidden"


class NotFound(AppError):
    status, slug = 404, "not-found"


class Conflict(AppError):
    status, slug = 409, "conflict"


class PayloadTooLarge(AppError):
    status, slug = 413, "payload-too-large"


class ValidationFailed(AppError):
    status, slug = 422, "validation-error"

    @classmethod
    def on(
        cls, location: str, field: str, message: str, code: str = "invalid"
    ) -> "ValidationFailed":
        error = FieldError(location=location, field=field, message=message, code=code)
        return cls(f"{field}: {message}", errors=[error])


class ServiceUnavailable(AppError):
    status, slug = 503, "service-unavailable"


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    request: Request | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors is not None:
        body["errors"] = [error.model_dump() for error in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def database_unavailable(detail: str, *, request: Request | None = None) -> JSONResponse:
    """503 with `Retry-After: 1`: the database cannot be reached right now, and a retry
    shortly is the remedy."""
    return problem_response(
        503, "service-unavailable", detail, request=request, headers={"Retry-After": "1"}
    )


async def send_database_unavailable(
    detail: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """database_unavailable from ASGI middleware, which has no route to raise it from."""
    await database_unavailable(detail, request=Request(scope))(scope, receive, send)


def _json_syntax_error(error: dict[str, Any], document: object) -> FieldError:
    """FastAPI reports a JSON syntax error at loc ("body", <char offset>): say what is wrong
    and where, by line and column, rather than let the offset pose as a field name."""
    offset = next((part for part in error.get("loc", ())[1:] if isinstance(part, int)), 0)
    text = document if isinstance(document, str) else ""
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    reason = error.get("ctx", {}).get("error", "JSON decode error")
    return FieldError(
        location="body",
        field="body",
        message=f"not valid JSON: {reason} at line {line}, column {column}",
        code="json_invalid",
    )


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            errors.append(_json_syntax_error(error, exc.body))
            continue
        location, *path = [str(part) for part in error.get("loc", ())] or ["body"]
        errors.append(
            FieldError(
                location=location,
                field=".".join(path) or location,
                message=str(error.get("msg", "invalid")).removeprefix("Value error, "),
                code=str(error.get("type", "invalid")),
            )
        )
    return errors


_HTTP_SLUGS = {
    404: "not-found",
    405: "method-not-allowed",
    400: "bad-request",
    413: "payload-too-large",
}


def _unreadable_body(exc: StarletteHTTPException) -> str | None:
    """What made a body unreadable, for the 400 FastAPI raises from its parse error."""
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"The body is not valid UTF-8 (byte 0x{cause.object[cause.start]:02x} at offset "
            f"{cause.start}); JSON bodies must be UTF-8."
        )
    if isinstance(cause, RecursionError):
        return "The JSON body is nested too deeply to read."
    return None


def _allowed_methods(request: Request, fallback: str | None) -> str | None:
    """Every method the OpenAPI document gives this path: Starlette's own 405 names only
    the first route that matched the path, where RFC 9110 wants them all."""
    operations = path_operations(request.app, request.url.path)
    if operations is None:
        return fallback  # a path outside the document (the docs pages): Starlette's answer
    return ", ".join(sorted(method.upper() for method in operations))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def on_app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.slug,
            exc.detail,
            request=request,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem_response(
            422, "validation-error", f"Invalid request: {detail}", request=request, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _HTTP_SLUGS.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        detail = _unreadable_body(exc) or detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {request.url.path}."
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            allowed = _allowed_methods(request, headers.pop("Allow", headers.pop("allow", None)))
            if allowed is not None:
                headers["Allow"] = allowed
        return problem_response(exc.status_code, slug, detail, request=request, headers=headers)

    @app.exception_handler(OperationalError)
    async def on_database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return database_unavailable("The database is unavailable; retry shortly.", request=request)

    @app.exception_handler(DBAPIError)
    async def on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        log.error("database error: %s", exc.orig)
        return problem_response(
            500, "internal-error", "The server failed to finish the request.", request=request
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "internal-error", "The server failed to finish the request.", request=request
        )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the problem+json answers an operation can give."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
