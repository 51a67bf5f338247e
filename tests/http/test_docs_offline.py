"""/docs and /redoc work with no internet access, checked in a real headless Chromium.

The real server runs on a loopback port; Chromium (Debian's `chromium`, installed by
scripts/ensure-chromium.sh, which .ci/run calls) loads each page, which must list the
operations, request nothing but 127.0.0.1, and log no error (a CSP violation is one).
"""

import os
import re
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from app.http.docs import ASSETS_DIR
from tests.browser import Chromium, find_chromium
from tests.server import HOST, Server


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    executable = find_chromium()
    if executable is None:
        reason = (
            "Chromium is not installed: run `sudo bash scripts/ensure-chromium.sh` "
            "(Debian's chromium package) to run the browser tests."
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    # A port that was free a moment ago and has no listener: the proxy that refuses all.
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        closed_port = sock.getsockname()[1]
    browser = Chromium(executable, tmp_path_factory.mktemp("chromium"), closed_port)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("docs-server")
    running = Server(f"sqlite:///{directory / 'claims.db'}", directory / "server.log")
    yield running
    running.stop()


def _paths(urls: list[str]) -> set[str]:
    return {urlsplit(url).path for url in urls}


def _off_machine(urls: list[str]) -> list[str]:
    return [
        u for u in urls if not (u.startswith(("data:", "blob:")) or urlsplit(u).hostname == HOST)
    ]


def test_swagger_ui_lists_the_operations_offline(chromium: Chromium, server: Server) -> None:
    visit = chromium.visit(
        server.base_url + "/docs",
        ready_js="document.querySelectorAll('.opblock').length > 20",
    )
    assert _off_machine(visit.requests) == []
    assert {
        "/docs",
        "/docs/assets/swagger-ui/swagger-ui.css",
        "/docs/assets/swagger-ui/swagger-ui-bundle.js",
        "/openapi.json",
    } <= _paths(visit.requests)
    assert visit.errors == []
    # Operation ids are shown: they are the generated SDK's method names.
    for operation in ("list_claims", "create_stance", "get_claim", "list_sources"):
        assert re.search(rf"\b{operation}\b", visit.text), operation
    assert "GET\n/claims\n" in visit.text
    assert "POST\n/claims/{claim_id}/stances\n" in visit.text


def test_redoc_lists_the_operations_offline(chromium: Chromium, server: Server) -> None:
    visit = chromium.visit(
        server.base_url + "/redoc",
        ready_js="!!document.querySelector('[data-section-id=\"operation/create_stance\"]')",
    )
    assert _off_machine(visit.requests) == []
    assert {"/redoc", "/docs/assets/redoc/redoc.standalone.js", "/openapi.json"} <= _paths(
        visit.requests
    )
    assert visit.errors == []
    for operation in ("list_claims", "create_stance", "get_claim", "list_sources"):
        assert f'data-section-id="operation/{operation}"' in visit.html, operation
    assert "/claims/{claim_id}/stances" in visit.text


def test_browser_check_sees_requests_that_leave_the_machine(chromium: Chromium) -> None:
    """The checks above can fail: a page that asks a CDN is caught (and blocked)."""
    page = "data:text/html,<link rel=stylesheet href='https://fonts.googleapis.com/css'>"
    visit = chromium.visit(page, ready_js="document.readyState === 'complete'")
    assert _off_machine(visit.requests) == ["https://fonts.googleapis.com/css"]


def test_browser_check_sees_csp_violations(chromium: Chromium) -> None:
    policy = "<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">"
    visit = chromium.visit(
        f"data:text/html,{policy}<script>1</script>", ready_js="document.readyState === 'complete'"
    )
    assert len(visit.errors) == 1
    assert visit.errors[0].startswith("security: Executing inline script violates")


def test_docs_pages_name_no_other_host_and_set_a_strict_policy(server: Server) -> None:
    with server.client() as client:
        for path in ("/docs", "/redoc"):
            page = client.get(path)
            assert page.status_code == 200
            urls = re.findall(r"(?:src|href)=\"([^\"]*)\"", page.text)
            assert urls != []
            assert [u for u in urls if not u.startswith("/docs/assets/")] == []
            policy = page.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy
            assert "'unsafe-inline'" not in policy.split("script-src")[1]
            assert "http" not in policy
        # The JSON answers keep the API's own policy.
        assert client.get("/claims").headers["Content-Security-Policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )
        assert client.get("/docs/assets/redoc/LICENSE").status_code == 200


def test_vendored_assets_name_no_cdn() -> None:
    cdn = re.compile(rb"https?://[^\"' )]*(?:cdn|fonts\.googleapis|jsdelivr|unpkg|redoc\.ly)")
    files = sorted(p for p in ASSETS_DIR.rglob("*") if p.suffix in {".js", ".css"})
    assert [p.name for p in files] == [
        "redoc.standalone.js",
        "swagger-ui-bundle.js",
        "swagger-ui.css",
    ]
    assert {p.name: cdn.findall(p.read_bytes()) for p in files} == {p.name: [] for p in files}
