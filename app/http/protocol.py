"""uvicorn's HTTP protocols, answering a request they cannot parse in problem+json.

Before the app sees a request, uvicorn answers one it cannot parse (a raw non-ASCII byte
in the URL, a malformed request line or header) with a plain-text 400. These subclasses
keep uvicorn's parsing and replace only that answer, so that every error a client meets is
the one documented shape. There is no `instance`: no path could be read.
"""

import json

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from app.http.context import API_CSP, SECURITY_HEADERS

UNPARSABLE_DETAIL = (
    "The request line or headers could not be parsed. A URL must be ASCII: percent-encode "
    "anything else (for example curl --get --data-urlencode 'q=...')."
)
UNPARSABLE_BODY = json.dumps(
    {
        "type": PROBLEM_BASE + "bad-request",
        "title": "Bad Request",
        "status": 400,
        "detail": UNPARSABLE_DETAIL,
    }
).encode()


def unparsable_response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole HTTP/1.1 answer to a request that could not be parsed."""
    lines = [b"HTTP/1.1 400 Bad Request"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode(),
        b"content-length: " + str(len(UNPARSABLE_BODY)).encode(),
        b"connection: close",
    ]
    # The app's own answers carry these (RequestContext); this one never reaches it.
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": API_CSP}
    lines += [f"{name}: {value}".encode() for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + UNPARSABLE_BODY


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(unparsable_response(self.server_state.default_headers))
        self.transport.close()


class ProblemH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(unparsable_response(self.server_state.default_headers))
        self.transport.close()
