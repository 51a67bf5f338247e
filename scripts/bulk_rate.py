#!/usr/bin/env python3
"""Bulk import rate: generate a claims-api NDJSON file, load it with `claims-api import`
into a new database, check it, and print stances per second.

The file has SOURCES sources (in a few affiliations), CLAIMS claims and STANCES stances
spread over them, some sources changing their minds (so `current` and superseded stances
are exercised). The database is a SQLite file in a temporary directory, or a new
PostgreSQL database on CLAIMS_TEST_POSTGRES_URL that the script creates and drops.
After the import it runs `claims-api check`, which must find 0 mismatches. Besides the
wall-clock rate it prints the rate per CPU second of the import command (user + system,
the command's start-up and migration check included), which a busy machine does not skew.

    python scripts/bulk_rate.py                         # SQLite, 100,000 stances
    python scripts/bulk_rate.py --engine postgresql --stances 50000
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

BIN = Path(sys.executable).parent
KINDS = ["state_media", "news_agency", "armed_group", "monitor", "government", "ngo"]


def generate(path: Path, *, sources: int, claims: int, stances: int, seed: int) -> None:
    rng = random.Random(seed)
    base = datetime(2024, 12, 5, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"type": "header", "format": "claims-api-ndjson", "version": 1}))
        out.write("\n")
        for i in range(sources):
            affiliation = rng.choice([None, "Syrian government", "Syrian opposition", "UN"])
            record = {"type": "source", "id": f"s{i}", "name": f"Source {i}"}
            record |= {"kind": rng.choice(KINDS), "affiliation": affiliation}
            out.write(json.dumps(record) + "\n")
        per_claim, extra = divmod(stances, claims)
        written = 0
        for c in range(claims):
            claim = {"type": "claim", "id": f"c{c}", "text": f"Claim number {c} about Hama."}
            claim |= {"place": "Hama", "tags": ["syria", f"t{c % 50}"]}
            claim |= {"created_at": (base + timedelta(seconds=c)).isoformat()}
            out.write(json.dumps(claim, ensure_ascii=False) + "\n")
            for _ in range(per_claim + (1 if c < extra else 0)):
                stated = base + timedelta(minutes=rng.randrange(0, 600))
                stance = {"type": "stance", "id": f"t{written}", "claim_id": f"c{c}"}
                stance |= {"source_id": f"s{rng.randrange(sources)}"}
                stance |= {"stance": rng.choice(["asserts", "denies"])}
                stance |= {"stated_at": stated.isoformat(), "quote": "said so"}
                out.write(json.dumps(stance) + "\n")
                written += 1


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bulk_rate_"))
    path = workdir / "data.ndjson"
    generate(path, sources=args.sources, claims=args.claims, stances=args.stances, seed=7)
    print(f"file: {path.stat().st_size / 1e6:.1f} MB, {args.stances} stances")
    admin = None
    database = None
    if args.engine == "postgresql":
        admin_url = os.environ.get(
            "CLAIMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        )
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        database = f"bulk_rate_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
        url = sa.make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{workdir / 'claims.db'}"
    env = {**os.environ, "CLAIMS_DATABASE_URL": url}
    try:
        subprocess.run([BIN / "claims-api", "migrate"], env=env, check=True, timeout=120)
        started = time.monotonic()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [BIN / "claims-api", "import", str(path), "--batch-size", str(args.batch_size)],
            env=env,
            check=True,
            timeout=args.timeout,
        )
        seconds = time.monotonic() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
            cpu_after.ru_stime - cpu_before.ru_stime
        )
        check = subprocess.run(
            [BIN / "claims-api", "check"], env=env, timeout=600, capture_output=True, text=True
        )
        print(check.stdout.strip().splitlines()[-1])
        print(
            f"{args.engine}: {args.stances} stances in {seconds:.2f} s wall, command included: "
            f"{args.stances / seconds:,.0f} stances/s; the command used {cpu:.2f} CPU s: "
            f"{args.stances / cpu:,.0f} stances per CPU second (load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        return check.returncode
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--stances", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--timeout", type=int, default=900)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
