"""A request the server cannot parse (raw non-ASCII in the URL) is still problem+json.

uvicorn answers it before the app sees it; `serve` gives uvicorn the protocol of
app/http/protocol.py, and this test speaks raw HTTP to a real `claims-api serve`.
"""

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.http.context import SECURITY_HEADERS
from tests.server import HOST, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("unparsable")
    running = Server(f"sqlite:///{directory / 'claims.db'}", directory / "server.log")
    yield running
    running.stop()


def raw_exchange(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return status, {k.lower(): v for k, v in headers.items()}, body


def test_raw_non_ascii_in_the_url_is_a_problem_400(server: Server) -> None:
    request = "GET /claims?q=حماة HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    status, headers, body = raw_exchange(server.port, request)
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json"
    assert {k: headers[k.lower()] for k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert json.loads(body) == {
        "type": "/problems/bad-request",
        "title": "Bad Request",
        "status": 400,
        "detail": "The request line or headers could not be parsed. A URL must be ASCII: "
        "percent-encode anything else (for example curl --get --data-urlencode 'q=...').",
    }


def test_the_same_search_percent_encoded_is_answered(server: Server) -> None:
    request = (
        b"GET /claims?q=%D8%AD%D9%85%D8%A7%D8%A9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    status, _, body = raw_exchange(server.port, request)
    assert status == "HTTP/1.1 200 OK"
    assert json.loads(body) == {"items": [], "next_cursor": None}
