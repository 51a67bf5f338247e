"""The lists are served by indexes: the query each request really sends, explained.

The statement is captured from the app's engine while the request runs, then explained
on the same database. SQLite's planner does not depend on row counts here (no ANALYZE),
and on PostgreSQL sequential scans and sorts are priced out (`enable_seqscan`,
`enable_sort` off), so the plan shows whether an index CAN serve the query and its
order, whatever the table sizes: a Seq Scan or a Sort that remains means none can.
"""

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.stances.period_lag import CLASSES
from tests.helpers import add_stance, captured_sql, make_claim, make_source


def paged(ran: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The paged SELECTs (those with a LIMIT) among the statements that ran."""
    return [
        (statement, parameters)
        for statement, parameters in ran
        if statement.lstrip().upper().startswith("SELECT")
        and " LIMIT " in statement
        and not statement.lstrip().upper().startswith("SELECT COUNT(")
    ]


def sqlite_plan(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return [row[3] for row in rows]


def postgres_plan(engine: sa.Engine, statement: str, parameters: Any) -> list[dict[str, Any]]:
    """Every node of the plan, flattened."""
    with engine.connect() as connection:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        [[document]] = connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + statement, parameters
        ).all()
    nodes, pending = [], [document[0]["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending += node.get("Plans", [])
    return nodes


def assert_index_served(
    app: FastAPI, client: TestClient, path: str, params: dict[str, Any], index: str
) -> None:
    """The first page and the next one are read through `index`, with no full scan of a
    table and no sort of the result."""
    engine: sa.Engine = app.state.engine
    with captured_sql(engine) as ran:
        first = client.get(path, params={**params, "limit": 1})
        assert first.status_code == 200, first.text
        cursor = first.json()["next_cursor"]
        assert cursor is not None
        assert client.get(path, params={**params, "limit": 1, "cursor": cursor}).status_code == 200
    statements = paged(ran)
    assert len(statements) == 2
    for statement, parameters in statements:
        if engine.dialect.name == "sqlite":
            plan = sqlite_plan(engine, statement, parameters)
            assert [line for line in plan if "TEMP B-TREE" in line] == [], plan
            # A SCAN is allowed only as the ordered walk of the sort index, which the
            # LIMIT stops early; every other table is reached by SEARCH.
            scans = [line for line in plan if line.startswith("SCAN ")]
            assert scans in ([], [f"SCAN claim USING INDEX {index}"]), plan
            assert any(index in line for line in plan), plan
        else:
            nodes = postgres_plan(engine, statement, parameters)
            types = [node["Node Type"] for node in nodes]
            assert [t for t in types if t == "Seq Scan" or "Sort" in t] == [], types
            assert index in {node.get("Index Name") for node in nodes}, nodes


def assert_stances_and_sources_reached_by_index(
    engine: sa.Engine, statement: str, parameters: Any
) -> None:
    """A stance or source filter reaches a claim's stances by the claim's stance index and
    each one's source by its key: no scan of either table."""
    if engine.dialect.name == "sqlite":
        plan = sqlite_plan(engine, statement, parameters)
        assert [line for line in plan if line.startswith(("SEARCH stance", "SEARCH source"))] == [
            "SEARCH stance USING INDEX ix_stance_claim_id_stated_at_id (claim_id=?)",
            "SEARCH source USING INTEGER PRIMARY KEY (rowid=?)",
        ], plan
    else:
        nodes = postgres_plan(engine, statement, parameters)
        tables = {node.get("Relation Name") for node in nodes if "Index" in node["Node Type"]}
        assert tables == {"claim", "stance", "source"}, nodes


@pytest.fixture
def seeded(client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    """Three disputed claims that state media deny, and one more claim."""
    hts = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition")
    state = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    claim = ""
    for n in range(3):
        claim = make_claim(client, auth, f"Insurgents entered district {n}.", tags=["hama"])["id"]
        add_stance(client, auth, claim, hts["id"], "asserts")
        add_stance(client, auth, claim, state["id"], "denies")
    make_claim(client, auth, "Unsourced.")
    return {"claim": claim, "source": state["id"]}


AS_OF = "2100-01-01T00:00:00Z"  # after every seeded stance
AS_OF_LISTS = [
    ({"as_of": AS_OF}, "ix_claim_updated_at_id"),
    ({"as_of": AS_OF, "sort": "created_at"}, "ix_claim_created_at_id"),
    # One sourced status is driven by the periods (tests/claims/test_as_of_index.py);
    # with unsourced, the claims with no period at T are found from the claim side.
    ({"as_of": AS_OF, "status": ["disputed", "unsourced"]}, "ix_claim_updated_at_id"),
    ({"as_of": AS_OF, "stance": "denies", "source_kind": "state_media"}, "ix_claim_updated_at_id"),
]


@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({}, "ix_claim_updated_at_id"),
        ({"sort": "updated_at"}, "ix_claim_updated_at_id"),
        ({"sort": "-created_at"}, "ix_claim_created_at_id"),
        ({"sort": "created_at"}, "ix_claim_created_at_id"),
        ({"status": "disputed"}, "ix_claim_status_updated_at_id"),
        ({"status": "disputed", "sort": "created_at"}, "ix_claim_status_created_at_id"),
        ({"stance": "denies", "source_kind": "state_media"}, "ix_claim_updated_at_id"),
        *AS_OF_LISTS,
    ],
)
@pytest.mark.usefixtures("seeded")
def test_claim_lists_are_index_served(
    app: FastAPI, client: TestClient, params: dict[str, Any], index: str
) -> None:
    assert_index_served(app, client, "/claims", params, index)


@pytest.mark.usefixtures("seeded")
def test_the_stance_filter_reaches_stances_and_sources_by_index(
    app: FastAPI, client: TestClient
) -> None:
    engine: sa.Engine = app.state.engine
    with captured_sql(engine) as ran:
        client.get("/claims", params={"stance": "denies", "source_kind": "state_media"})
    [(statement, parameters)] = paged(ran)
    assert_stances_and_sources_reached_by_index(engine, statement, parameters)


def test_stance_histories_and_sources_are_index_served(
    app: FastAPI, client: TestClient, seeded: dict[str, str]
) -> None:
    assert_index_served(
        app,
        client,
        f"/claims/{seeded['claim']}/stances",
        {},
        "ix_stance_claim_id_stated_at_id",
    )
    assert_index_served(
        app,
        client,
        f"/sources/{seeded['source']}/stances",
        {},
        "ix_stance_source_id_stated_at_id",
    )


def _scans(nodes: list[dict[str, Any]]) -> list[str]:
    return [node["Node Type"] for node in nodes if "Scan" in node["Node Type"]]


def _plan_steps(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    """SQLite's plan steps; on PostgreSQL, which picks among the indexes by cost, the
    names of the scans, of which none may be of the whole table."""
    if engine.dialect.name == "sqlite":
        return sqlite_plan(engine, statement, parameters)
    scans = _scans(postgres_plan(engine, statement, parameters))
    assert scans and all("Index" in scan for scan in scans), (statement, scans)
    return []


StancePost = Callable[[str, Callable[[str], bool]], list[tuple[str, Any]]]


@pytest.fixture
def stance_post(
    app: FastAPI, client: TestClient, auth: dict[str, str], seeded: dict[str, str]
) -> StancePost:
    """POSTs a stance by the seeded source on the seeded claim, and gives the statements it
    ran that `wanted` picks, with their parameters: at least one."""

    def post(stance: str, wanted: Callable[[str], bool]) -> list[tuple[str, Any]]:
        with captured_sql(app.state.engine) as ran:
            add_stance(client, auth, seeded["claim"], seeded["source"], stance)
        found = [(statement, parameters) for statement, parameters in ran if wanted(statement)]
        assert found, ran
        return found

    return post


def test_a_stance_post_finds_the_sources_current_stance_by_the_unique_index(
    app: FastAPI, stance_post: StancePost
) -> None:
    """Not by all of the source's stances: that cost grows with the archive (a source
    states ~1,800 stances at 1M claims, a claim has a handful). SQLite chooses by the
    shape of the WHERE clause, so it is held to the one index that fits. The claim's
    latest stated_at, read with it, is one probe of the claim's stance index."""
    engine = app.state.engine
    lookups = stance_post(
        "denies",
        lambda statement: (
            statement.lstrip().startswith("SELECT")
            and "stance.source_id = " in statement
            and "is_current" in statement
        ),
    )
    for statement, parameters in lookups:
        steps = _plan_steps(engine, statement, parameters)
        if engine.dialect.name == "sqlite":
            indexes = ("uq_stance_current_claim_id_source_id", "ix_stance_claim_id_stated_at_id")
            for index in indexes:
                assert any(index in step for step in steps), (statement, steps)
            assert not any(step.startswith("SCAN stance") for step in steps), steps


def test_a_stance_post_reads_only_the_periods_it_can_change_by_their_index(
    app: FastAPI, stance_post: StancePost
) -> None:
    """The claim's periods from the one holding at the new stance's stated_at: a range of
    the (claim_id, valid_from) index, however long the claim's timeline."""
    engine = app.state.engine
    reads = stance_post(
        "asserts",
        lambda statement: statement.lstrip().startswith("SELECT claim_status_period."),
    )
    for statement, parameters in reads:
        steps = _plan_steps(engine, statement, parameters)
        if engine.dialect.name == "sqlite":
            index = "uq_claim_status_period_claim_id_valid_from"
            searches = [step for step in steps if step.startswith(("SEARCH", "SCAN"))]
            assert searches and all(index in step for step in searches), (statement, steps)
            # A range from the held period on, not every period of the claim.
            assert any("valid_from>" in step for step in searches), (statement, steps)


@pytest.mark.parametrize("params", [params for params, _ in AS_OF_LISTS])
@pytest.mark.usefixtures("seeded")
def test_lists_as_of_a_stated_time_reach_the_period_by_its_index(
    app: FastAPI, client: TestClient, params: dict[str, Any]
) -> None:
    """The period holding at T, reached by its index (the list's own sort index is checked
    with the other lists, above)."""
    engine: sa.Engine = app.state.engine
    with captured_sql(engine) as ran:
        client.get("/claims", params=params)
    [(statement, parameters)] = paged(ran)
    if engine.dialect.name == "sqlite":
        plan = sqlite_plan(engine, statement, parameters)
        assert [line for line in plan if "claim_status_period" in line] == [
            "SEARCH claim_status_period USING INDEX uq_claim_status_period_claim_id_valid_from "
            "(claim_id=? AND valid_from<?) LEFT-JOIN"
        ], plan
    else:
        nodes = postgres_plan(engine, statement, parameters)
        assert "uq_claim_status_period_claim_id_valid_from" in {
            node.get("Index Name") for node in nodes
        }, nodes


@pytest.mark.parametrize(
    ("params", "tables"),
    [
        ({"stance": "denies", "source_kind": "state_media"}, {"source"}),
        ({"stance": "denies"}, set()),
        ({"source_id": "source"}, set()),
        ({"stance": "denies", "status": "disputed"}, set()),  # driven by the periods
        ({"source_kind": "state_media", "status": "disputed", "sort": "created_at"}, {"source"}),
    ],
)
def test_the_stance_filter_as_of_t_probes_supersession_by_the_claims_stances(
    app: FastAPI,
    client: TestClient,
    seeded: dict[str, str],
    params: dict[str, Any],
    tables: set[str],
) -> None:
    """An EXISTS over the claim's own stances stated by T: whether one was its source's
    latest by then is looked up among them too, not among every stance of the source."""
    engine: sa.Engine = app.state.engine
    params = {"as_of": AS_OF, **params}
    if params.get("source_id") == "source":
        params["source_id"] = seeded["source"]
    with captured_sql(engine) as ran:
        listed = client.get("/claims", params=params)
    assert len(listed.json()["items"]) == 3, listed.text
    [(statement, parameters)] = paged(ran)
    if engine.dialect.name == "sqlite":
        plan = sqlite_plan(engine, statement, parameters)
        by_claim = "USING INDEX ix_stance_claim_id_stated_at_id (claim_id=? AND stated_at<?)"
        # Once, or once a lag class when the periods drive the list (app/claims/as_of_list.py).
        probes = [line for line in plan if line.startswith(("SEARCH stance", "SEARCH later"))]
        assert probes[:2] == [f"SEARCH stance {by_claim}", f"SEARCH later {by_claim}"], plan
        assert len(probes) in (2, 2 * len(CLASSES)) and set(probes) == set(probes[:2]), plan
        scans = [line for line in plan if line.startswith("SCAN") and "claim " not in line]
        assert [line for line in scans if not line.startswith("SCAN anon_")] == [], plan
    else:
        nodes = postgres_plan(engine, statement, parameters)
        assert [n for n in nodes if n["Node Type"] == "Seq Scan"] == [], nodes
        indexed = {node.get("Relation Name") for node in nodes if "Index" in node["Node Type"]}
        # (a Bitmap Index Scan names no relation: its Bitmap Heap Scan does)
        assert indexed - {None} == {"claim", "stance", "claim_status_period"} | tables, nodes
