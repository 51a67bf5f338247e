"""What the bulk, export, changes and CSV tests share: NDJSON bodies, the CLI, a second
empty database, and a read of the change feed that waits for PostgreSQL to settle."""

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import _postgres_database
from tests.helpers import run_cli

NDJSON = {"Content-Type": "application/x-ndjson"}


def ndjson(*records: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def stance_records(claim: str, story: list[tuple[str, str, datetime]]) -> list[dict[str, Any]]:
    """A claim's stances as bulk records, from (source id, stance, stated_at) in order."""
    return [
        {
            "type": "stance",
            "id": f"{claim}-{n}",
            "claim_id": claim,
            "source_id": source,
            "stance": kind,
            "stated_at": rfc3339(stated),
        }
        for n, (source, kind, stated) in enumerate(story)
    ]


def post_bulk(client: TestClient, auth: dict[str, str], body: bytes) -> Any:
    return client.post("/bulk", content=body, headers={**auth, **NDJSON})


def cli(
    database_url: str, cwd: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """run_cli with a body on stdin, the time a large import takes, and help text wide
    enough to read in one line."""
    return run_cli(database_url, cwd, *args, stdin=stdin, timeout=300, COLUMNS="200")


def empty_database(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    """Another migrated, empty database of the same engine as `database_url`."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "second.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from _postgres_database(template=request.getfixturevalue("postgres_template"))


def changes(
    client: TestClient,
    *,
    expect: int,
    cursor: str | None = None,
    limit: int = 100,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """GET /changes once the feed holds `expect` items after `cursor`. On PostgreSQL the
    feed holds back rows while an older transaction anywhere on the server is still open
    (another test's, say): wait for that, boundedly, rather than read too early."""
    params: dict[str, Any] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    deadline = time.monotonic() + 15
    while True:
        response = client.get("/changes", params=params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        done = until(page) if until else len(page["items"]) >= expect
        if done or time.monotonic() > deadline:
            return page
        time.sleep(0.1)


def summary(page: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(item["type"], item["id"], item["deleted"]) for item in page["items"]]
