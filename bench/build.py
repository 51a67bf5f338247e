"""Build (once) and cache the benchmark archives: SQLite files under bench/.data/, and
PostgreSQL databases named claims_bench_<version>_<n> on the local server.

A build goes to a temporary name and is renamed only when complete, so an interrupted
build is never mistaken for a cached one.
"""

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import make_engine
from app.ops.migrate import upgrade
from bench.load import LoadStats, finish, load

# Bump when the generator or the loader changes, so stale caches are not reused. v2: built
# by `claims-api import` (stance ids follow file order) instead of the bench's own loader.
# v4: the schema has claim_status_period (migration 0010) and the analysed search column
# (0011), which the import fills. v5: reports' titles in the search column (0012) and the
# periods' copy of their claim's times (0013).
VERSION = "v5"
DATA = Path(__file__).resolve().parent / ".data"
POSTGRES_ADMIN_URL = os.environ.get(
    "CLAIMS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Archive:
    engine: str  # "sqlite" or "postgresql"
    claims: int
    url: str
    built: LoadStats | None
    cached: bool = False


def sqlite_path(claims: int) -> Path:
    return DATA / f"sqlite-{VERSION}-{claims}.db"


def postgres_name(claims: int) -> str:
    return f"claims_bench_{VERSION}_{claims}"


def postgres_url(database: str) -> str:
    return sa.make_url(POSTGRES_ADMIN_URL).set(database=database).render_as_string(False)


def _admin() -> sa.Engine:
    return sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _fill(url: str, claims: int) -> LoadStats:
    engine = make_engine(Settings(database_url=url))
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    stats = load(url, claims)
    finish(url)
    return stats


def build_sqlite(claims: int) -> Archive:
    final = sqlite_path(claims)
    if final.exists():
        return Archive("sqlite", claims, f"sqlite:///{final}", None)
    DATA.mkdir(exist_ok=True)
    partial = final.with_suffix(".partial")
    for leftover in DATA.glob(partial.name + "*"):
        leftover.unlink()
    stats = _fill(f"sqlite:///{partial}", claims)
    partial.rename(final)
    return Archive("sqlite", claims, f"sqlite:///{final}", stats)


def build_postgres(claims: int) -> Archive:
    name = postgres_name(claims)
    admin = _admin()
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if exists:
                return Archive("postgresql", claims, postgres_url(name), None)
            partial = name + "_partial"
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{partial}"'))
        stats = _fill(postgres_url(partial), claims)
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{partial}" RENAME TO "{name}"'))
        return Archive("postgresql", claims, postgres_url(name), stats)
    finally:
        admin.dispose()


def build(engine: str, claims: int) -> Archive:
    """The cached archive, built first if missing; `built` is the load that made it (read
    back from bench/.data/ when it came from the cache)."""
    archive = build_sqlite(claims) if engine == "sqlite" else build_postgres(claims)
    if archive.built is None:
        # A cached archive may predate a migration: bring it to the head the service expects.
        migrated = make_engine(Settings(database_url=archive.url))
        try:
            upgrade(migrated)
        finally:
            migrated.dispose()
    record = DATA / f"load-{engine}-{VERSION}-{claims}.json"
    if archive.built is not None:
        record.write_text(json.dumps(asdict(archive.built)))
    elif record.exists():
        archive.built = LoadStats(**json.loads(record.read_text()))
        archive.cached = True
    return archive


def timed_load(engine: str, claims: int) -> LoadStats:
    """A fresh bulk load of the archive into a scratch database, dropped afterwards."""
    if engine == "sqlite":
        DATA.mkdir(exist_ok=True)
        target = DATA / f"import-{claims}.db"
        for leftover in DATA.glob(target.name + "*"):
            leftover.unlink()
        try:
            return _fill(f"sqlite:///{target}", claims)
        finally:
            for leftover in DATA.glob(target.name + "*"):
                leftover.unlink()
    name = f"claims_bench_import_{claims}"
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            return _fill(postgres_url(name), claims)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def scratch_copy(archive: Archive, tag: str) -> tuple[str, Callable[[], None]]:
    """A throwaway copy for the write scenarios, so the cached archive stays pristine."""
    if archive.engine == "sqlite":
        source = Path(sa.make_url(archive.url).database or "")
        target = DATA / f"scratch-{tag}.db"
        for leftover in DATA.glob(target.name + "*"):
            leftover.unlink()
        shutil.copyfile(source, target)

        def drop_file() -> None:
            for leftover in DATA.glob(target.name + "*"):
                leftover.unlink()

        return f"sqlite:///{target}", drop_file
    name = f"claims_bench_scratch_{tag}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(
            sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_name(archive.claims)}"')
        )

    def drop_database() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return postgres_url(name), drop_database


if __name__ == "__main__":
    import sys

    engine_name, size = sys.argv[1], int(sys.argv[2])
    t = time.perf_counter()
    archive = build(engine_name, size)
    built = archive.built
    print(archive.url, built, f"{time.perf_counter() - t:.1f}s")
    if built is not None:
        print(
            f"{built.stances_per_second:,.0f} stances/s wall clock, "
            f"{built.stances_per_cpu_second:,.0f} per CPU second of the import"
        )
