"""The real server in a child process, for the tests that crash, stop or load it: start it,
talk to it over HTTP, and check the database it leaves behind. Loopback only."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.auth import Scope, create_key
from app.core.config import Settings
from app.core.db import make_engine

HOST = "127.0.0.1"
START_TIMEOUT = 60.0  # a bound, not a measure: a loaded machine starts slowly
REQUEST_TIMEOUT = 10.0


def claims_api() -> str:
    beside = Path(sys.executable).with_name("claims-api")
    found = str(beside) if beside.exists() else shutil.which("claims-api")
    if found is None:
        pytest.fail("the claims-api command is not installed (pip install -e .)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """The caller's environment without its CLAIMS_ settings, plus the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_")}
    env.update(
        CLAIMS_DATABASE_URL=database_url,
        # These tests measure crashes, not the rate limiter: no 429 in the way.
        CLAIMS_RATE_LIMIT_PER_MINUTE="0",
        CLAIMS_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def run_cli(
    args: list[str], database_url: str, timeout: float = 60, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [claims_api(), *args],
        env=service_env(database_url, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_consistent(database_url: str) -> str:
    """`claims-api check` exits 0 and reports no mismatch."""
    result = run_cli(["check"], database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatch(es) found" in result.stdout, result.stdout
    return result.stdout


def write_key(database_url: str) -> dict[str, str]:
    engine = make_engine(Settings(database_url=database_url))
    try:
        return {"Authorization": f"Bearer {create_key(engine=engine, scope=Scope.write)}"}
    finally:
        engine.dispose()


class Server:
    """`claims-api serve` in a subprocess, its output in a log file."""

    def __init__(self, database_url: str, log_path: Path, **extra: str) -> None:
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        command = [claims_api(), "serve", "--host", HOST, "--port", str(self.port)]
        env = service_env(database_url, **extra)
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the server did not answer /healthz within {START_TIMEOUT} s: {self.log()}")

    def client(self, timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]


@contextmanager
def started_servers(log_dir: Path) -> Iterator[Callable[..., Server]]:
    """A `start(database_url, **extra)` that starts servers on demand, each logging to its
    own file in log_dir; whatever is still running when the block ends is stopped."""
    servers: list[Server] = []

    def start(database_url: str, **extra: str) -> Server:
        server = Server(database_url, log_dir / f"server-{len(servers)}.log", **extra)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def post(client: httpx.Client, path: str, auth: dict[str, str], body: Any) -> dict[str, Any]:
    response = client.post(path, headers=auth, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def walk(client: httpx.Client, path: str, limit: int = 100, max_pages: int = 200) -> list[Any]:
    """Every item of a paginated list (bounded)."""
    items: list[Any] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(max_pages):
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if not page["next_cursor"]:
            return items
        params = {"limit": limit, "cursor": page["next_cursor"]}
    pytest.fail(f"{path} has more than {max_pages} pages")


# --- SIGKILL in a stream of writes --------------------------------------------------------
