"""Secondary indexes set aside during a bulk import into an empty archive, and rebuilt once
at its end, in the same transaction.

Maintaining eleven secondary indexes row by row (and writing their pages out at every
batch's commit) was half the cost of a bulk load; building each once from the finished
table is a sorted bulk build. Only the indexes are set aside: primary keys, UNIQUE and
foreign-key constraints stay in force throughout, and the partial unique index that allows
one current stance per source is checked when it is rebuilt (a violation fails the
import's transaction, so nothing is committed without it). The DDL runs inside the
import's one transaction (both engines have transactional DDL): other connections never
see a table without its indexes.
"""

from dataclasses import dataclass

from sqlalchemy import Connection

TABLES = ("claim", "stance", "claim_tag")
# Kept: each batch looks up the stored stances of claims that straddle batches by it, and
# it grows in insertion order (claim ids ascend), so keeping it costs little.
KEPT = ("ix_stance_claim_id_stated_at_id",)


@dataclass(frozen=True)
class SavedIndex:
    name: str
    definition: str  # the CREATE INDEX statement that rebuilds it verbatim


def archive_is_empty(conn: Connection) -> bool:
    """No claim and no stance yet: nothing to keep in order while the import runs."""
    return not conn.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM claim) OR EXISTS (SELECT 1 FROM stance)"
    ).scalar_one()


def set_aside(conn: Connection) -> list[SavedIndex]:
    """Drop the secondary indexes of the bulk-written tables; returns how to rebuild them."""
    marks = ", ".join(f"'{table}'" for table in TABLES)
    if conn.dialect.name == "postgresql":
        # Indexes that back a constraint (primary keys, UNIQUE) stay.
        rows = conn.exec_driver_sql(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            f"WHERE t.relname IN ({marks}) AND t.relnamespace = current_schema()::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) "
            "ORDER BY i.relname"
        ).all()
    else:
        # sql IS NULL: the automatic indexes of PRIMARY KEY / UNIQUE constraints, which stay.
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            f"AND tbl_name IN ({marks}) AND sql IS NOT NULL ORDER BY name"
        ).all()
    saved = [SavedIndex(name, definition) for name, definition in rows if name not in KEPT]
    for index in saved:
        conn.exec_driver_sql(f'DROP INDEX "{index.name}"')
    return saved


def rebuild(conn: Connection, saved: list[SavedIndex]) -> None:
    for index in saved:
        conn.exec_driver_sql(index.definition)
