"""Alembic environment: the URL from settings (or the caller's connection), our metadata."""

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlmodel import SQLModel

import app.tables  # noqa: F401  (registers every table on the metadata)
from app.config import get_settings
from app.db import make_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata

# Full-text search objects are engine-specific and made by raw SQL in the migrations.
FTS_OBJECTS = ("claim_fts",)
FTS_COLUMNS = ("search_vector",)
FTS_INDEXES = ("ix_claim_search_vector",)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any
) -> bool:
    if type_ == "table" and name and name.startswith(FTS_OBJECTS):
        return False
    if type_ == "column" and name in FTS_COLUMNS:
        return False
    return not (type_ == "index" and name in FTS_INDEXES)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(get_settings())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
