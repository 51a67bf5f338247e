"""A dump of every table, to prove that a refused request changed nothing at all."""

from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

import app.tables  # noqa: F401  (every table in the metadata)


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (tables other branches add included)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return tables
