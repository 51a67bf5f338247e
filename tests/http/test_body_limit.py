"""Issue 13, hole 6: a chunked body (no Content-Length) over CLAIMS_MAX_BODY_BYTES is 413
problem+json on every operation that takes a JSON body, as a declared one is; it was 400
everywhere but /bulk and requests with an Idempotency-Key."""

import re
from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.state import dump


def chunked(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON-looking body sent in chunks: httpx sends an iterator chunked."""
    yield b'{"text": "'
    for _ in range(total // chunk):
        yield b"x" * chunk
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_413_on_every_json_operation(
    app: FastAPI, client: TestClient, settings: Settings, admin: dict[str, str]
) -> None:
    before = dump(app.state.engine)
    checked = []
    for path, items in app.openapi()["paths"].items():
        for method, operation in items.items():
            if "application/json" not in operation.get("requestBody", {}).get("content", {}):
                continue
            url = re.sub(r"\{\w+\}", "1", path)
            # /reports takes the larger CLAIMS_MAX_REPORT_BODY_BYTES (a report's full text).
            limit = (
                settings.max_report_body_bytes
                if path.startswith("/reports")
                else settings.max_body_bytes
            )
            response = client.request(
                method,
                url,
                headers={**admin, "Content-Type": "application/json"},
                content=chunked(2 * limit),
            )
            label = (method, path)
            assert response.status_code == 413, (label, response.text)
            assert response.headers["content-type"] == "application/problem+json", label
            assert response.json()["type"] == "/problems/payload-too-large", label
            checked.append(label)
    assert {m for m, _ in checked} == {"post", "put", "patch"}
    assert dump(app.state.engine) == before
