"""The benchmark: the service against its peers, on the same archives, in one run.

    python -m bench.run --sizes 10000,100000 --engines sqlite,postgresql

For each size and engine: build (or reuse) the archive, serve it with the service on
loopback and drive each read scenario with wrk (fixed connections and duration), then
the stance-POST scenario on a scratch copy. On SQLite the peers follow on the same data:
Datasette with the equivalent canned queries, and minimal FastAPI and Starlette apps
answering the service's own response bytes. Results go to bench/results/latest.json;
bench/report.py turns them into RESULTS.md and the plot.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import build, mixed, servers
from bench.load import load
from bench.peers import same_sql
from bench.scenarios import (
    SEARCH_WORD,
    Scenario,
    datasette_metadata,
    datasette_url,
    pick_params,
    read_scenarios,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WRK_TIMEOUT = "5s"
WRITE_CLIENTS = 8
SERVICE, SERVICE_UNCACHED = "claims-api", "claims-api (no cache)"
SAME_SQL = "same-sql (d)"
IMPORT_INCREMENT = 20_000  # claims imported into a full archive (about 70,000 stances)


def uptime() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def loadavg() -> list[float]:
    return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    # Debian's wrk; we run as root in the dev and CI containers.
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def wrk(
    url: str, *, connections: int, duration: float, script: str = "bench/wrk/report.lua",
    args: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    argv = [
        "wrk", "-t", "1", "-c", str(connections), "-d", f"{int(duration)}s",
        "--timeout", WRK_TIMEOUT, "-s", script, url,
    ]  # fmt: skip
    if args:
        argv += ["--", *args]
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=duration + 30, check=True
    )
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("{")][-1]
    raw = json.loads(line)
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in raw if k.startswith("errors_"))
    return {
        "rps": raw["requests"] / seconds,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "errors": errors,
    }


class Run:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.rows: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {}

    def measure(self, url: str, **labels: Any) -> dict[str, Any]:
        """A warm-up run, then the measured run."""
        if self.opts.warmup:
            wrk(url, connections=self.opts.connections, duration=self.opts.warmup)
        result = wrk(url, connections=self.opts.connections, duration=self.opts.duration)
        row = {**labels, **result, "loadavg": loadavg()}
        self.rows.append(row)
        print(
            f"  {labels['server']:<18} {labels['scenario']:<22} {result['rps']:8.0f} req/s  "
            f"p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms  "
            f"errors {result['errors']}",
            flush=True,
        )
        return row

    def service_reads(self, archive: build.Archive, scenarios: list[Scenario]) -> dict[str, str]:
        """Each read scenario against the service, as configured by default (repeated reads
        answered from the response cache) and with the cache off (every request runs its
        queries); returns the bodies it answered, which must be the same both ways."""
        labels = {"claims": archive.claims, "engine": archive.engine}
        bodies: dict[str, str] = {}
        for label, cache in ((SERVICE, True), (SERVICE_UNCACHED, False)):
            name = f"claims-api-{archive.engine}" + ("" if cache else "-uncached")
            with servers.claims_api(archive.url, name, cache=cache) as server:
                for scenario in scenarios:
                    answer = httpx.get(server.base + scenario.app_url, timeout=30)
                    if answer.status_code != 200 or not _answered(answer, scenario):
                        raise RuntimeError(
                            f"{scenario.name}: {answer.status_code} {answer.text[:200]}"
                        )
                    if bodies.setdefault(scenario.app_url, answer.text) != answer.text:
                        raise RuntimeError(f"{scenario.name}: the cache changed the answer")
                    self.measure(
                        server.base + scenario.app_url, **labels, server=label,
                        scenario=scenario.name,
                    )  # fmt: skip
                rss = server.peak_rss_mb()
            self.rows.append({**labels, "server": label, "scenario": "peak_rss_mb", "mb": rss})
            print(f"  {label} peak RSS {rss:.0f} MB", flush=True)
        return bodies

    def service_writes(self, archive: build.Archive, hot_claims: list[int]) -> None:
        labels = {"claims": archive.claims, "engine": archive.engine, "server": "claims-api"}
        url, drop = build.scratch_copy(archive, f"{archive.engine}-{archive.claims}")
        try:
            key = write_key(url)
            with servers.claims_api(url, f"claims-api-{archive.engine}-writes") as server:
                # A few untimed POSTs first: a fresh process's first write pays its cold
                # start, which on a busy machine can outlast a short run.
                with httpx.Client(base_url=server.base, timeout=60) as client:
                    for claim in hot_claims[:WRITE_CLIENTS]:
                        client.post(
                            f"/claims/{claim}/stances",
                            json={"source_id": "1", "stance": "asserts"},
                            headers={"Authorization": f"Bearer {key}"},
                        )
                result = wrk(
                    server.base, connections=WRITE_CLIENTS, duration=self.opts.duration,
                    script="bench/wrk/post_stance.lua",
                    args=[key, ",".join(map(str, hot_claims)), str(build_sources())],
                )  # fmt: skip
            row = {**labels, "scenario": "stance_posts", **result, "loadavg": loadavg()}
            if self.opts.check_writes:
                done = subprocess.run(
                    [str(ROOT / ".venv" / "bin" / "claims-api"), "check"],
                    env={**os.environ, "CLAIMS_DATABASE_URL": url},
                    capture_output=True, text=True, timeout=600,
                )  # fmt: skip
                row["check"] = done.stdout.strip().splitlines()[-1]
            self.rows.append(row)
            print(
                f"  claims-api         stance_posts ({WRITE_CLIENTS} clients) {result['rps']:6.0f} "
                f"req/s  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  "
                f"errors {result['errors']}  {row.get('check', '')}",
                flush=True,
            )
        finally:
            drop()

    def same_sql_reads(
        self, archive: build.Archive, scenarios: list[Scenario], bodies: dict[str, str]
    ) -> None:
        """Peer (d) on each read scenario: the service's SQL, the service's bytes."""
        labels = {"claims": archive.claims, "engine": archive.engine}
        with servers.same_sql(archive.url, f"same-sql-{archive.engine}") as server:
            for scenario in (s for s in scenarios if s.name in same_sql.SCENARIOS):
                answer = httpx.get(server.base + scenario.app_url, timeout=30)
                if answer.text != bodies[scenario.app_url]:
                    raise RuntimeError(f"peer (d) {scenario.name}: not the service's bytes")
                self.measure(
                    server.base + scenario.app_url, **labels, server=SAME_SQL,
                    scenario=scenario.name,
                )  # fmt: skip

    def mixed(self, archive: build.Archive, max_claim_id: int) -> None:
        """The mixed run (bench/mixed.py) on the service with its defaults, with the cache
        off, and on peer (d), each on a fresh copy of the archive and with the same writes."""
        roles = (SERVICE, SERVICE_UNCACHED, SAME_SQL)
        copies = [
            build.scratch_copy(archive, f"{archive.engine}-{archive.claims}-mixed-{i}")
            for i, _ in enumerate(roles)
        ]
        try:
            (ours, _), (uncached, _), (theirs, _) = copies
            keys = [write_key(url) for url, _ in copies]
            name = f"claims-api-{archive.engine}-mixed"
            factory = "bench.instrumented:create_app"
            with servers.claims_api(ours, name, factory=factory) as api:
                with httpx.Client(base_url=api.base, timeout=30) as client:
                    paths = mixed.mixed_urls(client, max_claim_id)
                path_file = mixed.write_paths(
                    paths, build.DATA / "mixed" / f"paths-{archive.engine}-{archive.claims}.txt"
                )
                with servers.same_sql(theirs, f"same-sql-{archive.engine}-check") as peer:
                    differ = mixed.bodies_differ(api.base, peer.base, paths)
                if differ:
                    raise RuntimeError(f"peer (d) differs from the service on {differ[:5]}")
                self.mixed_run(archive, SERVICE, api, api, keys[0], path_file, max_claim_id)
            with servers.claims_api(uncached, name + "-uncached", cache=False) as api:
                self.mixed_run(
                    archive, SERVICE_UNCACHED, api, api, keys[1], path_file, max_claim_id
                )
            # The peer cannot write: a claims-api process on the peer's copy takes the POSTs.
            with (
                servers.claims_api(theirs, name + "-writer", cache=False) as writer,
                servers.same_sql(theirs, f"same-sql-{archive.engine}-mixed") as peer,
            ):
                self.mixed_run(archive, SAME_SQL, peer, writer, keys[2], path_file, max_claim_id)
        finally:
            for _, drop in copies:
                drop()

    def mixed_run(
        self, archive: build.Archive, label: str, reader: servers.Server,
        writer: servers.Server, key: str, path_file: Path, max_claim_id: int,
    ) -> None:  # fmt: skip
        script, args = "bench/wrk/mixed.lua", [str(path_file)]
        connections = self.opts.connections
        counted = label == SERVICE
        # The writer starts with the warm-up, so the measured seconds are the steady state
        # of both (a writer process's first POST pays its cold start).
        mixed.prime(reader.base, path_file.read_text().split()[: mixed.PRIMED_URLS])
        posting = mixed.PacedWriter(writer.base, key, max_claim_id)
        posting.start()
        try:
            if self.opts.warmup:
                wrk(reader.base + "/", connections=connections, duration=self.opts.warmup,
                    script=script, args=args)  # fmt: skip
            before = mixed.cache_counts(reader.base) if counted else {}
            result = wrk(reader.base + "/", connections=connections,
                         duration=self.opts.duration, script=script, args=args)  # fmt: skip
            after = mixed.cache_counts(reader.base) if counted else {}
        finally:
            posting.stop()
        row: dict[str, Any] = {
            "claims": archive.claims, "engine": archive.engine, "server": label,
            "scenario": "mixed", **result, **posting.summary(), "loadavg": loadavg(),
            "urls": len(path_file.read_text().split()),
        }  # fmt: skip
        for outcome in ("hits", "misses"):
            if before.get(outcome) is not None and after.get(outcome) is not None:
                row[f"cache_{outcome}"] = after[outcome] - before[outcome]  # type: ignore[operator]
        self.rows.append(row)
        hits = f"  cache {row.get('cache_hits')} hits / {row.get('cache_misses')} misses"
        print(
            f"  {label:<22} mixed ({row['urls']} URLs, {row['writes_per_s']:.1f} writes/s) "
            f"{result['rps']:8.0f} req/s  p50 {result['p50_ms']:7.2f} ms  "
            f"p99 {result['p99_ms']:7.2f} ms  errors {result['errors']}+{row['write_errors']}"
            + (hits if counted else ""),
            flush=True,
        )

    def peers(
        self, archive: build.Archive, scenarios: list[Scenario], bodies: dict[str, str]
    ) -> None:
        labels = {"claims": archive.claims, "engine": archive.engine}
        work = build.DATA / "peers"
        work.mkdir(parents=True, exist_ok=True)
        responses = work / f"responses-{archive.claims}.json"
        responses.write_text(json.dumps(bodies))
        scenarios = [s for s in scenarios if not s.html]
        for kind in ("fastapi", "starlette"):
            with servers.minimal(kind, responses) as server:
                for scenario in scenarios:
                    answer = httpx.get(server.base + scenario.app_url, timeout=30)
                    assert answer.text == bodies[scenario.app_url], scenario.name
                    self.measure(
                        server.base + scenario.app_url, **labels, server=f"minimal-{kind}",
                        scenario=scenario.name,
                    )  # fmt: skip
        db_path = Path(sa.make_url(archive.url).database or "")
        metadata = work / f"datasette-{archive.claims}.json"
        datasette_metadata(db_path.stem, metadata)
        with servers.datasette(db_path, metadata) as server:
            for scenario in scenarios:
                url = server.base + datasette_url(db_path.stem, scenario)
                answer = httpx.get(url, timeout=30)
                if answer.status_code != 200 or not answer.json():
                    raise RuntimeError(f"datasette {scenario.name}: {answer.text[:300]}")
                self.measure(url, **labels, server="datasette", scenario=scenario.name)
            self.rows.append(
                {**labels, "server": "datasette", "scenario": "peak_rss_mb",
                 "mb": server.peak_rss_mb()}
            )  # fmt: skip

    def bulk_load(self, archive: build.Archive) -> None:
        """The bulk load rate: how the archive was built, by `claims-api import` (bench/load.py).
        A cached archive was timed when it was built; up to --import-max claims the run
        times a fresh load into a scratch database instead, so the figure is this run's."""
        stats = archive.built
        fresh = not archive.cached
        if (stats is None or archive.cached) and archive.claims <= self.opts.import_max:
            stats, fresh = build.timed_load(archive.engine, archive.claims), True
        if stats is None:
            return
        self.rows.append(
            {"claims": archive.claims, "engine": archive.engine, "server": "claims-api import",
             "scenario": "bulk_load", "stances": stats.stances, "seconds": stats.seconds,
             "stances_per_s": stats.stances_per_second, "cpu_seconds": stats.cpu_seconds,
             "stances_per_cpu_s": stats.stances_per_cpu_second, "loadavg": stats.loadavg,
             "cached": not fresh}
        )  # fmt: skip
        print(
            f"  claims-api import: {stats.stances_per_second:,.0f} stances/s wall clock, "
            f"{stats.stances_per_cpu_second:,.0f} per CPU second (load {stats.loadavg})",
            flush=True,
        )

    def bulk_into_archive(self, archive: build.Archive) -> None:
        """`claims-api import` of a further file into a copy of the full archive (issue 12:
        >= 10,000 stances/s into a 1M-claim one): the path of a non-empty database, where
        indexes are kept up to date row by row. The file is the generator's first claims
        again; its sources match the archive's by name, its claims and stances are new."""
        count = min(IMPORT_INCREMENT, archive.claims)
        url, drop = build.scratch_copy(archive, f"{archive.engine}-{archive.claims}-import")
        try:
            stats = load(url, count)
        finally:
            drop()
        self.rows.append(
            {"claims": archive.claims, "engine": archive.engine, "server": "claims-api import",
             "scenario": "bulk_into_archive", "imported_claims": count,
             "stances": stats.stances, "seconds": stats.seconds,
             "stances_per_s": stats.stances_per_second, "cpu_seconds": stats.cpu_seconds,
             "stances_per_cpu_s": stats.stances_per_cpu_second, "loadavg": stats.loadavg}
        )  # fmt: skip
        print(
            f"  claims-api import of {count:,} more claims into the {archive.claims:,}: "
            f"{stats.stances_per_second:,.0f} stances/s wall clock, "
            f"{stats.stances_per_cpu_second:,.0f} per CPU second (load {stats.loadavg})",
            flush=True,
        )

    def run(self) -> None:
        for size in self.opts.sizes:
            for engine in self.opts.engines:
                print(f"== {size} claims on {engine} (load {loadavg()})", flush=True)
                started = time.perf_counter()
                archive = build.build(engine, size)
                self.bulk_load(archive)
                if size >= self.opts.import_into_min:
                    self.bulk_into_archive(archive)
                print(f"  archive ready in {time.perf_counter() - started:.1f}s", flush=True)
                params = pick_params(archive.url)
                scenarios = read_scenarios(params)
                bodies = self.service_reads(archive, scenarios)
                if not self.opts.no_peers:
                    self.same_sql_reads(archive, scenarios, bodies)
                if not self.opts.no_mixed:
                    self.mixed(archive, max(params.hot_claims))
                if not self.opts.no_writes:
                    self.service_writes(archive, params.hot_claims)
                if engine == "sqlite" and not self.opts.no_peers:
                    self.peers(archive, scenarios, bodies)


def write_key(database_url: str) -> str:
    """A write-scoped API key, made in the database the writes go to."""
    from app.core.auth import Scope, create_key
    from app.core.config import Settings
    from app.core.db import make_engine

    engine = make_engine(Settings(database_url=database_url))
    try:
        return create_key(engine=engine, scope=Scope.write, name="bench")
    finally:
        engine.dispose()


def build_sources() -> int:
    from bench.generate import SOURCES

    return SOURCES


def versions() -> dict[str, str]:
    from importlib.metadata import version

    found = {"python": platform.python_version()}
    for package in ("fastapi", "starlette", "pydantic", "sqlalchemy", "uvicorn", "psycopg"):
        found[package] = version(package)
    datasette = servers.BENCH_VENV / "datasette"
    if datasette.exists():
        found["datasette"] = subprocess.run(
            [str(datasette), "--version"], capture_output=True, text=True
        ).stdout.split()[-1]
    found["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    found["sqlite"] = __import__("sqlite3").sqlite_version
    try:
        engine = sa.create_engine(build.POSTGRES_ADMIN_URL)
        with engine.connect() as conn:
            found["postgresql"] = conn.execute(sa.text("SHOW server_version")).scalar_one()
        engine.dispose()
    except sa.exc.OperationalError:
        pass
    return found


def machine() -> dict[str, Any]:
    cpu = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln]
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": cpu[0].split(":", 1)[1].strip() if cpu else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "kernel": platform.release(),
    }


def _answered(answer: httpx.Response, scenario: Scenario) -> bool:
    """A real answer: a JSON body that is not empty, or for the desk's pages HTML."""
    if scenario.html:
        return answer.headers.get("content-type", "").startswith("text/html")
    return bool(answer.json())


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="claims, comma-separated")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections for reads")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per run")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-writes", action="store_true")
    parser.add_argument("--no-mixed", action="store_true",
                        help="skip the mixed run (distinct URLs, stances written)")  # fmt: skip
    parser.add_argument("--check-writes", action="store_true",
                        help="run `claims-api check` on the database after the POSTs")  # fmt: skip
    parser.add_argument("--import-max", type=int, default=100_000,
                        help="largest cached archive to time an import of again")  # fmt: skip
    parser.add_argument("--import-into-min", type=int, default=1_000_000,
                        help="smallest archive to time an import into (a copy of) it")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    opts = parser.parse_args(argv)
    opts.sizes = [int(s) for s in opts.sizes.split(",")]
    opts.engines = opts.engines.split(",")
    ensure_wrk()
    started = datetime.now(UTC)
    run = Run(opts)
    load_before = loadavg()
    run.run()
    result = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "duration_s": opts.duration,
            "read_connections": opts.connections,
            "write_clients": WRITE_CLIENTS,
            "search_word": SEARCH_WORD,
            "mixed_writes_per_s": mixed.WRITES_PER_SECOND,
        },
        "rows": run.rows,
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"results in {opts.out}")
    return opts.out


if __name__ == "__main__":
    main()
