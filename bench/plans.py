"""How the bench archives' lists are served: the plan of every statement each read
scenario sends, explained with the engine's own planner on the full archive.

    python -m bench.plans --sizes 1000000 --engines sqlite,postgresql

tests/claims/test_query_plans.py shows that an index CAN serve each list (on a tiny
database, sequential scans and sorts priced out on PostgreSQL). This shows that the
planner DOES choose it with the archive's real sizes and statistics: each scenario's URL is
requested in-process against the cached archive (bench/build.py), its SELECTs captured
and explained (PostgreSQL: EXPLAIN ANALYZE, so the time each took is beside its plan).
Writes bench/PLANS.md, and exits 1 when a list scenario's paged read scans a table or
sorts its rows instead of walking an index (NOT_WALKS says which scenarios are not asked
to, and why).
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from bench import build
from bench.scenarios import Scenario, pick_params, read_scenarios
from tests.helpers import captured_sql

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "PLANS.md"
# Scenarios whose paged read must walk an index in the list's order, with no sort.
ORDERED_LISTS = {
    "disputed", "denied_by_state_media", "deep_page", "as_of_disputed", "as_of_recent",
}  # fmt: skip
# The others, and why no index walk is asked of them.
NOT_WALKS = {
    "search": "counts its matches first: few are read by id and sorted, many walk the index",
    "search_relevance": "ranks every match, so it sorts by design",
    "claim": "a read by key",
    "timeline": "a read by key",
}


def sqlite_plan(engine: sa.Engine, statement: str, parameters: Any) -> tuple[list[str], bool]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        lines = [row[3] for row in rows]
    # A walk of an index (SCAN ... USING INDEX) that the LIMIT stops is the point; a bare
    # SCAN of a table, or a TEMP B-TREE (a sort), is not.
    bad = [
        line
        for line in lines
        if "TEMP B-TREE" in line
        or (line.startswith("SCAN ") and "USING" not in line and "VIRTUAL TABLE" not in line)
    ]
    return lines, not bad


def postgres_plan(engine: sa.Engine, statement: str, parameters: Any) -> tuple[list[str], bool]:
    with engine.connect() as connection:
        [[document]] = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
        ).all()
        connection.rollback()
    lines: list[str] = []
    served = True

    def walk(node: dict[str, Any], depth: int) -> None:
        nonlocal served
        kind = node["Node Type"]
        where = node.get("Index Name") or node.get("Relation Name") or ""
        ms = node.get("Actual Total Time", 0.0)
        rows = node.get("Actual Rows", 0)
        lines.append(f"{'  ' * depth}{kind} {where} (rows {rows}, {ms:.2f} ms)".rstrip())
        if kind == "Seq Scan" and node.get("Relation Name") in {"claim", "stance"}:
            served = False
        if "Sort" in kind:
            served = False
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(document[0]["Plan"], 0)
    lines.append(f"execution {document[0]['Execution Time']:.2f} ms")
    return lines, served


def explain(archive: build.Archive, scenarios: list[Scenario]) -> list[dict[str, Any]]:
    app = create_app(
        Settings(database_url=archive.url, response_cache_bytes=0, log_level="WARNING")
    )
    engine: sa.Engine = app.state.engine
    plan = sqlite_plan if archive.engine == "sqlite" else postgres_plan
    found = []
    with TestClient(app) as client:
        for scenario in scenarios:
            with captured_sql(engine) as ran:
                answer = client.get(scenario.app_url)
            assert answer.status_code == 200, (scenario.app_url, answer.text[:300])
            statements = []
            for statement, parameters in ran:
                if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                lines, served = plan(engine, statement, parameters)
                ms = _run_ms(engine, statement, parameters)
                paged = " LIMIT " in statement and not statement.lstrip().upper().startswith(
                    "SELECT COUNT("
                )
                statements.append(
                    {"sql": statement, "plan": lines, "served": served, "paged": paged, "ms": ms}
                )
            found.append({"scenario": scenario, "statements": statements})
    engine.dispose()
    return found


def _run_ms(engine: sa.Engine, statement: str, parameters: Any) -> float:
    """The statement's own time, best of three (warm cache), in milliseconds."""
    best = float("inf")
    with engine.connect() as connection:
        for _ in range(3):
            started = time.perf_counter()
            connection.exec_driver_sql(statement, parameters).fetchall()
            best = min(best, time.perf_counter() - started)
        connection.rollback()
    return best * 1000


# The as-of list's index: one walk a lag class, each stopped by the page's LIMIT, their
# pages merged (app/claims/as_of_list.py). Its sorts are of those pages, so bounded.
AS_OF_WALKS = "ix_claim_status_period_status_lag_"


def verdict(name: str, statements: list[dict[str, Any]]) -> bool:
    if name not in ORDERED_LISTS:
        return True
    return all(s["served"] or _walks_lag_classes(s["plan"]) for s in statements if s["paged"])


def _walks_lag_classes(plan: list[str]) -> bool:
    """Every table read through an index (the lag walks, then the page's rows by key)."""
    bare_scans = [
        line
        for line in plan
        if "Seq Scan" in line or (line.startswith("SCAN ") and "USING" not in line)
    ]
    walked = [line for line in plan if AS_OF_WALKS in line]
    # SQLite scans each walk's page (a subquery, `anon_N`) to merge them.
    return bool(walked) and all(line.startswith("SCAN anon_") for line in bare_scans)


def report(runs: list[tuple[build.Archive, list[dict[str, Any]]]]) -> tuple[str, bool]:
    ok = True
    out = [
        "# Query plans on the bench archives",
        "",
        "Written by `python -m bench.plans` (bench/plans.py says how). Each scenario's URL",
        "was requested against the archive and every SELECT it sent was explained by the",
        "engine's planner with the archive's real sizes (PostgreSQL: EXPLAIN ANALYZE, with",
        "the statistics ANALYZE gathered after the load; SQLite: no ANALYZE, as the service",
        "runs). SQL ms: the statements' own time through the driver, best of three, summed.",
        "",
        "| archive | scenario | paged read served by an index, in order | statements | SQL ms |",
        "|---|---|---|---|---|",
    ]
    details = []
    for archive, found in runs:
        label = f"{archive.engine} {archive.claims:,}"
        for item in found:
            name = item["scenario"].name
            good = verdict(name, item["statements"])
            ok &= good
            shown = "yes" if good else "**NO**"
            if name not in ORDERED_LISTS:
                shown = f"n/a: {NOT_WALKS.get(name, 'not a list')}"
            ms = sum(statement["ms"] for statement in item["statements"])
            out.append(f"| {label} | {name} | {shown} | {len(item['statements'])} | {ms:.2f} |")
            details += ["", f"## {label}: {name}", "", f"`{item['scenario'].app_url}`", ""]
            for statement in item["statements"]:
                details += ["```sql", statement["sql"].strip(), "```", "```"]
                details += statement["plan"] + ["```"]
    return "\n".join(out + details) + "\n", ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=OUT)
    opts = parser.parse_args(argv)
    runs = []
    for engine in opts.engines.split(","):
        for size in (int(s) for s in opts.sizes.split(",")):
            archive = build.build(engine, size)
            scenarios = [s for s in read_scenarios(pick_params(archive.url)) if not s.html]
            runs.append((archive, explain(archive, scenarios)))
    text, ok = report(runs)
    opts.out.write_text(text)
    print(text.split("\n## ")[0])
    print(f"plans in {opts.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
