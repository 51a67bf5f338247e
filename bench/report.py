"""Turn bench/results/latest.json into bench/RESULTS.md tables (and call the plot).

    python -m bench.report [results.json] [--out bench/RESULTS.md]

The notes on targets and profiles live in bench/NOTES.md and are appended as written, so
a rerun refreshes the numbers without losing the analysis.
"""

import argparse
import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READS = [
    "disputed", "denied_by_state_media", "search", "search_relevance", "deep_page", "claim",
    "as_of_disputed", "as_of_recent", "timeline",
]  # fmt: skip
LISTS = [
    "disputed", "denied_by_state_media", "search", "search_relevance", "deep_page",
    "as_of_disputed", "as_of_recent",
]  # fmt: skip
SERVICE, UNCACHED = "claims-api", "claims-api (no cache)"
SERVICES = [SERVICE, UNCACHED]
SAME_SQL = "same-sql (d)"
PEERS = [SAME_SQL, "datasette", "minimal-fastapi", "minimal-starlette"]
MIXED_SERVERS = [SERVICE, UNCACHED, SAME_SQL]
TARGET_SIZE = 100_000


def _index(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {(r["claims"], r["engine"], r["server"], r["scenario"]): r for r in rows}


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def service_table(rows: list[dict[str, Any]], sizes: list[int], engines: list[str]) -> str:
    idx = _index(rows)
    out = [
        "| claims | engine | server | scenario | req/s | p50 ms | p99 ms | errors | "
        "load avg (1 min) |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for engine in engines:
            for server, scenario in [
                *((server, scenario) for server in SERVICES for scenario in READS),
                (SERVICE, "stance_posts"),
            ]:
                r = idx.get((size, engine, server, scenario))
                if r is None:
                    continue
                out.append(
                    f"| {size:,} | {engine} | {server} | {scenario} | {_fmt(r['rps'])} | "
                    f"{_fmt(r['p50_ms'], 2)} | {_fmt(r['p99_ms'], 2)} | {r['errors']} | "
                    f"{r['loadavg'][0]:.1f} |"
                )
    return "\n".join(out)


def peer_table(rows: list[dict[str, Any]], size: int, server: str) -> str:
    idx = _index(rows)
    out = [
        f"| scenario | {server} req/s | "
        + " | ".join(f"{p} req/s | ratio" for p in PEERS)
        + f" | {server} p50 ms | "
        + " | ".join(f"{p} p50 ms" for p in PEERS)
        + " |",
        "|---|---:|" + "---:|---:|" * len(PEERS) + "---:|" + "---:|" * len(PEERS),
    ]
    for scenario in READS:
        ours = idx.get((size, "sqlite", server, scenario))
        if ours is None:
            continue
        cells = [scenario, _fmt(ours["rps"])]
        p50s = [_fmt(ours["p50_ms"], 2)]
        for peer in PEERS:
            theirs = idx.get((size, "sqlite", peer, scenario))
            if theirs is None:
                cells += ["-", "-"]
                p50s.append("-")
                continue
            cells += [_fmt(theirs["rps"]), f"{ours['rps'] / theirs['rps']:.2f}x"]
            p50s.append(_fmt(theirs["p50_ms"], 2))
        out.append("| " + " | ".join(cells + p50s) + " |")
    return "\n".join(out)


def scaling_table(
    rows: list[dict[str, Any]], sizes: list[int], engines: list[str], server: str
) -> str:
    idx = _index(rows)
    smallest = min(sizes)
    out = [
        "| engine | scenario | "
        + " | ".join(f"p50 ms @ {s:,}" for s in sizes)
        + f" | largest / {smallest:,} |",
        "|---|---|" + "---:|" * (len(sizes) + 1),
    ]
    for engine in engines:
        for scenario in READS:
            cells = [idx.get((s, engine, server, scenario)) for s in sizes]
            if not any(cells):
                continue
            values = [c["p50_ms"] if c else None for c in cells]
            ratio = "-"
            if values[0] and values[-1]:
                ratio = f"{values[-1] / values[0]:.2f}x"
            cells_text = " | ".join(_fmt(v, 2) for v in values)
            out.append(f"| {engine} | {scenario} | {cells_text} | {ratio} |")
    return "\n".join(out)


def engine_table(rows: list[dict[str, Any]], sizes: list[int], server: str) -> str:
    idx = _index(rows)
    out = [
        "| claims | scenario | SQLite p50 ms | PostgreSQL p50 ms | PG/SQLite p50 | "
        "SQLite req/s | PostgreSQL req/s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for scenario in [*READS, "stance_posts"]:
            a = idx.get((size, "sqlite", server, scenario))
            b = idx.get((size, "postgresql", server, scenario))
            if not (a and b):
                continue
            out.append(
                f"| {size:,} | {scenario} | {_fmt(a['p50_ms'], 2)} | {_fmt(b['p50_ms'], 2)} | "
                f"{b['p50_ms'] / a['p50_ms']:.2f}x | {_fmt(a['rps'])} | {_fmt(b['rps'])} |"
            )
    return "\n".join(out)


def other_table(rows: list[dict[str, Any]]) -> str:
    out = ["| claims | engine | what | value |", "|---:|---|---|---|"]
    for r in rows:
        if r["scenario"] == "peak_rss_mb":
            what = f"peak RSS of {r['server']}"
            out.append(f"| {r['claims']:,} | {r['engine']} | {what} | {r['mb']:.0f} MB |")
        elif r["scenario"] == "bulk_load":
            note = " (measured when the cached archive was built)" if r.get("cached") else ""
            cpu = ""
            if r.get("stances_per_cpu_s"):
                cpu = f", {r['stances_per_cpu_s']:,.0f} per CPU second of the import"
            if r.get("loadavg") is not None:
                note += f" (load {r['loadavg']:.1f})"
            out.append(
                f"| {r['claims']:,} | {r['engine']} | {r['server']}: {r['stances']:,} stances "
                f"in {r['seconds']:.1f} s{note} | {r['stances_per_s']:,.0f} stances/s{cpu} |"
            )
        elif r["scenario"] == "bulk_into_archive":
            out.append(
                f"| {r['claims']:,} | {r['engine']} | claims-api import of {r['stances']:,} "
                f"stances ({r['imported_claims']:,} claims) into a copy of the archive, in "
                f"{r['seconds']:.1f} s (load {r['loadavg']:.1f}) | {r['stances_per_s']:,.0f} "
                f"stances/s, {r['stances_per_cpu_s']:,.0f} per CPU second of the import |"
            )
        elif r["scenario"] == "stance_posts" and "check" in r:
            out.append(
                f"| {r['claims']:,} | {r['engine']} | `claims-api check` after the POSTs | "
                f"{r['check']} |"
            )
    return "\n".join(out)


def mixed_table(rows: list[dict[str, Any]], sizes: list[int], engines: list[str]) -> str:
    """The headline: distinct URLs while stances are written, each server against peer (d)."""
    idx = _index(rows)
    out = [
        "| claims | engine | server | distinct URLs | req/s | ratio to (d) | p50 ms | p99 ms | "
        "errors | writes/s (errors) | cache hits / misses (hit rate) | load avg (1 min) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for size in sizes:
        for engine in engines:
            peer = idx.get((size, engine, SAME_SQL, "mixed"))
            for server in MIXED_SERVERS:
                r = idx.get((size, engine, server, "mixed"))
                if r is None:
                    continue
                ratio = f"{r['rps'] / peer['rps']:.2f}x" if peer else "-"
                out.append(
                    f"| {size:,} | {engine} | {server} | {r['urls']:,} | {_fmt(r['rps'])} | "
                    f"{ratio} | {_fmt(r['p50_ms'], 2)} | {_fmt(r['p99_ms'], 2)} | {r['errors']} | "
                    f"{r['writes_per_s']:.1f} ({r['write_errors']}) | {_cache_cell(r)} | "
                    f"{r['loadavg'][0]:.1f} |"
                )
    return "\n".join(out)


def _cache_cell(row: dict[str, Any]) -> str:
    if row["server"] != SERVICE:
        return "- (no cache)"
    hits, misses = row.get("cache_hits"), row.get("cache_misses")
    if hits is None or misses is None:
        return "not measured (hook: bench/instrumented.py)"
    rate = hits / (hits + misses) if hits + misses else 0.0
    return f"{hits:,} / {misses:,} ({rate:.0%})"


def hit_rate(row: dict[str, Any] | None) -> float | None:
    if row is None or row.get("cache_hits") is None or row.get("cache_misses") is None:
        return None
    total = row["cache_hits"] + row["cache_misses"]
    return float(row["cache_hits"] / total) if total else 0.0


class Targets:
    """Rows of the targets table: a target, its value in this run, and met or missed (by
    how much: the factor between the goal and the value)."""

    def __init__(self) -> None:
        self.out = ["| target | this run | verdict |", "|---|---|---|"]

    def line(
        self, target: str, value: float | None, goal: float, shown: str, higher: bool,
        failed: str | None = None,
    ) -> None:  # fmt: skip
        if value is None:
            self.out.append(f"| {target} | not measured | - |")
            return
        met = value >= goal if higher else value < goal
        by = goal / value if higher else value / goal
        verdict = "met" if met else f"**missed, by {by:.2f}x**"
        if failed:
            verdict = f"**missed: {failed}**"
        self.out.append(f"| {target} | {shown} | {verdict} |")

    def worst_ratio(
        self, target: str, worst: tuple[float, str] | None, goal: float, higher: bool,
        label: str = "worst",
    ) -> None:  # fmt: skip
        """A target on the worst ratio over scenarios (from _worst_ratio), and which it was."""
        shown = f"{label} {worst[0]:.2f}x ({worst[1]})" if worst else "-"
        self.line(target, worst[0] if worst else None, goal, shown, higher)

    def shown_only(self, target: str, shown: str | None) -> None:
        self.out.append(f"| {target} | {shown or 'not measured'} | {'shown' if shown else '-'} |")

    def text(self) -> str:
        return "\n".join(self.out)


def _worst_ratio(
    idx: dict[tuple[Any, ...], dict[str, Any]], a: tuple[Any, ...], b: tuple[Any, ...],
    key: str, scenarios: list[str], higher: bool,
) -> tuple[float, str] | None:  # fmt: skip
    """The worst over scenarios of row(a + scenario)[key] / row(b + scenario)[key]."""
    ratios = []
    for scenario in scenarios:
        x, y = idx.get((*a, scenario)), idx.get((*b, scenario))
        if x and y and y[key]:
            ratios.append((x[key] / y[key], scenario))
    if not ratios:
        return None
    return min(ratios) if higher else max(ratios)


def targets_table(rows: list[dict[str, Any]], sizes: list[int], size: int) -> str:
    """Each target of issue 12 ("Targets"), computed from this run."""
    idx = _index(rows)
    t = Targets()
    for peer, goal, name in ((SAME_SQL, 1.0, "peer (d)"), ("datasette", 2.5, "Datasette")):
        worst = _worst_ratio(
            idx, (size, "sqlite", UNCACHED), (size, "sqlite", peer), "rps", READS, True
        )
        t.worst_ratio(
            f"uncached reads >= {goal}x {name}, every read scenario (SQLite, {size:,})",
            worst, goal, True,
        )  # fmt: skip
    for claims in sizes:
        worst = _worst_ratio(
            idx, (claims, "postgresql", UNCACHED), (claims, "sqlite", UNCACHED), "p50_ms",
            READS, False,
        )  # fmt: skip
        t.worst_ratio(
            f"uncached reads: PostgreSQL p50 within 1.5x of SQLite, every read ({claims:,})",
            worst, 1.5, False, label="worst p50 ratio",
        )  # fmt: skip
    for engine in ("sqlite", "postgresql"):
        ours, theirs = (
            idx.get((size, engine, SERVICE, "mixed")),
            idx.get((size, engine, SAME_SQL, "mixed")),
        )
        ratio, shown = None, "-"
        if ours and theirs:
            ratio = ours["rps"] / theirs["rps"]
            shown = f"{ratio:.2f}x ({ours['rps']:,.0f} vs {theirs['rps']:,.0f} req/s)"
        t.line(f"mixed run >= 1.0x of peer (d) ({engine}, {size:,})", ratio, 1.0, shown, True)
        p99 = ours["p99_ms"] if ours else None
        t.line(f"mixed run p99 < 50 ms ({engine}, {size:,})", p99, 50, f"{_fmt(p99, 1)} ms", False)
        rate = hit_rate(ours)
        t.shown_only(
            f"response cache hit rate in the mixed run ({engine}, {size:,})",
            None if rate is None else _cache_cell(ours or {}),
        )
    for engine in ("sqlite", "postgresql"):
        posts = idx.get((size, engine, SERVICE, "stance_posts"))
        failed = None
        if posts and posts["errors"]:
            failed = f"{posts['errors']} errors"
        elif posts and posts.get("check", "0 mismatch(es) found") != "0 mismatch(es) found":
            failed = f"`claims-api check`: {posts['check']}"
        shown = "-"
        if posts:
            check = posts.get("check", "not run (--check-writes)")
            shown = f"{posts['rps']:,.0f}/s, {posts['errors']} errors, check: {check}"
        t.line(
            f"stance POSTs >= 1,000/s, 8 clients, 0 errors, 0 mismatches ({engine}, {size:,})",
            posts["rps"] if posts else None, 1000, shown, True, failed,
        )  # fmt: skip
    bulk = [r for r in rows if r["scenario"] == "bulk_load" and r["server"] == "claims-api import"]
    for engine in ("sqlite", "postgresql"):
        # The target size's own import, timed in this run, when there is one.
        mine = [r for r in bulk if r["engine"] == engine]
        at_size = [r for r in mine if r["claims"] == size]
        best = (at_size or sorted(mine, key=lambda r: r["claims"]))[-1] if mine else None
        shown = (
            f"{best['stances_per_s']:,.0f} stances/s ({best['claims']:,} claims)" if best else "-"
        )
        t.line(
            f"bulk: `claims-api import` >= 20,000 stances/s into an empty archive ({engine})",
            best["stances_per_s"] if best else None, 20000, shown, True,
        )  # fmt: skip
    into = [r for r in rows if r["scenario"] == "bulk_into_archive"]
    for engine in ("sqlite", "postgresql"):
        # Into the largest archive of the run (the target's is 1M claims).
        mine = sorted((r for r in into if r["engine"] == engine), key=lambda r: r["claims"])
        r = mine[-1] if mine else None
        shown = "-"
        if r:
            shown = (
                f"{r['stances_per_s']:,.0f} stances/s ({r['imported_claims']:,} claims into "
                f"{r['claims']:,})"
            )
        t.line(
            f"bulk: `claims-api import` >= 10,000 stances/s into a 1M-claim archive ({engine})",
            r["stances_per_s"] if r else None, 10000, shown, True,
        )  # fmt: skip
    smallest, largest = min(sizes), max(sizes)
    for engine in ("sqlite", "postgresql"):
        for server in SERVICES:
            worst = None
            if largest > smallest:
                worst = _worst_ratio(
                    idx, (largest, engine, server), (smallest, engine, server), "p50_ms",
                    LISTS, False,
                )  # fmt: skip
            t.worst_ratio(
                f"scale: {engine}, {server}: list p50 at {largest:,} within 1.3x of {smallest:,}",
                worst, 1.3, False,
            )  # fmt: skip
    # Issue 11: status over time costs at most half again the present-time disputed list.
    for engine in ("sqlite", "postgresql"):
        for scenario in ("as_of_disputed", "as_of_recent", "timeline"):
            a = idx.get((largest, engine, UNCACHED, "disputed"))
            b = idx.get((largest, engine, UNCACHED, scenario))
            ratio = b["p50_ms"] / a["p50_ms"] if a and b else None
            shown = f"{ratio:.2f}x ({b['p50_ms']:.2f} vs {a['p50_ms']:.2f} ms)" if a and b else "-"
            t.line(
                f"{engine}, no cache: {scenario} p50 within 1.5x of disputed ({largest:,})",
                ratio, 1.5, shown, False,
            )  # fmt: skip
    rss = [
        r["mb"]
        for r in rows
        if r["scenario"] == "peak_rss_mb" and r["claims"] == largest and r["server"] in SERVICES
    ]
    shown = f"{max(rss):.0f} MB at {largest:,} claims" if rss else "-"
    t.line(
        f"peak RSS < 200 MB serving {largest:,} claims", max(rss) if rss else None, 200, shown,
        False,
    )  # fmt: skip
    return t.text()


def caveats(result: dict[str, Any], smoke: bool) -> list[str]:
    """Warnings above the tables when their figures cannot be read as the service's speed."""
    found = []
    if smoke:
        found.append(
            "**Smoke run** (`make bench-quick`): it proves the scripts work end to end. Its "
            "figures are not representative; `make bench` makes the real ones."
        )
    cores = result["machine"].get("cores") or 1
    busiest = max(result["loadavg_before"][0], result["loadavg_after"][0])
    if busiest > cores:
        found.append(
            f"**The machine was busy**: a 1-minute load average of up to {busiest:.1f} on "
            f"{cores} cores, so other work shared the CPU with wrk and the servers. The "
            "figures are not representative, not even as ratios."
        )
    return [f"> {text}" for text in found]


def render(result: dict[str, Any], smoke: bool = False) -> str:
    rows = result["rows"]
    sizes = sorted({r["claims"] for r in rows})
    engines = [e for e in ("sqlite", "postgresql") if any(r["engine"] == e for r in rows)]
    peer_size = TARGET_SIZE if TARGET_SIZE in sizes else max(sizes)
    m, v, s = result["machine"], result["versions"], result["settings"]
    facts = [  # about the run: one bullet list
        f"- Run: {result['started_at']} to {result['finished_at']} (UTC)",
        f"- Command: `{result['command']}`",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}; "
        "wrk, the server and PostgreSQL share those cores, so absolute numbers are noisy: "
        "compare the ratios within this run.",
        f"- Load average (1, 5, 15 min) before: {result['loadavg_before']}, after: "
        f"{result['loadavg_after']}; each row below also records the 1-minute load when it ran.",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- wrk: 1 thread, {s['read_connections']} connections for reads, "
        f"{s['write_clients']} for writes, {s['duration_s']} s per scenario after 1 s of "
        f"warm-up; the service runs one uvicorn worker (no rate limit, no webhook sender).",
    ]
    # Blocks (paragraphs, headings, tables, that list), one blank line between each.
    blocks = [
        "# Benchmark results",
        *caveats(result, smoke),
        "Generated by `make bench` (bench/run.py, then bench/report.py); the analysis is in "
        "bench/NOTES.md, appended below. How the bench works: bench/README.md.",
        "\n".join(facts),
        "## The mixed run: distinct URLs while stances are written",
        "How a desk uses the service all morning (bench/mixed.py): wrk cycles through about "
        "1,000 distinct URLs (status, stance and source-kind filters, searches, places and "
        "languages, each walked down by its real cursors, and claim ids) while a paced writer "
        f"posts {s.get('mixed_writes_per_s', 5):g} stances/s (POST /claims/{{id}}/stances). "
        "Each server starts from a fresh copy of the archive and gets the same writes in the "
        "same order; peer (d)'s go through a claims-api process on its copy. Ratio = req/s "
        "divided by peer (d)'s; cache hits and misses are the service's own, counted during "
        "the measured seconds (bench/instrumented.py).",
        mixed_table(rows, sizes, engines),
        "## The targets of issue 12, computed from this run",
        targets_table(rows, sizes, peer_size),
        f"## Service against peers (SQLite, {peer_size:,} claims, same run)",
        "**One URL repeated, no writes**: each scenario below is one URL, asked again and "
        "again while nothing changes; with the defaults, the service answers all but the "
        "first from its response cache. The mixed run above is the figure for a moving "
        "story.",
        "Ratio = claims-api req/s divided by the peer's. Peer (d), same-sql, runs the "
        "service's own SQL through the stdlib driver and builds the same bytes "
        "(bench/peers/same_sql.py); Datasette runs the equivalent SQL as canned queries on "
        "the same file; the minimal apps return the service's own bytes, precomputed: the "
        "framework's ceiling.",
        "With the service's defaults (one URL repeated, no writes: cache hits):",
        peer_table(rows, peer_size, SERVICE),
        "With the cache off (`CLAIMS_RESPONSE_CACHE_BYTES=0`: every request runs its "
        "queries; one URL repeated, no writes):",
        peer_table(rows, peer_size, UNCACHED),
        "## The service, every scenario",
        service_table(rows, sizes, engines),
        "## Scaling with archive size (p50)",
        scaling_table(rows, sizes, engines, SERVICE),
        "The same with the cache off:",
        scaling_table(rows, sizes, engines, UNCACHED),
        "![latency and throughput against archive size](scaling.png)",
        "## PostgreSQL against SQLite",
        engine_table(rows, sizes, SERVICE),
        "The same with the cache off:",
        engine_table(rows, sizes, UNCACHED),
        "## Memory and loading",
        other_table(rows),
    ]
    return "\n\n".join(blocks) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", nargs="?", type=Path, default=ROOT / "bench/results/latest.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/RESULTS.md")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="label the figures a smoke run's")
    opts = parser.parse_args()
    result = json.loads(opts.results.read_text())
    text = render(result, smoke=opts.smoke)
    notes = ROOT / "bench/NOTES.md"
    if notes.exists():
        text += "\n" + notes.read_text()
    opts.out.write_text(text)
    if not opts.no_plot:
        plot = ROOT / "bench/.venv/bin/python"
        if plot.exists():
            subprocess.run(
                [str(plot), str(ROOT / "bench/plot.py"), str(opts.results),
                 str(opts.out.parent / "scaling.png")],
                check=True,
            )  # fmt: skip
    print(f"wrote {opts.out}")


def by_size(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        grouped[r["claims"]].append(r)
    return grouped


if __name__ == "__main__":
    main()
