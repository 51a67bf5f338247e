"""Initial schema: sources, claims with kept status, stances, tags, API keys, full-text search.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 21:07:26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
CURRENT_ONLY = {"sqlite_where": sa.text("is_current"), "postgresql_where": sa.text("is_current")}

SOURCE_KINDS = (
    "state_media",
    "news_agency",
    "news_outlet",
    "armed_group",
    "government",
    "monitor",
    "ngo",
    "social_media",
    "individual",
    "other",
)
STATUSES = ("unsourced", "asserted", "corroborated", "denied", "disputed")


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "source",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("affiliation", sa.String(200), nullable=True),
        sa.Column("affiliation_key", sa.String(200), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.CheckConstraint(_one_of("kind", SOURCE_KINDS), name=op.f("ck_source_kind_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source")),
        sa.UniqueConstraint("name_key", name=op.f("uq_source_name_key")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_source_kind_name_key", "source", ["kind", "name_key"])
    op.create_index("ix_source_affiliation_key", "source", ["affiliation_key"])

    op.create_table(
        "claim",
        sa.Column("id", Id, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("place", sa.String(200), nullable=True),
        sa.Column("occurred_at", Timestamp, nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("asserting_sources", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("denying_sources", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.CheckConstraint(_one_of("status", STATUSES), name=op.f("ck_claim_status_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_claim_updated_at_id", "claim", ["updated_at", "id"])
    op.create_index("ix_claim_created_at_id", "claim", ["created_at", "id"])
    op.create_index("ix_claim_status_updated_at_id", "claim", ["status", "updated_at", "id"])
    op.create_index("ix_claim_status_created_at_id", "claim", ["status", "created_at", "id"])
    op.create_index("ix_claim_place_updated_at", "claim", ["place", "updated_at"])
    op.create_index("ix_claim_language_updated_at", "claim", ["language", "updated_at"])
    op.create_index("ix_claim_occurred_at", "claim", ["occurred_at"])

    op.create_table(
        "claim_tag",
        sa.Column("claim_id", Id, nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], ondelete="CASCADE", name=op.f("fk_claim_tag_claim_id_claim")
        ),
        sa.PrimaryKeyConstraint("claim_id", "tag", name=op.f("pk_claim_tag")),
    )
    op.create_index("ix_claim_tag_tag_claim_id", "claim_tag", ["tag", "claim_id"])

    op.create_table(
        "stance",
        sa.Column("id", Id, nullable=False),
        sa.Column("claim_id", Id, nullable=False),
        sa.Column("source_id", Id, nullable=False),
        sa.Column("stance", sa.String(8), nullable=False),
        sa.Column("stated_at", Timestamp, nullable=False),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("quote", sa.Text(), nullable=True),
        sa.Column("reported_via", sa.String(2048), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.CheckConstraint("stance IN ('asserts', 'denies')", name=op.f("ck_stance_stance_valid")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], ondelete="CASCADE", name=op.f("fk_stance_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            ondelete="RESTRICT",
            name=op.f("fk_stance_source_id_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stance")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_stance_claim_id_stated_at_id", "stance", ["claim_id", "stated_at", "id"])
    op.create_index("ix_stance_source_id_stated_at_id", "stance", ["source_id", "stated_at", "id"])
    op.create_index(
        "uq_stance_current_claim_id_source_id",
        "stance",
        ["claim_id", "source_id"],
        unique=True,
        **CURRENT_ONLY,
    )
    op.create_index(
        "ix_stance_current_source_id_stance",
        "stance",
        ["source_id", "stance", "claim_id"],
        **CURRENT_ONLY,
    )

    op.create_table(
        "api_key",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_used_at", Timestamp, nullable=True),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
        sqlite_autoincrement=True,
    )

    if op.get_bind().dialect.name == "postgresql":
        # 'simple': no stemming, so Arabic and English words match as written.
        op.execute(
            "ALTER TABLE claim ADD COLUMN search_vector tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED"
        )
        op.execute("CREATE INDEX ix_claim_search_vector ON claim USING gin (search_vector)")
    else:
        # An external-content FTS5 index over claim.text, kept by triggers.
        op.execute(
            "CREATE VIRTUAL TABLE claim_fts USING fts5(text, content='claim', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER claim_fts_insert AFTER INSERT ON claim BEGIN "
            "INSERT INTO claim_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER claim_fts_delete AFTER DELETE ON claim BEGIN "
            "INSERT INTO claim_fts(claim_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
        )
        op.execute(
            "CREATE TRIGGER claim_fts_update AFTER UPDATE OF text ON claim BEGIN "
            "INSERT INTO claim_fts(claim_fts, rowid, text) VALUES ('delete', old.id, old.text); "
            "INSERT INTO claim_fts(rowid, text) VALUES (new.id, new.text); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_claim_search_vector")
        op.execute("ALTER TABLE claim DROP COLUMN search_vector")
    else:
        for trigger in ("claim_fts_insert", "claim_fts_delete", "claim_fts_update"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE claim_fts")
    op.drop_table("api_key")
    op.drop_table("stance")
    op.drop_table("claim_tag")
    op.drop_table("claim")
    op.drop_table("source")
