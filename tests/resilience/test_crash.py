"""Crashes, against the real server in a subprocess, on SQLite and PostgreSQL.

- SIGKILL in the middle of a stream of writes: after a restart every write that got a 2xx
  is there with its fields, nothing else is (but what was in flight), and `claims-api check`
  finds no claim whose status disagrees with its stances.
- SIGKILL in the middle of `claims-api seed`: nothing half-written, and seeding again
  completes the data without duplicating any of it.
- SIGTERM: requests in flight (held on a database lock) finish with 2xx before the process
  exits; new connections are refused meanwhile.

Every loop here is bounded in count and time, and all traffic goes to 127.0.0.1.
"""

import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import make_engine, write_engine
from tests.server import (
    REQUEST_TIMEOUT,
    assert_consistent,
    claims_api,
    post,
    run_cli,
    service_env,
    started_servers,
    walk,
    write_key,
)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    """Starts servers on demand; whatever is still running at the end is stopped."""
    with started_servers(tmp_path) as start:
        yield start


def _stances_by_quote(client: httpx.Client, claims: list[str]) -> dict[str, dict[str, Any]]:
    """Every stance of the claims, by its quote (unique per write): none may be there twice."""
    present: dict[str, dict[str, Any]] = {}
    for claim_id in claims:
        for stance in walk(client, f"/claims/{claim_id}/stances"):
            assert stance["quote"] not in present, f"duplicated stance {stance}"
            present[stance["quote"]] = stance
    return present


STANCE_FIELDS = ("id", "claim_id", "source_id", "stance", "stated_at", "quote", "created_at")
CLAIM_FIELDS = ("id", "text", "place", "tags", "created_at")


@dataclass
class Ledger:
    """What a writer thread sent, and what the server acknowledged."""

    acked_stances: dict[str, dict[str, Any]] = field(default_factory=dict)  # by quote
    acked_claims: dict[str, dict[str, Any]] = field(default_factory=dict)  # by text
    unanswered: set[str] = field(default_factory=set)  # quotes / texts with no answer
    refused: int = 0
    failures: list[str] = field(default_factory=list)  # non-2xx answers
    # With Idempotency-Keys: what was sent without an answer, by key, to retry.
    in_flight: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


def _writer(
    base_url: str,
    auth: dict[str, str],
    number: int,
    claims: list[str],
    sources: list[str],
    ledger: Ledger,
    lock: threading.Lock,
    stop: threading.Event,
    max_requests: int,
    deadline: float,
    idempotent: bool = False,
) -> None:
    rng = random.Random(number)
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
        for i in range(max_requests):
            if stop.is_set() or time.monotonic() > deadline:
                return
            tag = f"w{number}-{i}"
            if i % 10 == 9:
                path = "/claims"
                body: dict[str, Any] = {"text": f"Claim {tag}", "place": "Hama", "tags": [tag]}
            else:
                path = f"/claims/{rng.choice(claims)}/stances"
                body = {
                    "source_id": rng.choice(sources),
                    "stance": rng.choice(["asserts", "denies"]),
                    "quote": tag,
                }
            headers = {**auth, "Idempotency-Key": f"key-{tag}"} if idempotent else auth
            try:
                response = client.post(path, headers=headers, json=body)
            except httpx.ConnectError:
                with lock:  # refused: the server is down and this write never left
                    ledger.refused += 1
                return
            except httpx.TransportError:
                with lock:  # sent, but no answer: it may or may not have landed
                    ledger.unanswered.add(tag if path != "/claims" else body["text"])
                    ledger.in_flight[f"key-{tag}"] = (path, body)
                return
            with lock:
                if response.status_code != 201:
                    ledger.failures.append(f"{path} -> {response.status_code} {response.text}")
                elif path == "/claims":
                    ledger.acked_claims[body["text"]] = response.json()
                else:
                    ledger.acked_stances[tag] = response.json()


def _kill_mid_stream(
    server: Any,
    auth: dict[str, str],
    claims: list[str],
    sources: list[str],
    *,
    acks: int,
    within: float,
    first_writer: int = 0,
    idempotent: bool = False,
) -> Ledger:
    """Three writers, the server SIGKILLed once `acks` of their writes were acknowledged (or
    after `within` seconds); they would write on for as long again."""
    ledger, lock, stop = Ledger(), threading.Lock(), threading.Event()
    deadline = time.monotonic() + 2 * within
    threads = [
        threading.Thread(
            target=_writer,
            args=(server.base_url, auth, first_writer + n, claims, sources, ledger, lock, stop),
            kwargs={"max_requests": 2000, "deadline": deadline, "idempotent": idempotent},
        )
        for n in range(3)
    ]
    for thread in threads:
        thread.start()
    kill_deadline = time.monotonic() + within
    while time.monotonic() < kill_deadline:
        with lock:
            if len(ledger.acked_stances) + len(ledger.acked_claims) >= acks:
                break
        time.sleep(0.005)
    server.kill()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + 5)
    stop.set()
    assert not any(t.is_alive() for t in threads)
    assert not ledger.failures, ledger.failures[:5]
    # Every writer was cut off by the kill, not by its own bound: refused, or left without
    # an answer to the write it had sent.
    assert ledger.refused + len(ledger.unanswered) == len(threads)
    assert ledger.refused + len(ledger.in_flight) == len(threads)
    return ledger


def test_sigkill_mid_stream_loses_no_acknowledged_write(
    database_url: str, start_server: Any
) -> None:
    server = start_server(database_url)
    auth = write_key(database_url)
    with server.client() as client:
        sources = [
            post(client, "/sources", auth, {"name": f"S{i}", "kind": kind, "affiliation": aff})[
                "id"
            ]
            for i, (kind, aff) in enumerate(
                [
                    ("armed_group", "Syrian opposition"),
                    ("armed_group", "Syrian opposition"),
                    ("state_media", "Syrian government"),
                    ("monitor", None),
                ]
            )
        ]
        seeded_claims = [
            post(client, "/claims", auth, {"text": f"Seed claim {i}"}) for i in range(4)
        ]
    claims = [c["id"] for c in seeded_claims]

    # Kill once a fair number of writes were acknowledged, while the writers are still going.
    ledger = _kill_mid_stream(server, auth, claims, sources, acks=150, within=15)
    assert len(ledger.acked_stances) >= 100, "too few writes acknowledged before the kill"

    restarted = start_server(database_url)
    with restarted.client() as client:
        present = _stances_by_quote(client, claims)
        # Each acknowledged stance is there, field for field.
        for quote, acked in ledger.acked_stances.items():
            assert quote in present, f"acknowledged stance {acked} is lost"
            assert {k: present[quote][k] for k in STANCE_FIELDS} == {
                k: acked[k] for k in STANCE_FIELDS
            }
        # Nothing is there that was neither acknowledged nor in flight at the kill.
        extra = set(present) - set(ledger.acked_stances)
        assert extra <= ledger.unanswered, f"stances from nowhere: {extra - ledger.unanswered}"

        every_claim = walk(client, "/claims")
        listed = {c["text"]: c for c in every_claim}
        assert len(every_claim) == len(listed), "a claim was written twice"
        for text, acked in ledger.acked_claims.items():
            assert text in listed, f"acknowledged claim {acked} is lost"
            assert {k: listed[text][k] for k in CLAIM_FIELDS} == {k: acked[k] for k in CLAIM_FIELDS}
        extra_claims = set(listed) - set(ledger.acked_claims) - {c["text"] for c in seeded_claims}
        assert extra_claims <= ledger.unanswered, extra_claims

        # Each claim's counts agree with the stances that survived.
        for claim_id in claims:
            claim = client.get(f"/claims/{claim_id}").json()
            current = {s["source_id"]: s["stance"] for s in claim["stances"]}
            assert claim["asserting_sources"] == list(current.values()).count("asserts")
            assert claim["denying_sources"] == list(current.values()).count("denies")
    assert_consistent(database_url)
    print(
        f"\nSIGKILL mid-stream: {len(ledger.acked_stances)} stances and "
        f"{len(ledger.acked_claims)} claims acknowledged, all found; "
        f"{len(ledger.unanswered)} unanswered at the kill, {len(extra) + len(extra_claims)} "
        f"of them landed; {ledger.refused} refused"
    )


# --- SIGKILL, then retry every Idempotency-Key that was in flight ---------------------------

KILLS_PER_ENGINE = 10
# Short, so that a retry of a key whose request died waits seconds, not the default minute.
LEASE_SECONDS = 2.0


def _retry_until_answered(
    client: httpx.Client, auth: dict[str, str], key: str, path: str, body: dict[str, Any]
) -> httpx.Response:
    """POST again with the same key; a 409 means the dead request's lease is still running."""
    deadline = time.monotonic() + LEASE_SECONDS + 15
    while True:
        response = client.post(path, headers={**auth, "Idempotency-Key": key}, json=body)
        if response.status_code != 409 or time.monotonic() > deadline:
            return response
        time.sleep(float(response.headers.get("retry-after", "1")))


def test_retrying_every_in_flight_idempotency_key_after_sigkill_duplicates_nothing(
    database_url: str, start_server: Any
) -> None:
    """Issue 13, hole 3: the answer of a keyed write used to be recorded in a transaction of
    its own after the write's, so a kill between the two left a committed stance without its
    answer, and the retry after the lease wrote a second one. Over KILLS_PER_ENGINE kills,
    every key in flight at a kill is retried after the restart: each write is there once,
    and the retry's answer names it."""
    extra = {"CLAIMS_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS)}
    server = start_server(database_url, **extra)
    auth = write_key(database_url)
    with server.client() as client:
        sources = [
            post(client, "/sources", auth, {"name": f"S{i}", "kind": "monitor"})["id"]
            for i in range(3)
        ]
        seeded = [post(client, "/claims", auth, {"text": f"Seed claim {i}"}) for i in range(3)]
    claims = [c["id"] for c in seeded]
    stances: dict[str, dict[str, Any]] = {}  # every answered stance, by quote
    new_claims: dict[str, dict[str, Any]] = {}  # every answered claim, by text
    in_flight = replayed = 0
    for round_ in range(KILLS_PER_ENGINE):
        ledger = _kill_mid_stream(
            server,
            auth,
            claims,
            sources,
            acks=30,
            within=10,
            first_writer=10 * round_,
            idempotent=True,
        )
        stances.update(ledger.acked_stances)
        new_claims.update(ledger.acked_claims)
        server = start_server(database_url, **extra)
        with server.client() as client:
            for key, (path, body) in ledger.in_flight.items():
                response = _retry_until_answered(client, auth, key, path, body)
                assert response.status_code == 201, response.text
                in_flight += 1
                replayed += response.headers.get("idempotent-replayed") == "true"
                if path == "/claims":
                    new_claims[body["text"]] = response.json()
                else:
                    stances[body["quote"]] = response.json()

    with server.client() as client:
        present = _stances_by_quote(client, claims)
        assert {q: s["id"] for q, s in present.items()} == {q: s["id"] for q, s in stances.items()}
        listed = walk(client, "/claims")
        texts = [c["text"] for c in listed]
        assert len(texts) == len(set(texts)), "a claim was written twice"
        assert {c["text"]: c["id"] for c in listed} == {
            **{c["text"]: c["id"] for c in seeded},
            **{text: c["id"] for text, c in new_claims.items()},
        }
    assert_consistent(database_url)
    print(
        f"\n{KILLS_PER_ENGINE} SIGKILLs: {len(stances)} stances and {len(new_claims)} claims, "
        f"each once; {in_flight} keys in flight at the kills, retried: {replayed} had landed "
        f"(replayed), {in_flight - replayed} ran again"
    )


# --- SIGKILL in a bulk import -------------------------------------------------------------

SEED_CLAIMS = 300


def _seed_document(claims: int) -> dict[str, Any]:
    sources = [
        {"name": "Rebel spokesman", "kind": "armed_group", "affiliation": "Syrian opposition"},
        {"name": "Rebel monitor", "kind": "monitor", "affiliation": "Syrian opposition"},
        {"name": "State news", "kind": "state_media", "affiliation": "Syrian government"},
        {"name": "Wire agency", "kind": "news_agency", "country": "US"},
        {"name": "Ministry", "kind": "government", "affiliation": "Syrian government"},
    ]
    rng = random.Random(7)
    entries = []
    for i in range(claims):
        chosen = rng.sample(sources, k=1 + i % 3)
        entries.append(
            {
                "text": f"Bulk claim {i}: forces reached district {i}.",
                "place": "Hama",
                "tags": ["syria", f"bulk-{i % 7}"],
                "stances": [
                    {
                        "source": s["name"],
                        "stance": rng.choice(["asserts", "denies"]),
                        "stated_at": f"2024-12-05T{10 + n:02d}:{i % 60:02d}:00Z",
                        "quote": f"quote {i}/{n}",
                    }
                    for n, s in enumerate(chosen)
                ],
            }
        )
    return {
        "report": {"title": "generated for the crash test"},
        "sources": sources,
        "claims": entries,
    }


def _counts(database_url: str) -> tuple[int, int, int, int]:
    engine = make_engine(Settings(database_url=database_url))
    try:
        with engine.connect() as conn:
            return (
                conn.execute(sa.text("SELECT COUNT(*) FROM source")).scalar_one(),
                conn.execute(sa.text("SELECT COUNT(*) FROM claim")).scalar_one(),
                conn.execute(sa.text("SELECT COUNT(DISTINCT text) FROM claim")).scalar_one(),
                conn.execute(sa.text("SELECT COUNT(*) FROM stance")).scalar_one(),
            )
    finally:
        engine.dispose()


def test_sigkill_mid_seed_then_seed_again_completes_without_duplicates(
    database_url: str, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    document = _seed_document(SEED_CLAIMS)
    (seeds / "bulk.json").write_text(json.dumps(document), encoding="utf-8")
    expected_stances = sum(len(c["stances"]) for c in document["claims"])
    env = service_env(database_url, CLAIMS_SEEDS_DIR=str(seeds))

    engine = make_engine(Settings(database_url=database_url))
    try:
        seed = subprocess.Popen(
            [claims_api(), "seed"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        killed_at = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and seed.poll() is None:
            with engine.connect() as conn:
                loaded = conn.execute(sa.text("SELECT COUNT(*) FROM claim")).scalar_one()
            if loaded >= SEED_CLAIMS // 5:
                seed.send_signal(signal.SIGKILL)
                killed_at = loaded
                break
            time.sleep(0.01)
        output = seed.communicate(timeout=10)[0].decode(errors="replace")
    finally:
        engine.dispose()
    assert killed_at is not None, f"seed ended before it could be killed: {output[-2000:]}"
    assert seed.returncode == -signal.SIGKILL

    sources, claims, distinct, stances = _counts(database_url)
    assert distinct == claims, "a claim was imported twice"
    assert sources <= 5
    assert killed_at <= claims < SEED_CLAIMS, "the kill did not land mid-import"
    assert stances < expected_stances
    assert_consistent(database_url)

    result = run_cli(["seed"], database_url, CLAIMS_SEEDS_DIR=str(seeds))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _counts(database_url) == (5, SEED_CLAIMS, SEED_CLAIMS, expected_stances)
    assert_consistent(database_url)

    again = run_cli(["seed"], database_url, CLAIMS_SEEDS_DIR=str(seeds))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 sources added, 0 reports added, 0 claims added, 0 stances added" in again.stdout
    assert _counts(database_url) == (5, SEED_CLAIMS, SEED_CLAIMS, expected_stances)
    print(
        f"\nSIGKILL mid-seed: killed with {claims}/{SEED_CLAIMS} claims and "
        f"{stances}/{expected_stances} stances in; second run: {result.stdout.strip()}"
    )


# --- SIGTERM drains -----------------------------------------------------------------------


@dataclass
class Outcome:
    started: float
    ended: float = 0.0
    status: int | None = None
    error: str | None = None


def _drain_writer(
    base_url: str,
    auth: dict[str, str],
    claim_id: str,
    source_id: str,
    outcomes: list[Outcome],
    lock: threading.Lock,
    deadline: float,
) -> None:
    """A slow stream: one stance every 50 ms until the server refuses the connection."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(200):
            if time.monotonic() > deadline:
                return
            outcome = Outcome(started=time.monotonic())
            try:
                response = client.post(
                    f"/claims/{claim_id}/stances",
                    headers=auth,
                    json={"source_id": source_id, "stance": "asserts"},
                )
                outcome.status = response.status_code
            except httpx.TransportError as exc:
                outcome.error = type(exc).__name__
            outcome.ended = time.monotonic()
            with lock:
                outcomes.append(outcome)
            if outcome.error:
                return
            time.sleep(0.05)


def test_sigterm_drains_requests_in_flight(database_url: str, start_server: Any) -> None:
    server = start_server(database_url, CLAIMS_LOG_LEVEL="INFO")
    auth = write_key(database_url)
    with server.client() as client:
        claim_id = post(client, "/claims", auth, {"text": "Insurgents entered Hama."})["id"]
        sources = [
            post(client, "/sources", auth, {"name": f"Drain {i}", "kind": "monitor"})["id"]
            for i in range(4)
        ]

    # Hold the claim's write lock, so that the writers' requests stay in flight.
    engine = make_engine(Settings(database_url=database_url))
    holder = write_engine(engine).connect()
    transaction = holder.begin()
    holder.execute(
        sa.text(
            "SELECT id FROM claim WHERE id = :id"
            + ("" if "sqlite" in database_url else " FOR UPDATE")
        ),
        {"id": int(claim_id)},
    )
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 30
    threads = [
        threading.Thread(
            target=_drain_writer,
            args=(server.base_url, auth, claim_id, source, outcomes, lock, deadline),
        )
        for source in sources
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        sigterm_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        # Still draining: the requests it holds have not finished yet.
        assert server.process.poll() is None, server.log()
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.base_url + "/healthz", timeout=2)
        released_at = time.monotonic()
        transaction.commit()
    finally:
        holder.close()
    try:
        returncode = server.process.wait(timeout=30)
        exited_at = time.monotonic()
    finally:
        for thread in threads:
            thread.join(timeout=35)
    assert not any(t.is_alive() for t in threads)

    in_flight = [o for o in outcomes if o.started < sigterm_at < (o.ended or exited_at)]
    assert len(in_flight) == len(threads), outcomes
    assert all(o.status == 201 for o in in_flight), in_flight
    assert all(o.ended >= released_at for o in in_flight)
    # Every request sent before SIGTERM got its answer; those after it found the door shut.
    assert all(o.status == 201 for o in outcomes if o.started < sigterm_at), outcomes
    assert all(o.error == "ConnectError" for o in outcomes if o.started > sigterm_at), outcomes
    # uvicorn shuts down cleanly, then re-raises SIGTERM: 143 is "stopped by SIGTERM", as asked.
    assert returncode in (0, -signal.SIGTERM), server.log()
    assert exited_at - released_at < 10
    assert "Application shutdown complete" in server.log()

    engine_stances = 0
    try:
        with engine.connect() as conn:
            engine_stances = conn.execute(sa.text("SELECT COUNT(*) FROM stance")).scalar_one()
    finally:
        engine.dispose()
    assert engine_stances == sum(1 for o in outcomes if o.status == 201)
    assert_consistent(database_url)
    print(
        f"\nSIGTERM: {len(in_flight)} requests in flight all answered 201; exit "
        f"{returncode} {exited_at - sigterm_at:.2f} s after SIGTERM, "
        f"{exited_at - released_at:.2f} s after the lock was released"
    )
