"""The bench archive, written by the service's own bulk loader: the generator's NDJSON
(bench/ndjson.py) piped into `claims-api import -`, the command an operator would run.

So the archive is one the service wrote itself (`current`, statuses and counts derived by
its own rules; `claims-api check` finds nothing), and building it measures the bulk load
rate: the wall clock of the whole pipe, and the CPU time of the import process alone (the
generator runs beside it, on another core). The load average goes with the numbers, as
the machine is shared.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"imported: .* (\d+) stances from (\d+) lines")


@dataclass
class LoadStats:
    claims: int
    stances: int
    seconds: float
    cpu_seconds: float = 0.0  # user + system time of the `claims-api import` process
    loadavg: float | None = None  # 1-minute load average when the load finished

    @property
    def stances_per_second(self) -> float:
        return self.stances / self.seconds if self.seconds else 0.0

    @property
    def stances_per_cpu_second(self) -> float:
        return self.stances / self.cpu_seconds if self.cpu_seconds else 0.0


def claims_api() -> str:
    beside = Path(sys.executable).with_name("claims-api")
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "claims-api")


def load(url: str, count: int) -> LoadStats:
    """Import the generated archive of `count` claims into the migrated database at `url`."""
    env = {**os.environ, "CLAIMS_DATABASE_URL": url}
    started = time.perf_counter()
    generator = subprocess.Popen(
        [sys.executable, "-m", "bench.ndjson", str(count)], cwd=ROOT, stdout=subprocess.PIPE
    )
    assert generator.stdout is not None
    with tempfile.TemporaryFile() as errors:
        importer = subprocess.Popen(
            [claims_api(), "import", "-"],
            env=env,
            stdin=generator.stdout,
            stdout=subprocess.PIPE,
            stderr=errors,  # the progress bar, and the error if any
            cwd=ROOT,
        )
        generator.stdout.close()  # the importer holds the read end now
        assert importer.stdout is not None
        output = importer.stdout.read()
        importer.stdout.close()
        # wait4, not wait: the importer's own CPU time, without the generator's.
        _, status, usage = os.wait4(importer.pid, 0)
        importer.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        generator.wait()
        errors.seek(0)
        detail = errors.read().decode(errors="replace")[-2000:]
    if importer.returncode or generator.returncode:
        raise RuntimeError(f"claims-api import failed ({importer.returncode}): {detail}")
    found = SUMMARY.search(output.decode())
    if not found:
        raise RuntimeError(f"unexpected claims-api import output: {output[-500:]!r}")
    return LoadStats(
        claims=count,
        stances=int(found.group(1)),
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        loadavg=os.getloadavg()[0],
    )


def finish(url: str) -> None:
    """What a real deployment would do after a load, outside the timed part."""
    engine = sa.create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))  # what autovacuum would do soon after
        else:
            # No ANALYZE: the service never runs it on SQLite, so neither does the bench.
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
