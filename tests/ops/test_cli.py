"""The `claims-api` console script, run as an operator runs it (a child process)."""

import hashlib
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import make_engine
from app.ops.migrate import migration_head
from tests.helpers import current_revision, problem, run_cli


def test_keys_create_prints_a_working_write_key_on_its_last_line(
    app: FastAPI, client: TestClient, database_url: str, tmp_path: Path
) -> None:
    result = run_cli(database_url, tmp_path, "keys", "create", "--scope", "write", "--name", "x")
    assert result.returncode == 0, result.stderr
    key = result.stdout.splitlines()[-1]
    assert key == key.strip() and " " not in key
    headers = {"Authorization": f"Bearer {key}"}
    response = client.post("/claims", headers=headers, json={"text": "Insurgents entered Hama."})
    assert response.status_code == 201, response.text
    # Only the hash is stored: the key itself is nowhere in the table.
    with app.state.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM api_key")).all()
    assert [row.name for row in rows] == ["x"]
    assert rows[0].key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert [value for value in rows[0] if isinstance(value, str) and key in value] == []


def test_a_read_key_is_403_on_every_write_and_changes_nothing(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    write = run_cli(database_url, tmp_path, "keys", "create", "--scope", "write")
    read = run_cli(database_url, tmp_path, "keys", "create", "--scope", "read", "--name", "r")
    assert (write.returncode, read.returncode) == (0, 0)
    writer = {"Authorization": f"Bearer {write.stdout.splitlines()[-1]}"}
    reader = {"Authorization": f"Bearer {read.stdout.splitlines()[-1]}"}
    claim = client.post("/claims", headers=writer, json={"text": "Hama."}).json()
    source = client.post(
        "/sources", headers=writer, json={"name": "Monitor", "kind": "monitor"}
    ).json()
    attempts = [
        ("POST", "/claims", {"text": "Aleppo."}),
        ("PATCH", f"/claims/{claim['id']}", {"place": "Hama"}),
        ("DELETE", f"/claims/{claim['id']}", None),
        (
            "POST",
            f"/claims/{claim['id']}/stances",
            {"source_id": source["id"], "stance": "asserts"},
        ),
        ("POST", "/sources", {"name": "Other", "kind": "ngo"}),
        ("PATCH", f"/sources/{source['id']}", {"kind": "ngo"}),
        ("DELETE", f"/sources/{source['id']}", None),
    ]
    for method, path, body in attempts:
        response = client.request(method, path, headers=reader, json=body)
        assert problem(response, 403)["type"] == "/problems/forbidden", (method, path)
    assert (
        client.get(f"/claims/{claim['id']}", headers=reader).json()
        == client.get(f"/claims/{claim['id']}").json()
    )
    assert client.get("/claims").json()["items"][0]["id"] == claim["id"]
    assert len(client.get("/claims").json()["items"]) == 1
    assert client.get(f"/sources/{source['id']}").json() == source


def test_an_unknown_scope_is_refused(database_url: str, tmp_path: Path) -> None:
    result = run_cli(database_url, tmp_path, "keys", "create", "--scope", "root")
    assert result.returncode == 2
    assert result.stdout == ""


def test_migrate_brings_an_empty_database_to_the_head(
    unmigrated_database: str, tmp_path: Path
) -> None:
    for _ in range(2):  # the second run has nothing to do
        result = run_cli(unmigrated_database, tmp_path, "migrate")
        assert (result.returncode, result.stdout) == (0, "database is at the latest migration\n")
    engine = make_engine(Settings(database_url=unmigrated_database))
    try:
        assert current_revision(engine) == migration_head()
    finally:
        engine.dispose()
