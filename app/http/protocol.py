"""The HTTP/1.1 protocol `claims-api serve` runs: uvicorn's h11 protocol, with bounds, and
problem+json for what it refuses before the app sees a request.

uvicorn picks httptools when it is installed, and httptools has no limit on a request's
head: a 32 MB header got 200, and eight 64 MB headers never finished took 370 MiB. Nor does
uvicorn time out a connection before its first request, or a head sent a byte at a time
(its keep-alive timer stops at the first byte), so 300 idle connections ran the process out
of file descriptors. An ASGI guard cannot help: the app sees a request only once its whole
head has been read. So the bounds are here, below the app:

- the request head is at most CLAIMS_MAX_HEADER_BYTES, counted as it arrives, so that a
  head that never ends is refused once it passes the limit; past it, 431 problem+json and
  the connection closed;
- the whole head must arrive within CLAIMS_HEADER_TIMEOUT_SECONDS of the connection opening
  or of the previous answer; past it the connection is closed;
- a connection idle between requests is closed after CLAIMS_KEEP_ALIVE_SECONDS (uvicorn's
  timeout_keep_alive);
- at most CLAIMS_MAX_CONNECTIONS connections are open per worker process; one more is
  answered 503 problem+json at once and closed, so the process keeps the descriptors it
  needs for its database and its probes.

uvicorn also answers a request it cannot parse (a raw non-ASCII byte in the URL, a malformed
request line or header) with a plain-text 400; here that answer is problem+json too, so that
every error a client meets is the one documented shape. There is no `instance`: no path
could be read.
"""

import asyncio
import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.core.config import get_settings
from app.core.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from app.http.context import API_CSP, SECURITY_HEADERS

# How long a connection refused for its head stays open to drain, after its answer.
LINGER_SECONDS = 1.0
UNPARSABLE_DETAIL = (
    "The request line or headers could not be parsed. A URL must be ASCII: percent-encode "
    "anything else (for example curl --get --data-urlencode 'q=...')."
)


def raw_problem(
    status: int,
    reason: str,
    slug: str,
    detail: str,
    *,
    default_headers: list[tuple[bytes, bytes]] | None = None,
    retry_after: int | None = None,
) -> bytes:
    """A whole HTTP/1.1 problem+json answer, written to the socket as bytes: no request was
    parsed, so there is no h11 cycle (nor an app) to answer through."""
    body = json.dumps(
        {"type": PROBLEM_BASE + slug, "title": reason, "status": status, "detail": detail}
    ).encode()
    lines = [f"HTTP/1.1 {status} {reason}".encode()]
    lines += [name + b": " + value for name, value in default_headers or []]
    lines += [
        f"content-type: {PROBLEM_MEDIA_TYPE}".encode(),
        f"content-length: {len(body)}".encode(),
        b"connection: close",
        *([f"retry-after: {retry_after}".encode()] if retry_after is not None else []),
    ]
    # The app's own answers carry these (RequestContext); this one never reaches it.
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": API_CSP}
    lines += [f"{name}: {value}".encode() for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class ProblemH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(
            raw_problem(
                400,
                "Bad Request",
                "bad-request",
                UNPARSABLE_DETAIL,
                default_headers=self.server_state.default_headers,
            )
        )
        self.transport.close()


class BoundedH11Protocol(ProblemH11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._max_header_bytes = settings.max_header_bytes
        self._header_timeout = settings.header_timeout_seconds
        self._max_connections = settings.max_connections
        self._head_deadline: asyncio.TimerHandle | None = None
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            detail = "The server has as many connections open as it takes; retry shortly."
            transport.write(
                raw_problem(
                    503, "Service Unavailable", "service-unavailable", detail, retry_after=1
                )
            )
            transport.close()
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused head: read and dropped until the close
        if self._head_too_large(data):
            self._refuse_large_head()
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._stop_waiting()  # the head is in: the request runs as long as it takes

    def _head_too_large(self, data: bytes) -> bool:
        """Whether the head being received passes the limit. h11's own bound holds only
        while a head is incomplete; a larger one that arrives whole it would parse."""
        if self.conn.their_state is not h11.IDLE:
            return False  # a body, or the rest of a request whose head was in bounds
        pending = self.conn.trailing_data[0] + data  # at most the limit, plus this read
        end = pending.find(b"\r\n\r\n")
        return (end + 4 if end >= 0 else len(pending)) > self._max_header_bytes

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    def _refuse_large_head(self) -> None:
        self._stop_waiting()
        detail = (
            f"The request's headers are larger than the limit of {self._max_header_bytes} bytes."
        )
        self.transport.write(
            raw_problem(431, "Request Header Fields Too Large", "header-too-large", detail)
        )
        # Closing now, with the client's bytes still arriving, would reset the connection,
        # and a reset can destroy the answer before the client reads it: end our side,
        # drop what still comes for a moment, then close.
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _await_head(self) -> None:
        self._stop_waiting()
        self._head_deadline = self.loop.call_later(self._header_timeout, self._head_too_slow)

    def _stop_waiting(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
