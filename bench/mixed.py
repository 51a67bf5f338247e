"""The mixed scenario: how a desk uses the service all morning (issue 12).

About 1,000 distinct read URLs (filters, real cursor walks down them, claim ids) cycled by
bench/wrk/mixed.lua, while a paced writer posts 5 stances a second. The URLs are walked on
the service itself, on the archive as built, so every cursor is one it issued. The same run
is made against peer (d) (bench/peers/same_sql.py) on its own copy of the archive, with the
same writes, in the same order, posted to a claims-api process serving that copy: the
writes are the service's, the reads are the peer's. Each server starts from a fresh copy.
"""

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.generate import PLACES, SOURCES

TARGET_URLS = 1000
PRIMED_URLS = 30  # read once before timing, one of each kind or so
WRITES_PER_SECOND = 5.0
SEED = 12
# (filter, pages to walk at most): the lists a desk keeps open, walked by their cursors.
LISTS: list[tuple[dict[str, str], int]] = [
    *(({"status": s}, 40) for s in ("disputed", "denied", "asserted", "corroborated")),
    ({"status": "unsourced"}, 10),
    ({"stance": "denies", "source_kind": "state_media"}, 30),
    ({"stance": "denies", "source_kind": "government"}, 20),
    ({"stance": "asserts", "source_kind": "armed_group"}, 20),
    ({"stance": "denies"}, 20),
    *(({"q": place}, 8) for place in PLACES[:12:2]),
    *(({"place": place}, 6) for place in PLACES[1:24:2]),
    ({"language": "ar"}, 30),
    ({"status": "disputed", "language": "en"}, 20),
]


def walk(client: httpx.Client, filters: dict[str, str], pages: int) -> list[str]:
    """The paths of up to `pages` pages of one list, following its next_cursor."""
    found: list[str] = []
    query = {**filters, "limit": "20"}
    while len(found) < pages:
        path = "/claims?" + urlencode(query)
        answer = client.get(path)
        answer.raise_for_status()
        found.append(path)
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
        query = {**filters, "limit": "20", "cursor": cursor}
    return found


def mixed_urls(client: httpx.Client, max_claim_id: int) -> list[str]:
    """About TARGET_URLS distinct paths, walked on the service through `client`, shuffled
    once (the same order on every server): list pages, then claim ids to make up the number."""
    paths = [path for filters, pages in LISTS for path in walk(client, filters, pages)]
    rng = random.Random(SEED)
    wanted = max(TARGET_URLS - len(paths), TARGET_URLS // 3)
    ids = rng.sample(range(1, max_claim_id + 1), min(wanted, max_claim_id))
    paths += [f"/claims/{claim_id}" for claim_id in ids]
    rng.shuffle(paths)
    return paths


def prime(base: str, paths: list[str]) -> None:
    """One untimed read of each path: a fresh process's first requests pay its cold start
    (lazy imports, statement compilation), which is not what the run measures."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for path in paths:
            client.get(path)


def bodies_differ(base: str, peer: str, paths: list[str]) -> list[str]:
    """The paths on which the two servers answer different bytes (or not 200)."""
    differ = []
    with httpx.Client(timeout=30) as client:
        for path in paths:
            a, b = client.get(base + path), client.get(peer + path)
            if a.status_code != 200 or a.content != b.content:
                differ.append(path)
    return differ


@dataclass
class PacedWriter:
    """Posts stances at a fixed rate from a thread of the runner, the same sequence every
    time (seeded): random claims of the archive, random sources, 70% asserts."""

    base: str
    key: str
    max_claim_id: int
    rate: float = WRITES_PER_SECOND
    posted: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _client: httpx.Client | None = None
    _rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    _started: float = 0.0
    _stopped: float = 0.0

    def start(self) -> None:
        """The first POST here and now, untimed by wrk (a fresh process's first write pays
        its cold start), then the rest from a thread, paced."""
        self._client = httpx.Client(
            base_url=self.base, timeout=10, headers={"Authorization": f"Bearer {self.key}"}
        )
        self._started = time.monotonic()
        self._post()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._stopped = time.monotonic()
        if self._client is not None:
            self._client.close()

    def _post(self) -> None:
        assert self._client is not None
        claim = self._rng.randint(1, self.max_claim_id)
        body = {
            "source_id": str(self._rng.randint(1, SOURCES)),
            "stance": "asserts" if self._rng.random() < 0.7 else "denies",
        }
        sent = time.perf_counter()
        try:
            answer = self._client.post(f"/claims/{claim}/stances", json=body, timeout=60)
            self.errors += answer.status_code != 201
        except httpx.HTTPError:
            self.errors += 1
        self.latencies_ms.append((time.perf_counter() - sent) * 1000)
        self.posted += 1

    def _run(self) -> None:
        due = time.monotonic() + 1 / self.rate
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            self._post()
            due += 1 / self.rate

    def summary(self) -> dict[str, Any]:
        seconds = (self._stopped or time.monotonic()) - self._started
        ordered = sorted(self.latencies_ms)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None
        return {
            "writes": self.posted,
            "write_errors": self.errors,
            "writes_per_s": self.posted / seconds if seconds else 0.0,
            "write_p99_ms": p99,
        }


def write_paths(paths: list[str], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(paths) + "\n")
    return target


def cache_counts(base: str) -> dict[str, int | None]:
    """The instrumented service's cache counters (bench/instrumented.py)."""
    counts: dict[str, int | None] = httpx.get(base + "/_bench/cache", timeout=10).json()
    return counts
