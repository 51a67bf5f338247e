"""Fixtures: the real app over a real, freshly migrated database, on SQLite and PostgreSQL.

Each test gets its own database: a copy of a migrated SQLite file, or a PostgreSQL
database cloned from a migrated template. PostgreSQL comes from CLAIMS_TEST_POSTGRES_URL
(default: postgres@127.0.0.1:5432); when it cannot be reached the PostgreSQL half skips,
except under CI=true, where that is a failure.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.auth import Scope, create_key
from app.core.config import Settings
from app.core.db import make_engine
from app.main import create_app
from app.ops.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "CLAIMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ["sqlite", "postgresql"]


def _admin_engine() -> sa.Engine:
    return sa.create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )


def _postgres_url(database: str) -> str:
    return (
        sa.make_url(POSTGRES_ADMIN_URL).set(database=database).render_as_string(hide_password=False)
    )


def _migrated(url: str) -> None:
    engine = make_engine(Settings(database_url=url))
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "claims.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = (
            f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL} ({exc.orig}). Start it, "
            "or point CLAIMS_TEST_POSTGRES_URL at one, to run the PostgreSQL half."
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"claims_test_tpl_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        _migrated(_postgres_url(name))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fresh_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty PostgreSQL database, not migrated: for migration tests."""
    request.getfixturevalue("postgres_template")  # skips or fails as the template does
    yield from _postgres_database(template=None)


@pytest.fixture(params=ENGINES)
def unmigrated_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, never migrated database of each engine: for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres")


def _postgres_database(template: str | None) -> Iterator[str]:
    admin = _admin_engine()
    name = f"claims_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield _postgres_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each engine, new for every test."""
    if request.param == "sqlite":
        path = tmp_path / "claims.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from _postgres_database(template=request.getfixturevalue("postgres_template"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _key(app: FastAPI, scope: Scope) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(engine=app.state.engine, scope=scope)}"}


@pytest.fixture
def auth(app: FastAPI) -> dict[str, str]:
    """Headers with a write-scoped key."""
    return _key(app, Scope.write)


@pytest.fixture
def read_auth(app: FastAPI) -> dict[str, str]:
    return _key(app, Scope.read)


@pytest.fixture
def admin(app: FastAPI) -> dict[str, str]:
    """Headers with an admin key: webhooks, and everything else."""
    return _key(app, Scope.admin)
