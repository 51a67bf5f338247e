"""OpenAPI: the optional Idempotency-Key header on every POST operation, so that generated
SDKs expose it, with the answers it can give (409 in flight, 422 reused)."""

from typing import Any

from app.http.idempotency.middleware import (
    HEADER,
    MAX_KEY_LENGTH,
    READ_ONLY_POSTS,
    REPLAYED_HEADER,
)
from app.http.idempotency.store import KEY_TTL

KEY_HOURS = int(KEY_TTL.total_seconds() // 3600)
PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: a unique value (a UUID) per intended operation. Sent again "
        f"within {KEY_HOURS} h with the same request, it replays the first answer "
        f"(`{REPLAYED_HEADER}: true`) without doing anything again; with another request "
        "it is 422; while the first is still running, 409 with Retry-After. Keys are "
        "scoped to your API key. See docs/retries.md."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[ -~]+$",
        "examples": ["6f1c1c7e-4c1b-4a36-9d8e-2b7f4c1d9a10"],
    },
}
REPLAYED = {
    REPLAYED_HEADER: {
        "description": "`true` when this is the recorded answer to an earlier request "
        "with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def document_idempotency_key(schema: dict[str, Any]) -> None:
    """Add the header parameter, its 409 and 422 and the replay header to every POST."""
    for path, operations in schema["paths"].items():
        operation = operations.get("post")
        if operation is None or path in READ_ONLY_POSTS:
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == HEADER for p in parameters):
            parameters.append(PARAMETER)
        responses = operation["responses"]
        responses.setdefault("409", {"description": "Conflict"})
        responses.setdefault("422", {"description": "Unprocessable Content"})
        for status, response in responses.items():
            if status[0] == "2":
                response.setdefault("headers", {}).update(REPLAYED)
