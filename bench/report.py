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
READS = ["disputed", "denied_by_state_media", "search", "search_relevance", "deep_page", "claim"]
LISTS = ["disputed", "denied_by_state_media", "search", "search_relevance", "deep_page"]
SERVICE, UNCACHED = "claims-api", "claims-api (no cache)"
SERVICES = [SERVICE, UNCACHED]
PEERS = ["datasette", "minimal-fastapi", "minimal-starlette"]
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
        elif r["scenario"] == "stance_posts" and "check" in r:
            out.append(
                f"| {r['claims']:,} | {r['engine']} | `claims-api check` after the POSTs | "
                f"{r['check']} |"
            )
    return "\n".join(out)


def targets_table(rows: list[dict[str, Any]], sizes: list[int], size: int) -> str:
    """Each target of the issue, its value in this run, and met or missed (and by how much)."""
    idx = _index(rows)
    out = ["| target | this run | verdict |", "|---|---|---|"]

    def line(target: str, value: float | None, goal: float, shown: str, higher: bool) -> None:
        if value is None:
            out.append(f"| {target} | not measured | - |")
            return
        met = value >= goal if higher else value <= goal
        by = value / goal if not higher else goal / value
        verdict = "met" if met else f"**missed, by {by:.2f}x**"
        out.append(f"| {target} | {shown} | {verdict} |")

    def get(*key: Any) -> dict[str, Any] | None:
        return idx.get(key)

    ours = get(size, "sqlite", SERVICE, "disputed")
    for peer, goal, name in (
        ("datasette", 2.5, "Datasette"),
        ("minimal-fastapi", 0.5, "minimal FastAPI"),
    ):
        theirs = get(size, "sqlite", peer, "disputed")
        ratio = ours["rps"] / theirs["rps"] if ours and theirs else None
        shown = (
            f"{ratio:.2f}x ({ours['rps']:,.0f} vs {theirs['rps']:,.0f} req/s)"
            if ours and theirs and ratio
            else "-"
        )
        line(f"disputed list >= {goal}x {name} (SQLite, {size:,})", ratio, goal, shown, True)
    smallest, largest = min(sizes), max(sizes)
    for engine in ("sqlite", "postgresql"):
        for server in SERVICES:
            ratios = []
            for scenario in LISTS:
                a, b = (
                    get(smallest, engine, server, scenario),
                    get(largest, engine, server, scenario),
                )
                if a and b:
                    ratios.append((b["p50_ms"] / a["p50_ms"], scenario))
            worst = max(ratios) if ratios and largest > smallest else None
            shown = f"worst {worst[0]:.2f}x ({worst[1]})" if worst else "-"
            line(
                f"{engine}, {server}: list p50 at {largest:,} within 1.3x of {smallest:,}",
                worst[0] if worst else None, 1.3, shown, False,
            )  # fmt: skip
    for claims in sizes:
        ratios = []
        for scenario in READS:
            a, b = (
                get(claims, "sqlite", SERVICE, scenario),
                get(claims, "postgresql", SERVICE, scenario),
            )
            if a and b:
                ratios.append((b["p50_ms"] / a["p50_ms"], scenario))
        worst = max(ratios) if ratios else None
        shown = f"worst p50 ratio {worst[0]:.2f}x ({worst[1]})" if worst else "-"
        line(
            f"PostgreSQL within 1.5x of SQLite, every read ({claims:,})",
            worst[0] if worst else None, 1.5, shown, False,
        )  # fmt: skip
    posts = get(size, "sqlite", SERVICE, "stance_posts")
    value = posts["rps"] if posts and posts["errors"] == 0 else None
    shown = f"{posts['rps']:,.0f}/s, {posts['errors']} errors" if posts else "-"
    line(
        f"stance POSTs >= 1,000/s, 8 clients, no error (SQLite, {size:,})", value, 1000, shown, True
    )
    bulk = [r for r in rows if r["scenario"] == "bulk_load" and r["server"] == "claims-api import"]
    # The target size's own import, timed in this run, when there is one.
    at_size = [r for r in bulk if r["claims"] == size and r["engine"] == "sqlite"]
    best = (at_size or sorted(bulk, key=lambda r: r["claims"]))[-1] if bulk else None
    shown = f"{best['stances_per_s']:,.0f} stances/s ({best['claims']:,} claims)" if best else "-"
    line(
        "bulk load >= 20,000 stances/s (`claims-api import`)",
        best["stances_per_s"] if best else None,
        20000,
        shown,
        True,
    )
    rss = [
        r["mb"]
        for r in rows
        if r["scenario"] == "peak_rss_mb" and r["claims"] == largest and r["server"] in SERVICES
    ]
    shown = f"{max(rss):.0f} MB at {largest:,} claims" if rss else "-"
    line(
        f"peak RSS < 200 MB serving {largest:,} claims",
        max(rss) if rss else None,
        200,
        shown,
        False,
    )
    return "\n".join(out)


def render(result: dict[str, Any]) -> str:
    rows = result["rows"]
    sizes = sorted({r["claims"] for r in rows})
    engines = [e for e in ("sqlite", "postgresql") if any(r["engine"] == e for r in rows)]
    peer_size = TARGET_SIZE if TARGET_SIZE in sizes else max(sizes)
    m, v, s = result["machine"], result["versions"], result["settings"]
    parts = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (bench/run.py, then bench/report.py); the analysis is in "
        "bench/NOTES.md, appended below. How the bench works: bench/README.md.",
        "",
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
        "",
        "## The targets of issue 3, computed from this run",
        "",
        targets_table(rows, sizes, peer_size),
        "",
        f"## Service against peers (SQLite, {peer_size:,} claims, same run)",
        "",
        "Ratio = claims-api req/s divided by the peer's. Datasette runs the equivalent SQL as "
        "canned queries on the same file; the minimal apps return the service's own bytes.",
        "",
        "With the service's defaults (repeated reads answered from the response cache while "
        "the data version holds):",
        "",
        peer_table(rows, peer_size, SERVICE),
        "",
        "With the cache off (`CLAIMS_RESPONSE_CACHE_BYTES=0`: every request runs its queries):",
        "",
        peer_table(rows, peer_size, UNCACHED),
        "",
        "## The service, every scenario",
        "",
        service_table(rows, sizes, engines),
        "",
        "## Scaling with archive size (p50)",
        "",
        scaling_table(rows, sizes, engines, SERVICE),
        "",
        "The same with the cache off:",
        "",
        scaling_table(rows, sizes, engines, UNCACHED),
        "",
        "![latency and throughput against archive size](scaling.png)",
        "",
        "## PostgreSQL against SQLite",
        "",
        engine_table(rows, sizes, SERVICE),
        "",
        "The same with the cache off:",
        "",
        engine_table(rows, sizes, UNCACHED),
        "",
        "## Memory and loading",
        "",
        other_table(rows),
        "",
    ]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", nargs="?", type=Path, default=ROOT / "bench/results/latest.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/RESULTS.md")
    parser.add_argument("--no-plot", action="store_true")
    opts = parser.parse_args()
    result = json.loads(opts.results.read_text())
    text = render(result)
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
