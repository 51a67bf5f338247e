"""Request body limits: size, enforced before the body is read whole, and media type."""

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import problem_response
from app.core.paths import path_operations


class BodyTooLarge(HTTPException):
    """Raised by the receive of a body past the limit. An HTTPException, because FastAPI
    turns any other exception met while it reads a body into a 400 (it passes these on),
    which is what a chunked body over the limit used to get."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            f"The request body is larger than the limit of {max_bytes} bytes.",
            headers={"Connection": "close"},
        )


class BodySizeLimit:
    """413 for a declared Content-Length over the limit, and for a streamed body the
    moment it passes the limit, without buffering it."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Path prefixes whose bodies may be larger (a report's full text).
        self.larger = larger or {}

    def _limit(self, path: str) -> int:
        for prefix, max_bytes in self.larger.items():
            if path == prefix or path.startswith(prefix + "/"):
                return max(max_bytes, self.max_bytes)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit(scope["path"])
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await self._reject(scope, receive, send, max_bytes)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._reject(scope, receive, send, max_bytes)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            413,
            "payload-too-large",
            f"The request body is larger than the limit of {max_bytes} bytes.",
            request=Request(scope),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


# RFC 9110 15.5.16 / RFC 5789: a 415 names the media types the operation does take.
_ACCEPT_HEADER = {"POST": "Accept-Post", "PUT": "Accept-Put", "PATCH": "Accept-Patch"}


class MediaTypeCheck:
    """415 for a body whose Content-Type the operation's OpenAPI requestBody does not list,
    so that text/plain or a form posted to a JSON operation is refused as what it is (rather
    than as a 422 about a missing field), and routes that take other types (NDJSON, CSV)
    keep them, just by declaring them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        operations = path_operations(scope["app"], scope["path"]) if has_body else None
        operation = (operations or {}).get(scope["method"].lower(), {})
        accepted = operation.get("requestBody", {}).get("content", {})
        given = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if accepted and given not in accepted:
            response = problem_response(
                415,
                "unsupported-media-type",
                f"This operation takes a body of type {', '.join(sorted(accepted))}, "
                f"not '{given[:60] or 'none'}'.",
                request=Request(scope),
                headers={
                    "Accept-Post" if scope["method"] == "POST" else "Accept-Patch": ", ".join(
                        sorted(accepted)
                    )
                },
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
