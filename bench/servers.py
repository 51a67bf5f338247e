"""Start one server on loopback, wait until it answers, read its peak RSS, stop it."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / "bench" / ".venv" / "bin"
LOGS = ROOT / "bench" / ".data" / "logs"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = log = (LOGS / f"{self.name}.log").open("wb")
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {LOGS / self.name}.log")
            try:
                httpx.get(self.base + self.ready_path, timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {START_TIMEOUT}s")

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the process has had since it started."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.log is not None:
            self.log.close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


UVICORN = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}"]


def claims_api(
    database_url: str, name: str, *, cache: bool = True, factory: str = "app.main:create_app"
) -> Server:
    """The service as `claims-api serve` runs it (one worker, uvicorn's default loop and
    HTTP parser, the app's own logging), minus the rate limit and the webhook sender;
    `cache=False` also turns off the cache of open reads, to time the work behind it, and
    `factory="bench.instrumented:create_app"` counts the cache's hits."""
    return Server(
        name,
        [*UVICORN, "--factory", factory, "--no-access-log", "--no-server-header"],
        env={
            "CLAIMS_DATABASE_URL": database_url,
            "CLAIMS_RATE_LIMIT_PER_MINUTE": "0",
            "CLAIMS_WEBHOOK_SENDER": "false",
            **({} if cache else {"CLAIMS_RESPONSE_CACHE_BYTES": "0"}),
        },
        ready_path="/healthz",
    )


def minimal(kind: str, responses: Path) -> Server:
    module = f"bench.peers.minimal_{kind}"
    return Server(
        f"minimal-{kind}",
        [*UVICORN, f"{module}:app", "--no-access-log", "--no-server-header"],
        env={"BENCH_RESPONSES": str(responses)},
    )


def same_sql(database_url: str, name: str = "same-sql") -> Server:
    """Peer (d): the service's SQL through the stdlib driver (bench/peers/same_sql.py)."""
    return Server(
        name,
        [*UVICORN, "bench.peers.same_sql:app", "--no-access-log", "--no-server-header"],
        env={"BENCH_DATABASE_URL": database_url},
        ready_path="/claims/0",
    )


def datasette(db_path: Path, metadata: Path) -> Server:
    return Server(
        "datasette",
        [
            str(BENCH_VENV / "datasette"),
            "serve",
            "-i",
            str(db_path),
            "--metadata",
            str(metadata),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--setting",
            "sql_time_limit_ms",
            "10000",
        ],
        ready_path="/-/versions.json",
    )
