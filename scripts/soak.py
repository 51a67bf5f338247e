#!/usr/bin/env python3
"""Soak: a bounded mixed read/write load on the real server, on loopback, for minutes.

It starts `claims-api serve` on 127.0.0.1 over a new database (a SQLite file in a temporary
directory, or a new PostgreSQL database it creates and drops), mints a write key with
`claims-api keys create`, and runs THREADS clients for DURATION seconds (and at most
MAX_REQUESTS requests): lists with filters and cursors, single reads, stance histories,
new claims and stances, edits and deletes. Every SAMPLE_EVERY seconds it reads the
server's resident memory (VmRSS from /proc). At the end it runs `claims-api check`.

It prints requests by status and by operation, latencies, and memory over time: the mean
RSS of the first minute, of the minute in the middle of the run and of the last minute. It
exits 1 if any request got a 5xx or no answer, if `claims-api check` found a mismatch, or if
memory keeps growing: the last minute's mean above the middle minute's by more than
--max-late-growth-pct. The first minute is reported, not judged: caches (SQLite's page
cache on each pooled connection, the allocator's arenas) fill up while the load warms up,
and then hold; a leak shows as growth that goes on through the second half.

    python scripts/soak.py                       # SQLite, 4 threads, 300 s
    python scripts/soak.py --duration 60 --threads 2
    python scripts/soak.py --engine postgresql   # a database on CLAIMS_TEST_POSTGRES_URL
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"  # loopback only, by design: there is no option to aim it elsewhere
MAX_DURATION = 3600
MAX_THREADS = 16
POSTGRES_ADMIN_URL = os.environ.get(
    "CLAIMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
AFFILIATIONS = ["Syrian opposition", "Syrian government", "Russia", None]
KINDS = ["armed_group", "state_media", "monitor", "news_agency", "government", "ngo"]
STATUSES = ["unsourced", "asserted", "corroborated", "denied", "disputed"]

# Operation mix: weights out of 100.
MIX = {
    "list_claims": 28,
    "list_claims_page2": 5,
    "get_claim": 20,
    "claim_stances": 10,
    "list_sources": 4,
    "healthz": 3,
    "create_stance": 20,
    "create_claim": 5,
    "update_claim": 3,
    "delete_claim": 2,
}


def claims_api() -> str:
    beside = Path(sys.executable).with_name("claims-api")
    found = str(beside) if beside.exists() else shutil.which("claims-api")
    if found is None:
        sys.exit("claims-api is not installed: run `make install` and use .venv/bin/python")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Database:
    """A new, empty database for the soak; removed afterwards."""

    def __init__(self, engine: str, workdir: Path) -> None:
        self.engine = engine
        self._admin: Any = None
        if engine == "sqlite":
            self.url = f"sqlite:///{workdir / 'soak.db'}"
            return
        import sqlalchemy as sa

        self._admin = sa.create_engine(
            POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        self.name = f"claims_soak_{uuid.uuid4().hex[:10]}"
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        self.url = (
            sa.make_url(POSTGRES_ADMIN_URL)
            .set(database=self.name)
            .render_as_string(hide_password=False)
        )

    def drop(self) -> None:
        if self._admin is None:
            return
        import sqlalchemy as sa

        with self._admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: Counter[str] = Counter()
        self.by_op: dict[str, Counter[str]] = defaultdict(Counter)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.server_errors: list[str] = []
        self.total = 0

    def record(self, op: str, status: str, seconds: float, detail: str = "") -> None:
        with self.lock:
            self.total += 1
            self.by_status[status] += 1
            self.by_op[op][status] += 1
            self.latencies[op].append(seconds)
            if status == "error" and len(self.errors) < 20:
                self.errors.append(f"{op}: {detail}")
            if status.startswith("5") and len(self.server_errors) < 20:
                self.server_errors.append(f"{op} {status}: {detail[:300]}")


class Pool:
    """Ids the clients share: claims may be deleted by one client while another uses them."""

    def __init__(self, claims: list[str], sources: list[str]) -> None:
        self.lock = threading.Lock()
        self.claims = list(claims)
        self.sources = list(sources)

    def claim(self, rng: random.Random) -> str:
        with self.lock:
            return rng.choice(self.claims)

    def add(self, claim_id: str) -> None:
        with self.lock:
            self.claims.append(claim_id)

    def take_deletable(self, rng: random.Random, keep: int) -> str | None:
        with self.lock:
            if len(self.claims) <= keep:
                return None
            return self.claims.pop(rng.randrange(len(self.claims)))


def one_request(
    client: httpx.Client, rng: random.Random, op: str, pool: Pool, auth: dict[str, str]
) -> httpx.Response | None:
    if op == "list_claims":
        params: dict[str, Any] = {"limit": rng.choice([5, 20, 50])}
        if rng.random() < 0.5:
            params["status"] = rng.sample(STATUSES, k=rng.randint(1, 2))
        if rng.random() < 0.3:
            params["tag"] = f"soak-{rng.randrange(10)}"
        if rng.random() < 0.2:
            params["stance"] = rng.choice(["asserts", "denies"])
            params["source_kind"] = rng.choice(KINDS)
        if rng.random() < 0.2:
            params["sort"] = rng.choice(["updated_at", "-created_at", "created_at"])
        return client.get("/claims", params=params)
    if op == "list_claims_page2":
        first = client.get("/claims", params={"limit": 10})
        cursor = first.json().get("next_cursor") if first.status_code == 200 else None
        if not cursor:
            return first
        return client.get("/claims", params={"limit": 10, "cursor": cursor})
    if op == "get_claim":
        return client.get(f"/claims/{pool.claim(rng)}")
    if op == "claim_stances":
        return client.get(f"/claims/{pool.claim(rng)}/stances", params={"limit": 20})
    if op == "list_sources":
        return client.get("/sources", params={"kind": rng.choice(KINDS)})
    if op == "healthz":
        return client.get("/healthz")
    if op == "create_stance":
        return client.post(
            f"/claims/{pool.claim(rng)}/stances",
            headers=auth,
            json={
                "source_id": rng.choice(pool.sources),
                "stance": rng.choice(["asserts", "denies"]),
                "quote": f"soak quote {rng.getrandbits(40):x}",
                "url": "https://example.org/report",
            },
        )
    if op == "create_claim":
        response = client.post(
            "/claims",
            headers=auth,
            json={
                "text": f"Soak claim {uuid.uuid4().hex}: forces entered a district of Hama.",
                "place": "Hama",
                "tags": ["syria", f"soak-{rng.randrange(10)}"],
            },
        )
        if response.status_code == 201:
            pool.add(response.json()["id"])
        return response
    if op == "update_claim":
        return client.patch(
            f"/claims/{pool.claim(rng)}",
            headers=auth,
            json={"place": rng.choice(["Hama", "Homs", "Aleppo"])},
        )
    if op == "delete_claim":
        claim_id = pool.take_deletable(rng, keep=40)
        if claim_id is None:
            return None
        return client.delete(f"/claims/{claim_id}", headers=auth)
    raise ValueError(op)


def worker(
    number: int,
    base_url: str,
    auth: dict[str, str],
    pool: Pool,
    stats: Stats,
    deadline: float,
    budget: threading.Semaphore,
    stop: threading.Event,
) -> None:
    rng = random.Random(number)
    ops, weights = list(MIX), list(MIX.values())
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while time.monotonic() < deadline and not stop.is_set():
            if not budget.acquire(blocking=False):
                return
            op = rng.choices(ops, weights)[0]
            started = time.perf_counter()
            try:
                response = one_request(client, rng, op, pool, auth)
            except httpx.TransportError as exc:
                stats.record(op, "error", time.perf_counter() - started, repr(exc))
                continue
            if response is not None:
                stats.record(
                    op,
                    str(response.status_code),
                    time.perf_counter() - started,
                    response.text if response.status_code >= 500 else "",
                )


def start_server(database_url: str, port: int, log_path: Path, log_level: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_")}
    env.update(
        CLAIMS_DATABASE_URL=database_url,
        # The limiter stays on (its table is part of what must not grow), set out of the way.
        CLAIMS_RATE_LIMIT_PER_MINUTE="10000000",
        CLAIMS_LOG_LEVEL=log_level,
    )
    log = log_path.open("ab")
    process = subprocess.Popen(
        [claims_api(), "serve", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return process, env, log
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    sys.exit(f"the server did not answer within 60 s; see {log_path}")


def mint_key(env: dict[str, str]) -> dict[str, str]:
    result = subprocess.run(
        [claims_api(), "keys", "create", "--scope", "write", "--name", "soak"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {"Authorization": f"Bearer {result.stdout.strip().splitlines()[-1]}"}


def setup_data(base_url: str, auth: dict[str, str], rng: random.Random) -> Pool:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        sources = []
        for i in range(10):
            response = client.post(
                "/sources",
                headers=auth,
                json={
                    "name": f"Soak source {i}",
                    "kind": KINDS[i % len(KINDS)],
                    "affiliation": AFFILIATIONS[i % len(AFFILIATIONS)],
                },
            )
            response.raise_for_status()
            sources.append(response.json()["id"])
        claims = []
        for i in range(60):
            response = client.post(
                "/claims",
                headers=auth,
                json={"text": f"Soak seed claim {i}", "tags": [f"soak-{i % 10}"]},
            )
            response.raise_for_status()
            claims.append(response.json()["id"])
            for source in rng.sample(sources, k=i % 4):
                client.post(
                    f"/claims/{claims[-1]}/stances",
                    headers=auth,
                    json={"source_id": source, "stance": rng.choice(["asserts", "denies"])},
                ).raise_for_status()
    return Pool(claims, sources)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def window_mean(samples: list[tuple[float, int]], start: float, end: float) -> float:
    chosen = [kib for t, kib in samples if start <= t < end]
    return statistics.fmean(chosen) / 1024 if chosen else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--sample-every", type=float, default=5, help="seconds between RSS reads")
    parser.add_argument(
        "--window", type=float, default=60, help="seconds of each RSS window compared"
    )
    parser.add_argument(
        "--max-late-growth-pct",
        type=float,
        default=5,
        help="fail if the last window's mean RSS exceeds the middle one's by more than this",
    )
    parser.add_argument("--log-level", default="INFO", help="the server's CLAIMS_LOG_LEVEL")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be in (0, {MAX_DURATION}]")
    if not 1 <= args.threads <= MAX_THREADS:
        parser.error(f"--threads must be in [1, {MAX_THREADS}]")

    workdir = Path(tempfile.mkdtemp(prefix="claims-soak-"))
    database = Database(args.engine, workdir)
    process = None
    log = None
    try:
        port = free_port()
        process, env, log = start_server(database.url, port, workdir / "server.log", args.log_level)
        base_url = f"http://{HOST}:{port}"
        auth = mint_key(env)
        pool = setup_data(base_url, auth, random.Random(1))

        stats = Stats()
        samples: list[tuple[float, int]] = []
        stop = threading.Event()
        started = time.monotonic()
        deadline = started + args.duration
        budget = threading.Semaphore(args.max_requests)

        def sample() -> None:
            while not stop.is_set():
                kib = rss_kib(process.pid)
                if kib is not None:
                    samples.append((time.monotonic() - started, kib))
                stop.wait(args.sample_every)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        workers = [
            threading.Thread(
                target=worker, args=(n, base_url, auth, pool, stats, deadline, budget, stop)
            )
            for n in range(args.threads)
        ]
        for thread in workers:
            thread.start()
        last_report = started
        while any(t.is_alive() for t in workers):
            time.sleep(1)
            if process.poll() is not None:
                stop.set()
                print(f"the server died with {process.returncode}", file=sys.stderr)
            if time.monotonic() - last_report >= 30:
                last_report = time.monotonic()
                rss = samples[-1][1] / 1024 if samples else float("nan")
                errors = sum(v for k, v in stats.by_status.items() if k[0] in "5e")
                print(
                    f"  {last_report - started:5.0f} s  {stats.total:7d} requests  "
                    f"RSS {rss:6.1f} MiB  5xx or no answer: {errors}",
                    flush=True,
                )
        for thread in workers:
            thread.join(timeout=60)
        elapsed = time.monotonic() - started
        kib = rss_kib(process.pid)
        if kib is not None:
            samples.append((elapsed, kib))
        stop.set()
        sampler.join(timeout=10)

        check = subprocess.run(
            [claims_api(), "check"], env=env, capture_output=True, text=True, timeout=300
        )
        process.send_signal(signal.SIGTERM)
        try:
            exit_code = process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            exit_code = process.wait(timeout=10)

        window = min(args.window, elapsed / 3)
        first = window_mean(samples, 0, window)
        middle = window_mean(samples, (elapsed - window) / 2, (elapsed + window) / 2)
        last = window_mean(samples, elapsed - window, elapsed + 1)
        growth_pct = (last - first) / first * 100
        late_growth_pct = (last - middle) / middle * 100
        fivexx = sum(v for k, v in stats.by_status.items() if k.startswith("5"))
        all_latencies = [x for values in stats.latencies.values() for x in values]
        figures = {
            "engine": args.engine,
            "threads": args.threads,
            "duration_s": round(elapsed, 1),
            "requests": stats.total,
            "requests_per_s": round(stats.total / elapsed, 1),
            "by_status": dict(sorted(stats.by_status.items())),
            "by_operation": {op: dict(sorted(c.items())) for op, c in sorted(stats.by_op.items())},
            "latency_ms": {
                "p50": round(percentile(all_latencies, 0.5) * 1000, 1),
                "p95": round(percentile(all_latencies, 0.95) * 1000, 1),
                "p99": round(percentile(all_latencies, 0.99) * 1000, 1),
                "max": round(max(all_latencies, default=0) * 1000, 1),
            },
            "latency_p95_ms_by_operation": {
                op: round(percentile(v, 0.95) * 1000, 1)
                for op, v in sorted(stats.latencies.items())
            },
            "server_errors": fivexx,
            "transport_errors": stats.by_status.get("error", 0),
            "rss_mib": {
                "window_s": round(window),
                "first_window_mean": round(first, 1),
                "middle_window_mean": round(middle, 1),
                "last_window_mean": round(last, 1),
                "growth_first_to_last_pct": round(growth_pct, 1),
                "growth_middle_to_last_pct": round(late_growth_pct, 1),
                "min": round(min(k for _, k in samples) / 1024, 1),
                "max": round(max(k for _, k in samples) / 1024, 1),
                "samples": [(round(t), round(k / 1024, 1)) for t, k in samples],
            },
            "check": check.stdout.strip().splitlines()[-1] if check.stdout.strip() else "",
            "check_exit": check.returncode,
            "server_exit_on_sigterm": exit_code,
        }
        problems = []
        if fivexx:
            problems.append(f"{fivexx} answers were 5xx: {stats.server_errors[:3]}")
        if stats.by_status.get("error"):
            problems.append(
                f"{stats.by_status['error']} requests got no answer: {stats.errors[:3]}"
            )
        if check.returncode != 0:
            problems.append(f"claims-api check: {check.stdout[-500:]}")
        if late_growth_pct > args.max_late_growth_pct:
            problems.append(
                f"RSS kept growing: {late_growth_pct:.1f}% from the middle {window:.0f} s of "
                f"the run to the last (limit {args.max_late_growth_pct}%)"
            )
        figures["verdict"] = "pass" if not problems else "fail"
        figures["problems"] = problems

        print(json.dumps({k: v for k, v in figures.items() if k != "rss_mib"}, indent=2))
        rss = figures["rss_mib"]
        print(
            f"RSS (MiB), means over {rss['window_s']} s: first {rss['first_window_mean']}, "
            f"middle {rss['middle_window_mean']}, last {rss['last_window_mean']} "
            f"({rss['growth_first_to_last_pct']:+}% from the first, "
            f"{rss['growth_middle_to_last_pct']:+}% from the middle), "
            f"min {rss['min']}, max {rss['max']}"
        )
        print("RSS samples (s, MiB):", " ".join(f"{t}:{m}" for t, m in rss["samples"]))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"verdict: {figures['verdict']}" + "".join(f"\n  - {p}" for p in problems))
        return 0 if not problems else 1
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if log is not None:
            log.close()
        database.drop()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
