"""The shell examples of README.md and docs/*.md run as written against a freshly seeded
`claims-api serve`, as after `make run`: each ```sh block of a page, in order, in one
bash (so a variable one block sets, such as $KEY, serves the next), with only the port
changed. Every HTTP status curl sees is recorded and compared with what the page shows.
"""

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import run_cli, run_ok
from tests.server import Server

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_URL = "http://127.0.0.1:8000"
# Blocks not run: the quickstart (this fixture is what `make run` starts), PostgreSQL's
# createdb of a database named claims, the SDK generator's pip install (that example is
# tests/http/test_sdk.py's), and the contributor's `alembic revision`, which writes a file
# into migrations/.
NOT_RUN = (
    "make run",
    "createdb -h 127.0.0.1",
    "pip install openapi-python-client",
    "alembic revision",
)
# Each page's statuses in order; README first, as a reader of the walk-through goes on to
# the other pages with its $KEY and its records.
PAGES = {
    "README.md": [200, 200, 201, 201, 201, 200, 200, 200, 200, 200],
    "docs/verdicts.md": [201, 201, 200, 200],
    "docs/retries.md": [201, 201, 200, 200, 304],
    "docs/sync.md": [200],
    "docs/webhooks.md": [201],
    "docs/bulk.md": [200, 200],
    # Its report and stance ids are a fresh seed's plus what the pages above add (none).
    "docs/walkthrough-reports.md": [200, 200, 200, 201, 201, 200, 200, 201, 409],
    # Last: its evening stance changes the central claim, which the pages above read.
    "docs/walkthrough-time.md": [200, 201, 200, 200, 200, 200, 200, 200],
}
# Every curl of a block, unchanged in output, also appends its status to $STATUS_LOG.
# The outside world: webhooks.md subscribes https://example.org/..., whose host the SSRF
# guard resolves (it must be public). The server is given that one DNS answer, so that the
# example runs the same on a machine without DNS.
FAKE_DNS = """import socket

_real = socket.getaddrinfo


def _getaddrinfo(host, port, *args, **kwargs):
    if host == "example.org":
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port or 443))]
    return _real(host, port, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
"""
PRELUDE = """set -euo pipefail
curl() { command curl --write-out '%{stderr}%{http_code}\\n' "$@" 2>>"$STATUS_LOG"; }
"""


def shell_blocks(page: Path) -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", page.read_text(), flags=re.S | re.M)
    return [block for block in blocks if not any(marker in block for marker in NOT_RUN)]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    directory = tmp_path_factory.mktemp("docs-examples")
    url = f"sqlite:///{directory / 'claims.db'}"
    assert run_cli(url, directory, "seed").returncode == 0
    (directory / "sitecustomize.py").write_text(FAKE_DNS)
    running = Server(
        url,
        directory / "server.log",
        CLAIMS_WEBHOOK_SENDER="false",
        PYTHONPATH=str(directory),
    )
    yield running, url
    running.stop()


def test_every_page_has_the_examples_this_test_expects() -> None:
    pages = {"README.md", *(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))}
    with_examples = {p for p in pages if shell_blocks(ROOT / p)}
    assert with_examples == set(PAGES)


def test_the_examples_run_as_written(seeded: tuple[Server, str], tmp_path: Path) -> None:
    server, database_url = seeded
    # The pages call .venv/bin/claims-api from the project's root, and some write files.
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {**os.environ, "CLAIMS_DATABASE_URL": database_url}
    script = PRELUDE
    for page in PAGES:
        blocks = "\n".join(shell_blocks(ROOT / page))
        script += f'STATUS_LOG="{tmp_path / page.replace("/", "_")}.status"\n'
        script += blocks.replace(DOCUMENTED_URL, server.base_url) + "\n"
    result = run_ok(["bash", "-c", script], tmp_path, env, timeout=300)
    statuses = {
        page: [int(s) for s in (tmp_path / f"{page.replace('/', '_')}.status").read_text().split()]
        for page in PAGES
    }
    assert statuses == PAGES, result.stdout
