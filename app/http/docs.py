"""/docs (Swagger UI) and /redoc, served with no internet access.

Their scripts and styles are vendored in app/http/static/docs/ (versions in its VERSIONS file,
refreshed by scripts/vendor-docs-assets.sh) instead of FastAPI's default CDN URLs. Each page
gets its own Content-Security-Policy: only this origin, plus the hash of Swagger UI's one
inline script; the API's JSON answers keep the strict policy of app/http/context.py.
"""

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).parent / "static" / "docs"
ASSETS_PATH = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

# Both UIs inject <style> elements and use data: images; Redoc runs its search in a
# worker made from a blob: URL. Nothing may come from another origin.
_BASE_POLICY = (
    "default-src 'none'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)


def docs_policy(html: str) -> str:
    """The CSP for one docs page: scripts from this origin and the page's own inline ones."""
    digests = (hashlib.sha256(script.encode()).digest() for script in _INLINE_SCRIPT.findall(html))
    hashes = [f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests]
    return "; ".join((*_BASE_POLICY, " ".join(["script-src 'self'", *hashes])))


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body).decode())
    return page


@dataclass(frozen=True)
class _DocsUi:
    """One docs UI: the FastAPI function that draws its page, its assets (FastAPI's keyword
    for each URL -> the file under ASSETS_PATH) and its other options."""

    name: str
    render: Callable[..., HTMLResponse]
    assets: dict[str, str]
    options: dict[str, Any]

    def page(self, request: Request, app: FastAPI, openapi_url: str) -> HTMLResponse:
        """The page, its document and assets under the request's root path (behind a proxy
        that mounts the service below /), with the page's own policy."""
        root = f"{request.scope.get('root_path', '')}"
        urls = {name: f"{root}{ASSETS_PATH}/{asset}" for name, asset in self.assets.items()}
        title = f"{app.title} - {self.name}"
        return _with_policy(
            self.render(openapi_url=root + openapi_url, title=title, **urls, **self.options)
        )


_SWAGGER_UI = _DocsUi(
    "Swagger UI",
    get_swagger_ui_html,
    assets={
        "swagger_js_url": "swagger-ui/swagger-ui-bundle.js",
        "swagger_css_url": "swagger-ui/swagger-ui.css",
        "swagger_favicon_url": "swagger-ui/favicon-32x32.png",
    },
    # Operation ids are the SDK's method names: show them.
    options={"swagger_ui_parameters": {"displayOperationId": True}},
)
_REDOC = _DocsUi(
    "ReDoc",
    get_redoc_html,
    assets={
        "redoc_js_url": "redoc/redoc.standalone.js",
        "redoc_favicon_url": "swagger-ui/favicon-32x32.png",
    },
    options={"with_google_fonts": False},
)


def install_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the two docs pages and their assets; create the app with docs_url=None."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return _SWAGGER_UI.page(request, app, openapi_url)

    @app.get(redoc_url, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return _REDOC.page(request, app, openapi_url)
