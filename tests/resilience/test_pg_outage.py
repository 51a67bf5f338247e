"""A PostgreSQL outage under load, against the real server in a subprocess.

The test starts a throwaway PostgreSQL cluster of its own (initdb + pg_ctl, a spare port on
127.0.0.1, a data directory under /tmp, run as a non-root user), so that it can stop and
start it without touching the machine's shared PostgreSQL service. While the database is
down, every request must fail fast (well under 3 s) with 503 problem+json, never 500, never
a reset connection; once it is back the service must recover by itself, without a restart,
and every write that got a 2xx must still be there.

A second test freezes the database instead (SIGSTOP: a hung host or a network partition, where
nothing refuses the connection): requests must still fail fast, because the service bounds
every wait on the database itself (app/core/db_bounds.py: connect_timeout, a short bound on the
pool's pre-ping, statement_timeout plus a margin on every other wait).

Without initdb and pg_ctl the test skips, except under CI=true, where that is a failure.
"""

import contextlib
import glob
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import Server, assert_consistent, free_port, post, run_cli, walk, write_key

FAIL_FAST = 3.0  # seconds: no request may take longer than this, database up or down
OUTAGE = 3.0  # seconds the database stays down
RECOVERY = 5.0  # seconds the service may take to answer again once the database is back
PROBLEM_JSON = "application/problem+json"


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Cluster:
    data: Path
    port: int
    pg_ctl: str
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"pg_ctl {args}: {result.stdout}{result.stderr}"
        return result

    def start(self) -> None:
        self.ctl("start", "-w", "-t", "30", "-l", str(self.data.parent / "postgres.log"))

    def stop(self, mode: str = "fast") -> None:
        self.ctl("stop", "-m", mode, "-w", "-t", "30")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        _unavailable(
            "initdb and pg_ctl were not found (on PATH or under /usr/lib/postgresql/*/bin); "
            "install the PostgreSQL server (apt-get install postgresql) to run the outage test."
        )
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: run it as the postgres user.
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to run PostgreSQL as")
        if shutil.which("runuser") is None:
            _unavailable("running as root and runuser is missing")
        as_user = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="claims-pg-outage-"))
    data = root / "data"
    data.mkdir()
    if owner is not None:
        for path in (root, data):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    root.chmod(0o755)
    data.chmod(0o700)
    port = free_port()
    made = Cluster(data=data, port=port, pg_ctl=str(pg_ctl), as_user=as_user)
    try:
        options = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        result = subprocess.run(
            [*as_user, str(initdb), "-D", str(data), *options],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"initdb: {result.stdout}{result.stderr}"
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{root}'\nmax_connections = 50\n"
            )
        made.start()
        migrated = run_cli(["migrate"], made.url)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        yield made
    finally:
        if made.running():
            subprocess.run(
                [*as_user, str(pg_ctl), "-D", str(data), "stop", "-m", "immediate", "-w"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Call:
    kind: str
    started: float
    ended: float
    status: int | None = None
    content_type: str = ""
    retry_after: str | None = None
    error: str | None = None
    key: str | None = None  # the unique quote or text of a write

    @property
    def duration(self) -> float:
        return self.ended - self.started


def _load(
    base_url: str,
    auth: dict[str, str],
    number: int,
    claims: list[str],
    sources: list[str],
    calls: list[Call],
    lock: threading.Lock,
    stop: threading.Event,
    deadline: float,
) -> None:
    """Reads and writes, about 25 a second per thread, until told to stop (bounded)."""
    rng = random.Random(number)
    with httpx.Client(base_url=base_url, timeout=15) as client:
        for i in range(2000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            key = f"outage-{number}-{i}"
            choice = rng.random()
            if choice < 0.35:
                kind, method, path = "list", "GET", "/claims"
                body = None
            elif choice < 0.55:
                kind, method, path = "read", "GET", f"/claims/{rng.choice(claims)}"
                body = None
            elif choice < 0.9:
                kind, method = "stance", "POST"
                path = f"/claims/{rng.choice(claims)}/stances"
                body = {
                    "source_id": rng.choice(sources),
                    "stance": rng.choice(["asserts", "denies"]),
                    "quote": key,
                }
            else:
                kind, method, path = "claim", "POST", "/claims"
                body = {"text": key}
            call = Call(kind=kind, started=time.monotonic(), ended=0.0, key=key)
            try:
                response = client.request(
                    method, path, json=body, headers=auth if method == "POST" else None
                )
                call.status = response.status_code
                call.content_type = response.headers.get("content-type", "")
                call.retry_after = response.headers.get("retry-after")
            except httpx.TransportError as exc:
                call.error = f"{type(exc).__name__}: {exc}"
            call.ended = time.monotonic()
            with lock:
                calls.append(call)
            time.sleep(0.04)


def _probe(server: Server, method: str, path: str, auth: dict[str, str], body: Any) -> None:
    """One request while the database is down: a quick 503 problem+json."""
    started = time.monotonic()
    response = httpx.request(
        method, server.base_url + path, json=body, headers=auth, timeout=FAIL_FAST + 5
    )
    took = time.monotonic() - started
    assert response.status_code == 503, f"{method} {path}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == 503
    assert took < FAIL_FAST, f"{method} {path} took {took:.2f} s with the database down"


def test_postgres_outage_fails_fast_with_503_and_recovers(cluster: Cluster, tmp_path: Path) -> None:
    server = Server(cluster.url, tmp_path / "server.log")
    try:
        _outage_under_load(cluster, server)
    finally:
        server.stop()
        if not cluster.running():
            cluster.start()  # leave the module's cluster as it was found


def _outage_under_load(cluster: Cluster, server: Server) -> None:
    auth = write_key(cluster.url)
    with server.client() as client:
        sources = [
            post(client, "/sources", auth, {"name": f"Outage {i}", "kind": "monitor"})["id"]
            for i in range(3)
        ]
        claims = [
            post(client, "/claims", auth, {"text": f"Outage claim {i}"})["id"] for i in range(3)
        ]

    calls: list[Call] = []
    lock, stop = threading.Lock(), threading.Event()
    threads = [
        threading.Thread(
            target=_load,
            args=(
                server.base_url,
                auth,
                n,
                claims,
                sources,
                calls,
                lock,
                stop,
                time.monotonic() + 60,
            ),
        )
        for n in range(3)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        stop_began = time.monotonic()
        cluster.stop("fast")
        down_from = time.monotonic()
        _probe(server, "GET", "/healthz", {}, None)
        _probe(server, "GET", "/readyz", {}, None)
        _probe(server, "GET", "/claims", {}, None)
        _probe(server, "GET", f"/claims/{claims[0]}", {}, None)
        _probe(server, "POST", "/claims", auth, {"text": "written while the database is down"})
        _probe(
            server,
            "POST",
            f"/claims/{claims[0]}/stances",
            auth,
            {"source_id": sources[0], "stance": "denies"},
        )
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_from)))
        down_until = time.monotonic()
        cluster.start()
        back_at = time.monotonic()
        recovered_at = None
        while time.monotonic() < back_at + RECOVERY:
            try:
                if httpx.get(server.base_url + "/healthz", timeout=FAIL_FAST).status_code == 200:
                    recovered_at = time.monotonic()
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        assert recovered_at is not None, f"no 200 from /healthz {RECOVERY} s after the restart"
        time.sleep(2.0)  # load on the recovered service
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert server.process.poll() is None, "the server died during the outage"

    errors = [c for c in calls if c.error]
    assert not errors, [f"{c.kind}: {c.error}" for c in errors[:5]]
    slow = [c for c in calls if c.duration >= FAIL_FAST]
    assert not slow, [(c.kind, c.status, round(c.duration, 2)) for c in slow[:5]]
    answers = {(c.status or 0) // 100 for c in calls}
    assert answers <= {2, 5}, sorted({c.status for c in calls})
    server_errors = [c for c in calls if c.status and c.status >= 500]
    assert all(c.status == 503 for c in server_errors), sorted({c.status for c in server_errors})
    assert all(c.content_type.startswith(PROBLEM_JSON) and c.retry_after for c in server_errors), (
        server_errors[:3]
    )

    before = [c for c in calls if c.ended < stop_began]
    during = [c for c in calls if c.started >= down_from and c.ended <= down_until]
    after = [c for c in calls if c.started >= recovered_at]
    assert before and all(c.status is not None and c.status < 300 for c in before)
    assert len({c.kind for c in during}) == 4, "each kind of request met the outage"
    assert all(c.status == 503 for c in during), sorted({c.status for c in during})
    assert after and all(c.status is not None and c.status < 300 for c in after), sorted(
        {c.status for c in after}
    )

    # What was acknowledged survived the outage; what failed left nothing behind.
    acked = {c.key for c in calls if c.status in (200, 201) and c.kind in ("stance", "claim")}
    # A write answered 503 that was sent while the database was down cannot have landed
    # (one cut off at the moment of the stop might have committed before its answer was lost).
    refused = {c.key for c in during if c.kind in ("stance", "claim")}
    with server.client() as client:
        quotes = {
            s["quote"] for claim_id in claims for s in walk(client, f"/claims/{claim_id}/stances")
        }
        texts = {c["text"] for c in walk(client, "/claims")}
    written = (quotes | texts) & {c.key for c in calls}
    assert acked <= written, f"lost: {sorted(acked - written)[:5]}"
    assert not written & refused, f"answered 503 but written: {sorted(written & refused)[:5]}"
    assert_consistent(cluster.url)

    worst = max(c.duration for c in during)
    print(
        f"\nPostgreSQL outage: {len(calls)} requests, {len(during)} during "
        f"{down_until - down_from:.1f} s down, all 503 (slowest {worst * 1000:.0f} ms); "
        f"/healthz 200 again {recovered_at - back_at:.2f} s after pg_ctl start returned; "
        f"{len(acked)} acknowledged writes all present"
    )


def _cluster_pids(cluster: Cluster) -> list[int]:
    """The postmaster and its children (read from /proc: no pgrep needed)."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            pids.append(int(stat.parent.name))
    return pids


def test_frozen_postgres_fails_fast_with_503(cluster: Cluster, tmp_path: Path) -> None:
    server = Server(cluster.url, tmp_path / "server.log")
    auth = write_key(cluster.url)
    outcomes: dict[str, Any] = {}
    frozen: list[int] = []
    try:
        with server.client() as client:
            claim = post(client, "/claims", auth, {"text": "Frozen database claim"})["id"]
            for _ in range(3):
                client.get("/claims")  # pooled connections, idle when the database freezes
        frozen = _cluster_pids(cluster)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)

        def call(name: str, method: str, path: str, body: Any) -> None:
            started = time.monotonic()
            try:
                response = httpx.request(
                    method, server.base_url + path, json=body, headers=auth, timeout=FAIL_FAST + 2
                )
                outcomes[name] = (response.status_code, response.headers.get("content-type"))
            except httpx.TransportError as exc:
                outcomes[name] = (type(exc).__name__, None)
            outcomes[name] += (round(time.monotonic() - started, 2),)

        requests = {
            "healthz": ("GET", "/healthz", None),
            "list": ("GET", "/claims", None),
            "read": ("GET", f"/claims/{claim}", None),
            "write": ("POST", "/claims", {"text": "written while the database is frozen"}),
        }
        threads = [
            threading.Thread(target=call, args=(name, *request))
            for name, request in requests.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=FAIL_FAST + 5)
    finally:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        server.stop()
    print(f"\nFrozen PostgreSQL: {outcomes}")
    for name, (status, content_type, took) in outcomes.items():
        assert status == 503 and str(content_type).startswith(PROBLEM_JSON), (name, status)
        assert took < FAIL_FAST, f"{name} took {took} s"
