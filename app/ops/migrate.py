"""Run the Alembic migrations from code (the CLI and the tests use this)."""

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from app.stances.periods_model import LAG_INDEXES

ROOT = Path(__file__).resolve().parents[2]
# Beside app/ in a checkout (and an editable install). An installed wheel (the Docker
# image) has no checkout around it: CLAIMS_MIGRATIONS_DIR says where they were put.
MIGRATIONS_DIR = Path(os.environ.get("CLAIMS_MIGRATIONS_DIR") or ROOT / "migrations")

# Full-text search objects are engine-specific and made by raw SQL in the migrations,
# so autogenerate (and the tests' drift check) must not compare them with the models.
FTS_OBJECTS = ("claim_fts",)
FTS_COLUMNS = ("search_vector",)
FTS_INDEXES = ("ix_claim_search_vector",)
# Indexes on an expression (app/stances/period_lag.py): SQLite cannot reflect them, and
# PostgreSQL gives them back in its own spelling, so neither compares with the models;
# tests/stances/test_period_lag.py compares them with their migration instead.
EXPRESSION_INDEXES = tuple(LAG_INDEXES.values())


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any
) -> bool:
    if type_ == "table" and name and name.startswith(FTS_OBJECTS):
        return False
    if type_ == "column" and name in FTS_COLUMNS:
        return False
    return not (type_ == "index" and name in FTS_INDEXES + EXPRESSION_INDEXES)


def alembic_config(engine: Engine) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logger"] = False
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def migration_head() -> str | None:
    """The newest revision the code knows; the database should be at it."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()
