"""Small builders the tests share: they go through the HTTP API like any client."""

import os
import re
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

import app.tables  # noqa: F401  (every table on the metadata, as the migrations see it)
from app.ops.migrate import include_object
from tests.server import claims_api


@contextmanager
def captured_sql(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine runs inside the block, with its parameters."""
    ran: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        yield ran
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)


def make_source(
    client: TestClient,
    auth: dict[str, str],
    name: str,
    kind: str = "news_outlet",
    affiliation: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        "/sources",
        headers=auth,
        json={"name": name, "kind": kind, "affiliation": affiliation, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()


def make_claim(
    client: TestClient, auth: dict[str, str], text: str = "Insurgents entered Hama.", **fields: Any
) -> dict[str, Any]:
    response = client.post("/claims", headers=auth, json={"text": text, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def add_stance(
    client: TestClient,
    auth: dict[str, str],
    claim_id: str,
    source_id: str,
    stance: str,
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        f"/claims/{claim_id}/stances",
        headers=auth,
        json={"source_id": source_id, "stance": stance, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()


REPORT_URL = "https://apnews.com/article/syria-hama-insurgents"


def make_report(
    client: TestClient, auth: dict[str, str], url: str = REPORT_URL, **fields: Any
) -> dict[str, Any]:
    response = client.post("/reports", headers=auth, json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def ids(response_json: dict[str, Any]) -> list[str]:
    return [item["id"] for item in response_json["items"]]


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem+json body of an error answer, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


def error_fields(response: Any) -> set[str]:
    """The fields a 422 names."""
    return {error["field"] for error in problem(response, 422)["errors"]}


NEXT_LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def next_url(response: Any) -> str | None:
    """The URL of a list answer's `Link: <...>; rel="next"` header; None without one."""
    link = response.headers.get("link")
    if link is None:
        return None
    match = NEXT_LINK.match(link)
    assert match, link
    return match["url"]


def walk(
    client: TestClient, path: str, params: dict[str, Any] | None = None, max_pages: int = 200
) -> list[dict[str, Any]]:
    """Every item of a list, following next_cursor page by page (bounded)."""
    items: list[dict[str, Any]] = []
    params = dict(params or {})
    for _ in range(max_pages):
        page = client.get(path, params=params)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
        params["cursor"] = cursor
    raise AssertionError(f"{path} did not end within {max_pages} pages")


def run_cli(
    database_url: str,
    cwd: Path,
    *args: str,
    stdin: str | None = None,
    timeout: float = 120,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`claims-api ARGS` in a child process, as an operator would run it: in the caller's
    environment, plus CLAIMS_DATABASE_URL and `env`."""
    return subprocess.run(
        [claims_api(), *args],
        env={**os.environ, "CLAIMS_DATABASE_URL": database_url, **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_ok(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """A command that must exit 0: its output is the failure message when it does not."""
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def current_revision(engine: sa.Engine) -> str | None:
    """The migration the database records, None for one never migrated."""
    if "alembic_version" not in sa.inspect(engine).get_table_names():
        return None
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def schema_drift(engine: sa.Engine) -> list[Any]:
    """What `alembic check` would report: the models' metadata against the migrated schema.
    Neither compares the indexes on an expression (app/ops/migrate.py says why), and both
    warn that they do not."""
    with engine.connect() as connection, warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            "Skipped unsupported reflection of expression-based index "
            "ix_claim_status_period_status_lag_",
            sa.exc.SAWarning,
        )
        warnings.filterwarnings(
            "ignore",
            "autogenerate skipping metadata-specified expression-based index "
            "'ix_claim_status_period_status_lag_",
            UserWarning,
        )
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        return list(compare_metadata(context, SQLModel.metadata))
