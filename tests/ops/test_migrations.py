"""Migrations own the schema: the same revisions on both engines, down to base and up
again, one step at a time, and the models' metadata matches what they build."""

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient

from app.core.auth import Scope, create_key
from app.core.config import Settings
from app.core.db import make_engine
from app.main import create_app
from app.ops.migrate import alembic_config, downgrade, migration_head, upgrade
from tests.helpers import current_revision, ids, make_claim, schema_drift

CORE_TABLES = {"source", "claim", "claim_tag", "stance", "api_key"}


@pytest.fixture
def engine(unmigrated_database: str) -> Iterator[sa.Engine]:
    engine = make_engine(Settings(database_url=unmigrated_database))
    yield engine
    engine.dispose()


def revisions_oldest_first(engine: sa.Engine) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(engine))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def user_tables(engine: sa.Engine) -> set[str]:
    names = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    return {name for name in names if not name.startswith("sqlite_")}


def test_one_linear_history_ending_at_the_head(engine: sa.Engine) -> None:
    revisions = revisions_oldest_first(engine)
    assert revisions[0] == "0001"
    assert revisions[-1] == migration_head()
    assert len(set(revisions)) == len(revisions)


def test_a_database_of_the_first_release_upgrades_to_the_whole_schema(
    engine: sa.Engine,
) -> None:
    """The first release shipped 0002-0004 as empty reserved slots, so a database it
    migrated is already past them: the schema they were reserved for must come after."""
    upgrade(engine, "0004")
    assert {t for t in user_tables(engine) if not t.startswith("claim_fts")} == CORE_TABLES
    upgrade(engine)
    assert user_tables(engine) >= {"verdict", "webhook", "event", "idempotency_key"}
    assert schema_drift(engine) == []


def test_upgrade_downgrade_to_base_and_upgrade_again(engine: sa.Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == migration_head()
    assert user_tables(engine) >= CORE_TABLES
    assert schema_drift(engine) == []
    built = user_tables(engine)

    downgrade(engine, "base")
    assert user_tables(engine) == set()
    assert current_revision(engine) is None

    upgrade(engine)
    assert user_tables(engine) == built
    assert current_revision(engine) == migration_head()
    assert schema_drift(engine) == []


def test_every_revision_steps_down_and_up_alone(engine: sa.Engine) -> None:
    revisions = revisions_oldest_first(engine)
    for revision in revisions:
        upgrade(engine, revision)
        assert current_revision(engine) == revision
    for below in [*revisions[-2::-1], None]:
        downgrade(engine, "-1")
        assert current_revision(engine) == below
    assert user_tables(engine) == set()
    upgrade(engine)
    assert schema_drift(engine) == []


def test_the_rebuilt_schema_serves_the_api(unmigrated_database: str, engine: sa.Engine) -> None:
    """After a round trip the triggers and generated columns of full-text search work."""
    upgrade(engine)
    downgrade(engine, "base")
    upgrade(engine)
    app = create_app(Settings(database_url=unmigrated_database))
    try:
        auth = {"Authorization": f"Bearer {create_key(engine=app.state.engine, scope=Scope.write)}"}
        with TestClient(app, raise_server_exceptions=False) as client:
            claim = make_claim(client, auth, "دخلت الفصائل مدينة حماة", place="حماة", tags=["x"])
            assert ids(client.get("/claims", params={"q": "حماة"}).json()) == [claim["id"]]
            assert ids(client.get("/claims", params={"tag": "x"}).json()) == [claim["id"]]
    finally:
        app.state.engine.dispose()


NOW = "2024-12-05 08:00:00"


def _insert_wire(conn: sa.Connection) -> None:
    """Source 1, the wire service the stored stances of these tests cite."""
    conn.execute(
        sa.text(
            "INSERT INTO source (id, name, name_key, kind, created_at, updated_at) "
            "VALUES (1, 'Wire', 'wire', 'news_agency', :now, :now)"
        ),
        {"now": NOW},
    )


def _claims_before_search(engine: sa.Engine) -> None:
    """A claim with a quoted stance, and one without, stored before the search column."""
    with engine.begin() as conn:
        _insert_wire(conn)
        conn.execute(
            sa.text(
                "INSERT INTO claim (id, text, language, tags, status, created_at, updated_at) "
                f"VALUES (:id, :text, :language, '[]', 'asserted', '{NOW}', '{NOW}')"
            ),
            [
                {"id": 1, "text": "Syrian insurgents entered the city of Hama.", "language": "en"},
                {"id": 2, "text": "دخلت فصائل المعارضة مدينة حماة", "language": "ar"},
            ],
        )
        conn.execute(
            sa.text(
                "INSERT INTO stance (id, claim_id, source_id, stance, stated_at, quote, "
                "is_current, created_at) VALUES (1, 1, 1, 'asserts', :now, "
                "'they denied that insurgents had breached the city itself', :yes, :now)"
            ),
            {"now": NOW, "yes": True},
        )


def _before_search(engine: sa.Engine) -> str:
    """The revision before the search column's, wherever the history puts that one."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    [search] = [rev for rev in script.walk_revisions() if rev.path.endswith("_search_column.py")]
    assert isinstance(search.down_revision, str)
    return search.down_revision


def test_the_search_column_is_filled_for_stored_claims(
    unmigrated_database: str, engine: sa.Engine
) -> None:
    before = _before_search(engine)
    upgrade(engine, before)
    _claims_before_search(engine)
    upgrade(engine)
    downgrade(engine, before)
    upgrade(engine)
    app = create_app(Settings(database_url=unmigrated_database))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            found = {
                q: ids(client.get("/claims", params={"q": q}).json())
                for q in ("breached", "insurgent ", "وحماه", "hama")
            }
    finally:
        app.state.engine.dispose()
    assert found == {"breached": ["1"], "insurgent ": ["1"], "وحماه": ["2"], "hama": ["1"]}


def _claims_citing_reports(engine: sa.Engine) -> None:
    """Stored under 0011: claim 1 cites a report twice, claim 2 a report without a title,
    claim 3 none."""
    with engine.begin() as conn:
        _insert_wire(conn)
        conn.execute(
            sa.text(
                "INSERT INTO report (id, url, url_key, title, language, created_at, updated_at) "
                f"VALUES (:id, :url, :key, :title, 'en', '{NOW}', '{NOW}')"
            ),
            [
                {"id": 1, "url": "https://a.example/", "key": "a" * 64, "title": "Madiq overrun"},
                {"id": 2, "url": "https://b.example/", "key": "b" * 64, "title": None},
            ],
        )
        conn.execute(
            sa.text(
                "INSERT INTO claim (id, text, language, tags, status, created_at, updated_at, "
                f"search_text) VALUES (:id, :text, 'en', '[]', 'asserted', '{NOW}', '{NOW}', "
                ":terms)"
            ),
            [
                {"id": 1, "text": "A fortress fell.", "terms": "fortress fell held"},
                {"id": 2, "text": "Troops left Homs.", "terms": "troop left hom"},
                {"id": 3, "text": "Aleppo fell.", "terms": "aleppo fell"},
            ],
        )
        conn.execute(
            sa.text(
                "INSERT INTO stance (id, claim_id, source_id, stance, stated_at, quote, "
                "report_id, is_current, created_at) "
                f"VALUES (:id, :claim, 1, :kind, '{NOW}', :quote, :report, :current, '{NOW}')"
            ),
            [
                dict(zip(("id", "claim", "kind", "quote", "report", "current"), row, strict=True))
                for row in (
                    (1, 1, "asserts", None, 1, False),
                    (2, 1, "denies", "It held.", 1, True),
                    (3, 2, "asserts", None, 2, True),
                    (4, 3, "asserts", None, None, True),
                )
            ],
        )


def _columns(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT id, search_text FROM claim")).all())  # type: ignore[arg-type]


def test_the_search_column_gets_the_titles_of_cited_reports(
    unmigrated_database: str, engine: sa.Engine
) -> None:
    upgrade(engine, "0011")
    _claims_citing_reports(engine)
    before = _columns(engine)
    with_titles = {1: "fortress fell madiq overrun held", 2: "troop left hom", 3: "aleppo fell"}
    upgrade(engine, "0012")
    assert _columns(engine) == with_titles
    downgrade(engine, "0011")
    assert _columns(engine) == before
    upgrade(engine)
    assert _columns(engine) == with_titles
    assert schema_drift(engine) == []
    app = create_app(Settings(database_url=unmigrated_database))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            queries = ("madiq", "homs", "held")
            found = {q: ids(client.get("/claims", params={"q": q}).json()) for q in queries}
    finally:
        app.state.engine.dispose()
    assert found == {"madiq": ["1"], "homs": ["2"], "held": ["1"]}


def test_a_second_upgrade_is_a_no_op(engine: sa.Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == migration_head()
    assert schema_drift(engine) == []


def test_a_database_of_the_previous_release_gets_its_status_periods(engine: sa.Engine) -> None:
    """Stances written under 0008's schema (back-dated, tied, two camps, an unaffiliated
    source) get the periods and status_since of the write path's replay on upgrade."""
    from datetime import UTC, datetime, timedelta

    from app.stances.timeline import HistoryStance, replay

    upgrade(engine, "0008")
    base = datetime(2024, 12, 5, 9, tzinfo=UTC)
    sources = [
        (1, "SANA", "Syrian government"),
        (2, "Army", "syrian government "),
        (3, "HTS", None),
    ]
    # (id, claim, source, stance, hours after base): ids out of stated order = back-dating.
    stances = [
        (1, 1, 3, "asserts", 0),
        (2, 1, 1, "denies", 2),
        (3, 1, 2, "asserts", 8),
        (4, 1, 1, "denies", 1),  # back-dated: not SANA's latest
        (5, 2, 1, "asserts", 3),
        (6, 2, 2, "denies", 3),  # a tie of stated_at across sources
        (7, 2, 2, "asserts", 3),  # a tie with its own earlier stance: the higher id wins
    ]
    latest = {}
    for sid, claim, source, _, hours in stances:
        key = (claim, source)
        if key not in latest or (hours, sid) > latest[key]:
            latest[key] = (hours, sid)
    current_ids = {sid for _, sid in latest.values()}
    with engine.begin() as conn:
        for pk, name, affiliation in sources:
            conn.execute(
                sa.text(
                    "INSERT INTO source (id, name, name_key, kind, affiliation, affiliation_key, "
                    "created_at, updated_at) "
                    "VALUES (:id, :name, :nk, 'other', :aff, :key, :at, :at)"
                ),
                {
                    "id": pk,
                    "name": name,
                    "nk": name.casefold(),
                    "aff": affiliation,
                    "key": affiliation.strip().casefold() if affiliation else None,
                    "at": base.replace(tzinfo=None),
                },
            )
        for pk in (1, 2, 3):
            conn.execute(
                sa.text(
                    "INSERT INTO claim (id, text, language, tags, status, asserting_sources, "
                    "denying_sources, created_at, updated_at) "
                    "VALUES (:id, 'c', 'en', '[]', 'unsourced', 0, 0, :at, :at)"
                ),
                {"id": pk, "at": base.replace(tzinfo=None)},
            )
        for sid, claim, source, kind, hours in stances:
            conn.execute(
                sa.text(
                    "INSERT INTO stance (id, claim_id, source_id, stance, stated_at, "
                    "is_current, created_at) VALUES (:id, :c, :s, :k, :at, :cur, :at)"
                ),
                {
                    "id": sid,
                    "c": claim,
                    "s": source,
                    "k": kind,
                    "at": (base + timedelta(hours=hours)).replace(tzinfo=None),
                    "cur": sid in current_ids,
                },
            )
    upgrade(engine)
    names = {pk: (name, affiliation) for pk, name, affiliation in sources}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT claim_id, valid_from, valid_to, status, asserting_sources, "
                "denying_sources, status_since, changed_by_stance_id "
                "FROM claim_status_period ORDER BY claim_id, valid_from"
            )
        ).all()
        since = dict(conn.execute(sa.text("SELECT id, status_since FROM claim")).all())

    def utc(value: object) -> object:
        if isinstance(value, str) and value[:1].isdigit():
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    stored = [tuple(utc(v) for v in row) for row in rows]
    expected = []
    expected_since: dict[int, object] = {1: None, 2: None, 3: None}
    for claim in (1, 2, 3):
        history = [
            HistoryStance(sid, source, *names[source], kind, base + timedelta(hours=h), base)
            for sid, c, source, kind, h in stances
            if c == claim
        ]
        periods = replay(history)
        expected += [(claim, *p.key) for p in periods]
        if periods:
            expected_since[claim] = periods[-1].status_since
    assert stored == expected
    assert [p[3] for p in stored if p[0] == 1] == ["asserted", "disputed", "disputed"]
    assert {pk: utc(v) for pk, v in since.items()} == expected_since
    assert schema_drift(engine) == []
    downgrade(engine, "0008")
    upgrade(engine)
    with engine.connect() as conn:
        again = conn.execute(sa.text("SELECT count(*) FROM claim_status_period")).scalar_one()
    assert again == len(expected)


def _before_asof_index(engine: sa.Engine) -> str:
    script = ScriptDirectory.from_config(alembic_config(engine))
    [asof] = [rev for rev in script.walk_revisions() if rev.path.endswith("_asof_index.py")]
    assert isinstance(asof.down_revision, str)
    return asof.down_revision


def _periods_with_claim_times(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT p.id, p.claim_id, p.claim_created_at = c.created_at, "
                    "p.claim_updated_at = c.updated_at "
                    "FROM claim_status_period AS p JOIN claim AS c ON c.id = p.claim_id "
                    "ORDER BY p.id"
                )
            )
        ]


def test_stored_periods_get_their_claims_times_and_keep_them(engine: sa.Engine) -> None:
    """0013 fills each period's claim_created_at / claim_updated_at from its claim, its
    trigger follows later writes of the claim, and it steps down and up again."""
    before = _before_asof_index(engine)
    upgrade(engine, before)
    with engine.begin() as conn:
        _insert_wire(conn)
        for pk, created, updated in [(1, NOW, "2024-12-06 08:00:00"), (2, NOW, NOW)]:
            conn.execute(
                sa.text(
                    "INSERT INTO claim (id, text, language, tags, status, created_at, updated_at) "
                    "VALUES (:id, 'c', 'en', '[]', 'asserted', :created, :updated)"
                ),
                {"id": pk, "created": created, "updated": updated},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO stance (id, claim_id, source_id, stance, stated_at, "
                    "is_current, created_at) VALUES (:id, :id, 1, 'asserts', :now, :yes, :now)"
                ),
                {"id": pk, "now": NOW, "yes": True},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO claim_status_period (claim_id, valid_from, status, "
                    "asserting_sources, denying_sources, status_since, changed_by_stance_id) "
                    "VALUES (:id, :now, 'asserted', 1, 0, :now, :id)"
                ),
                {"id": pk, "now": NOW},
            )
    upgrade(engine)
    assert _periods_with_claim_times(engine) == [(1, 1, True, True), (2, 2, True, True)]
    assert schema_drift(engine) == []
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE claim SET updated_at = '2024-12-07 08:00:00' WHERE id = 2"))
    assert _periods_with_claim_times(engine) == [(1, 1, True, True), (2, 2, True, True)]
    downgrade(engine, before)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("claim_status_period")}
    assert not columns & {"claim_created_at", "claim_updated_at"}
    with engine.begin() as conn:  # the trigger went with the columns
        conn.execute(sa.text("UPDATE claim SET updated_at = created_at"))
    upgrade(engine)
    assert _periods_with_claim_times(engine) == [(1, 1, True, True), (2, 2, True, True)]
    assert schema_drift(engine) == []
