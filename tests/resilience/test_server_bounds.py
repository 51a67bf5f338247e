"""Issue 13, hole 5: the bounds `claims-api serve` puts on each connection, against the real
server on a free loopback port, with raw sockets (app/http/protocol.py): a head too large
is 431, a head too slow or a connection idle is closed, and connections past the limit are
answered 503 at once, so the process keeps its descriptors and /healthz answers.

Every loop is bounded in count, every socket has a timeout, and all traffic is 127.0.0.1.
"""

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import HOST, Server, started_servers

MAX_HEADER_BYTES = 8192
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path / 'bounds.db'}"
    with started_servers(tmp_path) as start:

        def start_bounded(**extra: str) -> Server:
            return start(url, **{"CLAIMS_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES), **extra})

        yield start_bounded


def connect(server: Server, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection((HOST, server.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one answer on the socket, read until it closes."""
    data = b""
    for _ in range(1000):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            if not data:
                raise
            break  # the answer is in; the close that followed was abrupt
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def send_quietly(sock: socket.socket, data: bytes, chunk: int = 4096) -> None:
    """Send what the server takes; it may close the connection before the end."""
    try:
        for start in range(0, len(data), chunk):
            sock.sendall(data[start : start + chunk])
    except (BrokenPipeError, ConnectionResetError):
        pass


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_head_over_the_limit_is_431_and_one_within_it_is_served(serve: Any) -> None:
    server = serve()
    with connect(server) as sock:
        sock.sendall(HEAD + b"X-Padding: " + b"a" * (MAX_HEADER_BYTES // 2) + b"\r\n\r\n")
        status, _, _ = read_answer_one(sock)
        assert status == 200
    for head in (
        HEAD + b"X-Padding: " + b"a" * (2 * MAX_HEADER_BYTES) + b"\r\n\r\n",
        HEAD + b"X-Never-Ends: " + b"a" * (64 * MAX_HEADER_BYTES),  # no end of head at all
    ):
        with connect(server) as sock:
            send_quietly(sock, head)
            status, headers, body = read_answer(sock)
            assert (status, headers["content-type"]) == (431, "application/problem+json")
            assert json.loads(body)["type"] == "/problems/header-too-large"
    assert httpx.get(server.base_url + "/healthz", timeout=5).status_code == 200


def read_answer_one(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The first answer on a kept-alive connection (read up to its Content-Length)."""
    data = b""
    for _ in range(1000):
        if b"\r\n\r\n" in data:
            head, _, body = data.partition(b"\r\n\r\n")
            headers = dict(
                line.lower().split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:]
            )
            if len(body) >= int(headers.get("content-length", "0")):
                return int(head.split()[1]), headers, body
        data += sock.recv(65536)
    pytest.fail("no complete answer")


def test_an_idle_connection_and_a_slow_head_are_closed(serve: Any) -> None:
    server = serve(CLAIMS_HEADER_TIMEOUT_SECONDS="1", CLAIMS_KEEP_ALIVE_SECONDS="1")
    with connect(server) as idle:
        assert closed_by_server(idle)  # never sent a byte
    with connect(server) as slow:
        slow.sendall(HEAD)
        closed = False
        for _ in range(50):  # a byte every 0.2 s: the head would take 10 s or more
            try:
                slow.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.2)
        assert closed or closed_by_server(slow)
    with connect(server) as kept_alive:
        kept_alive.sendall(HEAD + b"\r\n")
        assert read_answer_one(kept_alive)[0] == 200
        assert closed_by_server(kept_alive)  # idle after its answer


def test_connections_past_the_limit_are_503_and_the_probe_answers_after(serve: Any) -> None:
    server = serve(CLAIMS_MAX_CONNECTIONS="20", CLAIMS_HEADER_TIMEOUT_SECONDS="3")
    idle = [connect(server) for _ in range(20)]
    try:
        with connect(server) as extra:
            status, headers, body = read_answer(extra)
        assert (status, headers["content-type"], headers["retry-after"]) == (
            503,
            "application/problem+json",
            "1",
        )
        assert json.loads(body)["status"] == 503
        assert all(closed_by_server(sock) for sock in idle)  # after the header timeout
    finally:
        for sock in idle:
            sock.close()
    assert httpx.get(server.base_url + "/healthz", timeout=5).status_code == 200
