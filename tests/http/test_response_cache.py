"""The cache of open reads (app/http/response_cache.py): it answers repeated reads without
touching the database, and never answers with data older than the request.

Statements are counted on the app's own engine: a cached answer runs none.
"""

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.auth import Scope, create_key, revoke_key
from app.core.config import Settings
from app.http.response_cache import ResponseCache
from app.main import create_app
from tests.helpers import add_stance, captured_sql, ids, make_claim, make_report, make_source


def statements(app: FastAPI) -> AbstractContextManager[list[tuple[str, Any]]]:
    """The SQL the app's engine runs inside the block."""
    return captured_sql(app.state.engine)


def from_cache(app: FastAPI, read: Callable[[], Any]) -> Any:
    """The answer of `read`, which must run no statement: it comes from the cache."""
    with statements(app) as seen:
        answer = read()
    assert seen == [], "the read ran statements: it was not served from the cache"
    return answer


def disputed_claim(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    claim = make_claim(client, auth, "Insurgents entered Hama.")
    insurgents = make_source(client, auth, "Insurgent command", kind="armed_group")
    state_media = make_source(client, auth, "SANA", kind="state_media")
    add_stance(client, auth, claim["id"], insurgents["id"], "asserts")
    add_stance(client, auth, claim["id"], state_media["id"], "denies")
    return claim


def cached_reads(app: FastAPI) -> list[str]:
    """READS, less the feed on PostgreSQL, which is never cached there
    (test_the_feed_moves_when_an_unrelated_transaction_ends)."""
    postgres = app.state.engine.dialect.name == "postgresql"
    return [path for path in READS if not (postgres and path == "/changes")]


# How long another worker's transaction may hold the shared cluster's feed back.
FEED_SETTLES_WITHIN_SECONDS = 10

PER_REQUEST_HEADERS = {"x-request-id", "ratelimit"}


def same_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in PER_REQUEST_HEADERS}


READS = [
    "/claims?status=disputed",
    "/claims?stance=denies&source_kind=state_media",
    "/claims?q=Hama",
    "/claims?limit=1",
    "/sources",
    "/changes",
]


def test_a_repeated_read_runs_no_statement(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    claim = disputed_claim(client, auth)
    for path in [*cached_reads(app), f"/claims/{claim['id']}", f"/claims/{claim['id']}/stances"]:
        first = client.get(path)
        again = from_cache(app, lambda: client.get(path))  # noqa: B023 - called at once
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert same_headers(again) == same_headers(first)
        # What the layers above the cache add is still per request.
        assert again.headers["x-request-id"] != first.headers["x-request-id"]
        assert "ratelimit" in again.headers


def test_a_write_through_the_api_is_seen_by_the_next_read(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth, "Insurgents entered Hama.")
    source = make_source(client, auth, "SANA", kind="state_media")
    assert client.get("/claims?status=disputed").json()["items"] == []
    assert client.get(f"/claims/{claim['id']}").json()["status"] == "unsourced"
    add_stance(client, auth, claim["id"], source["id"], "denies")
    assert client.get(f"/claims/{claim['id']}").json()["status"] == "denied"
    assert [c["id"] for c in client.get("/claims?status=denied").json()["items"]] == [claim["id"]]


def test_a_change_made_by_another_connection_is_seen_by_the_next_read(
    app: FastAPI, client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    """Another process (a migration, the bulk importer, a second worker) writes behind this
    app's back: its next read must still show the change."""
    claim = make_claim(client, auth, "Insurgents entered Hama.")
    assert client.get(f"/claims/{claim['id']}").json()["text"] == "Insurgents entered Hama."
    client.get(f"/claims/{claim['id']}")  # now cached
    other = sa.create_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(sa.text("UPDATE claim SET text = 'Hama was breached.'"))
    finally:
        other.dispose()
    with statements(app) as seen:
        assert client.get(f"/claims/{claim['id']}").json()["text"] == "Hama was breached."
    assert seen != []


def test_a_conditional_read_gets_its_304_from_the_cache(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    claim = disputed_claim(client, auth)
    path = f"/claims/{claim['id']}"
    etag = client.get(path).headers["etag"]
    not_modified = from_cache(app, lambda: client.get(path, headers={"If-None-Match": etag}))
    other_tag = from_cache(
        app, lambda: client.get(path, headers={"If-None-Match": '"something-else"'})
    )
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == etag
    assert not_modified.content == b""
    assert other_tag.status_code == 200
    assert other_tag.headers["etag"] == etag


def test_the_format_asked_for_is_part_of_the_key(client: TestClient, auth: dict[str, str]) -> None:
    claim = disputed_claim(client, auth)
    path = f"/claims/{claim['id']}"
    as_json = client.get(path)
    as_jsonld = client.get(path, headers={"Accept": "application/ld+json"})
    csv = client.get("/claims", headers={"Accept": "text/csv"})
    assert as_json.headers["content-type"] == "application/json"
    assert as_jsonld.headers["content-type"].startswith("application/ld+json")
    assert csv.headers["content-type"].startswith("text/csv")
    assert client.get(path).content == as_json.content


def test_errors_are_not_kept(app: FastAPI, client: TestClient) -> None:
    assert client.get("/claims/999999").status_code == 404
    with statements(app) as seen:
        assert client.get("/claims/999999").status_code == 404
    assert seen != []


def test_reads_that_need_a_key_are_never_cached(database_url: str) -> None:
    """Each read authenticates, so a key revoked a moment ago is refused at once."""
    app = create_app(Settings(database_url=database_url, require_key_for_reads=True))
    key = create_key(engine=app.state.engine, scope=Scope.read)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        assert client.get("/claims", headers=headers).status_code == 200
        with statements(app) as seen:
            assert client.get("/claims", headers=headers).status_code == 200
        assert seen != []
        assert revoke_key(engine=app.state.engine, key_or_prefix=key) == 1
        assert client.get("/claims", headers=headers).status_code == 401
    app.state.engine.dispose()


def test_an_answer_too_large_for_the_budget_is_served_but_not_kept(
    database_url: str, client: TestClient, auth: dict[str, str]
) -> None:
    for number in range(30):
        make_claim(client, auth, f"Claim number {number} about the road to Homs.")
    app = create_app(Settings(database_url=database_url, response_cache_bytes=8 * 1024))
    with TestClient(app) as small:
        big = small.get("/claims?limit=30")
        assert len(big.content) > 1024  # over an eighth of 8 KiB
        with statements(app) as seen:
            assert small.get("/claims?limit=30").content == big.content
        assert seen != []
        small.get("/claims?limit=1")
        from_cache(app, lambda: small.get("/claims?limit=1"))
    app.state.engine.dispose()


def test_the_cache_can_be_turned_off(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, response_cache_bytes=0))
    with TestClient(app) as client:
        client.get("/claims")
        with statements(app) as seen:
            client.get("/claims")
        assert seen != []
    app.state.engine.dispose()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_always_look(app: FastAPI, client: TestClient, path: str) -> None:
    client.get(path)
    with statements(app) as seen:
        assert client.get(path).status_code == 200
    assert seen != []


def the_cache(app: FastAPI) -> ResponseCache:
    """The app's ResponseCache middleware (built on the first request)."""
    layer: Any = app.middleware_stack
    while not isinstance(layer, ResponseCache):
        layer = layer.app
    return layer


def held_bytes(cache: ResponseCache) -> int:
    """Every byte of every entry, keys included, counted here rather than trusted."""
    return sum(
        sum(len(part) for part in key)
        + len(answer.body)
        + sum(len(n) + len(v) for n, v in answer.headers)
        for key, answer in cache._answers.items()
    )


def test_distinct_huge_accept_headers_hold_no_memory(
    database_url: str, client: TestClient, auth: dict[str, str]
) -> None:
    """Issue 13, hole 1: 400 GETs each with its own 1 MB Accept took RSS up by 340 MiB. Each
    kept an entry whose key the byte bound did not count. Now an Accept too long to be one
    of the formats served is not cached, and every entry counts its key."""
    make_claim(client, auth, "Insurgents entered Hama.")
    budget = 256 * 1024
    app = create_app(Settings(database_url=database_url, response_cache_bytes=budget))
    with TestClient(app) as hostile:
        for number in range(40):
            accept = f"application/json, x/{number}-" + "a" * 100_000
            assert hostile.get("/claims", headers={"Accept": accept}).status_code == 200
        cache = the_cache(app)
        assert (len(cache._answers), held_bytes(cache)) == (0, 0)
        for number in range(200):
            assert hostile.get(f"/claims?unused={'b' * 2000}{number}").status_code == 200
        assert held_bytes(cache) <= cache._bytes <= budget
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("accepts", "cached"),
    [
        (["", "application/json", "*/*", "application/json;q=0.9, */*;q=0.1"], True),
        (["text/csv", "text/csv;q=1", "text/csv, application/json"], True),
        (["image/png"], False),
    ],
)
def test_accept_values_that_pick_the_same_format_share_one_entry(
    app: FastAPI, client: TestClient, auth: dict[str, str], accepts: list[str], cached: bool
) -> None:
    make_claim(client, auth, "Insurgents entered Hama.")
    first = client.get("/claims", headers={"Accept": accepts[0]})
    for accept in accepts:
        if cached:
            again = from_cache(app, lambda: client.get("/claims", headers={"Accept": accept}))  # noqa: B023
            assert again.content == first.content
        else:
            with statements(app) as seen:
                assert client.get("/claims", headers={"Accept": accept}).content == first.content
            assert seen != []
    assert len(the_cache(app)._answers) == (1 if cached else 0)


def test_a_change_to_one_claim_keeps_the_cached_reads_of_the_others(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    """Issue 12: a desk writes stances all morning. A stance on Hama empties what it can
    change (Hama's reads, every list, the feed) and nothing else: Homs stays cached."""
    hama = disputed_claim(client, auth)
    homs = make_claim(client, auth, "The army redeployed outside Homs.")
    monitor = make_source(client, auth, "War monitor")
    kept = [f"/claims/{homs['id']}", f"/claims/{homs['id']}/stances"]
    kept.append(f"/claims/{homs['id']}/timeline")
    dropped = [f"/claims/{hama['id']}", f"/claims/{hama['id']}/stances", *cached_reads(app)]
    before = {path: client.get(path).content for path in kept + dropped}
    for path in kept + dropped:
        from_cache(app, lambda: client.get(path))  # noqa: B023 - called at once
    add_stance(client, auth, hama["id"], monitor["id"], "asserts")
    for path in kept:
        assert from_cache(app, lambda: client.get(path)).content == before[path]  # noqa: B023
    for path in dropped:
        with statements(app) as seen:
            assert client.get(path).status_code == 200
        assert seen != [], f"{path} was served from before the stance"
    assert client.get(f"/claims/{hama['id']}").json()["asserting_sources"] == 2


# Writes made behind the app's back, one table each, and whether they can change what the
# reads of *other* claims show (a source's or a report's name is in every claim citing it).
BEHIND_THE_APPS_BACK = [
    ("UPDATE claim SET place = 'Hama' WHERE id = :claim", False),
    ("INSERT INTO claim_tag (claim_id, tag) VALUES (:claim, 'hama')", False),
    ("UPDATE stance SET note = 'Checked twice.' WHERE claim_id = :claim", False),
    ("DELETE FROM stance WHERE claim_id = :claim", False),
    ("UPDATE verdict SET explanation = 'Rechecked.' WHERE claim_id = :claim", False),
    ("UPDATE claim_status_period SET status_since = valid_from WHERE claim_id = :claim", False),
    ("UPDATE source SET description = 'Renamed.'", True),
    ("UPDATE report SET title = 'The fall of Hama'", True),
]


@pytest.mark.parametrize(("sql", "shared"), BEHIND_THE_APPS_BACK)
def test_a_write_to_any_table_a_claim_shows_drops_what_it_can_change(
    app: FastAPI,
    client: TestClient,
    auth: dict[str, str],
    database_url: str,
    sql: str,
    shared: bool,
) -> None:
    """Triggers record every writer's changes, whoever makes them (migration 0014)."""
    hama = disputed_claim(client, auth)
    report = make_report(client, auth, title="Insurgents enter Hama")
    checker = make_source(client, auth, "Fact-check desk", kind="ngo")
    add_stance(client, auth, hama["id"], checker["id"], "denies", report_id=report["id"])
    verdict = {"source_id": checker["id"], "rating": "mostly_false"}
    assert client.put(f"/claims/{hama['id']}/verdict", headers=auth, json=verdict).is_success
    homs = make_claim(client, auth, "The army redeployed outside Homs.")
    hama_path, homs_path = f"/claims/{hama['id']}", f"/claims/{homs['id']}"
    for path in (hama_path, homs_path):
        client.get(path)
    other = sa.create_engine(database_url)
    try:
        with other.begin() as conn:
            assert conn.execute(sa.text(sql), {"claim": int(hama["id"])}).rowcount > 0
    finally:
        other.dispose()
    for path, changed in ((hama_path, True), (homs_path, shared)):
        with statements(app) as seen:
            assert client.get(path).status_code == 200
        assert (seen != []) == changed, path


def test_a_change_keeps_the_pages_of_a_list_it_cannot_reach(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    """A keyset page is the first `limit` claims after its cursor: a claim that is not on it
    and does not now sort into its span cannot change it. Six claims, pages of two, newest
    first: editing the fourth moves it to the top, which changes pages one and two only."""
    claims = [make_claim(client, auth, f"Claim {n} about Hama.") for n in range(6)]
    pages = [client.get("/claims?limit=2")]
    while (cursor := pages[-1].json()["next_cursor"]) is not None:
        pages.append(client.get(f"/claims?limit=2&cursor={cursor}"))
    paths = [str(page.url).removeprefix("http://testserver") for page in pages]
    assert [ids(page.json()) for page in pages] == [
        [claims[5]["id"], claims[4]["id"]],
        [claims[3]["id"], claims[2]["id"]],
        [claims[1]["id"], claims[0]["id"]],
    ]
    for path in paths:
        from_cache(app, lambda: client.get(path))  # noqa: B023 - called at once
    edited = client.patch(f"/claims/{claims[3]['id']}", headers=auth, json={"place": "Hama"})
    assert edited.status_code == 200
    for path, moved in zip(paths, (True, True, False), strict=True):
        with statements(app) as seen:
            page = client.get(path)
        assert (seen != []) == moved, path
    assert page.content == pages[2].content
    assert ids(client.get(paths[0]).json()) == [claims[3]["id"], claims[5]["id"]]


def test_cached_answers_match_uncached_ones_through_a_morning_of_writes(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    """The no-stale guarantee, checked the hard way: a second app on the same database with
    no cache answers every read after every random write, and the bytes must agree."""
    rng = random.Random(5)
    sources = [
        make_source(client, auth, f"Source {n}", kind=kind)
        for n, kind in enumerate(("state_media", "armed_group", "monitor"))
    ]
    claims = [make_claim(client, auth, f"Claim {n} about Hama.")["id"] for n in range(8)]
    lists = [
        "/claims?limit=3",
        "/claims?limit=3&status=disputed",
        "/claims?limit=2&sort=created_at",
        "/claims?limit=2&stance=denies&source_kind=state_media",
        "/claims?limit=3&q=Hama",
        "/claims?limit=2&as_of=2024-12-05T12:00:00Z",
    ]
    paths = [*(f"/claims/{claim}" for claim in claims), "/sources", "/changes"]
    for path in lists:  # every page of each list, walked once: cursors stay valid places
        paths += [
            str(page.url).removeprefix("http://testserver") for page in walk_pages(client, path)
        ]
    # On PostgreSQL the feed holds back transactions still running anywhere in the cluster,
    # other tests' included, so two reads a moment apart may differ while one ends: there,
    # /changes must agree once the cluster settles (a stale copy never would).
    settle = 20 if database_url.startswith("postgresql") else 1
    plain = create_app(Settings(database_url=database_url, response_cache_bytes=0))
    with TestClient(plain) as uncached:
        for step in range(24):
            write(client, auth, rng, claims, sources, step)
            for path in paths:
                for _ in range(settle if path == "/changes" else 1):
                    cached, fresh = client.get(path), uncached.get(path)
                    if (cached.status_code, cached.content) == (fresh.status_code, fresh.content):
                        break
                    time.sleep(0.05)
                assert (cached.status_code, cached.content) == (
                    fresh.status_code,
                    fresh.content,
                ), f"step {step}: {path}"
    plain.state.engine.dispose()


def walk_pages(client: TestClient, path: str) -> list[Any]:
    pages = [client.get(path)]
    while (cursor := pages[-1].json()["next_cursor"]) is not None:
        pages.append(client.get(f"{path}&cursor={cursor}"))
    return pages


def write(
    client: TestClient,
    auth: dict[str, str],
    rng: random.Random,
    claims: list[str],
    sources: list[dict[str, Any]],
    step: int,
) -> None:
    """One write a desk makes: mostly stances (some back-dated), an edit, a new claim, a
    deleted one, a source renamed."""
    claim = rng.choice(claims)
    kind = rng.choice(["stance"] * 6 + ["edit", "new", "delete", "source"])
    if kind == "stance":
        hour = rng.randint(6, 18)
        add_stance(
            client,
            auth,
            claim,
            rng.choice(sources)["id"],
            rng.choice(["asserts", "denies", "retracts"]),
            stated_at=f"2024-12-05T{hour:02}:00:00Z",
        )
    elif kind == "edit":
        assert client.patch(f"/claims/{claim}", headers=auth, json={"place": f"P{step}"}).is_success
    elif kind == "new":
        claims.append(make_claim(client, auth, f"Claim {step} about Hama.")["id"])
    elif kind == "delete" and len(claims) > 3:
        claims.remove(claim)
        assert client.delete(f"/claims/{claim}", headers=auth).status_code == 204
    elif kind == "source":
        source = rng.choice(sources)["id"]
        assert client.patch(f"/sources/{source}", headers=auth, json={"country": "SY"}).is_success


def test_the_feed_moves_when_an_unrelated_transaction_ends(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    """On PostgreSQL /changes serves only transactions older than every one still running,
    anywhere in the cluster: a transaction that writes nothing the cache watches (or rolls
    back) still moves the feed when it ends, so the feed is not cached there.

    The cluster is shared with the other test workers, whose own transactions may hold the
    feed back a moment longer: the read is retried for a few seconds. A feed answered from
    the cache would stay empty however long it is asked (nothing the log sees changes)."""
    other = sa.create_engine(database_url)
    try:
        with other.connect() as running:
            if other.dialect.name == "postgresql":
                running.execute(sa.text("SELECT pg_current_xact_id()"))  # holds an xid
            hama = make_claim(client, auth, "Insurgents entered Hama.")
            client.get("/changes")
            running.rollback()
        deadline = time.monotonic() + FEED_SETTLES_WITHIN_SECONDS
        while not (changes := client.get("/changes").json()["items"]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        other.dispose()
    assert [change["id"] for change in changes] == [hama["id"]]


def test_the_next_cursor_follows_the_claim_after_the_page(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    """A page's next cursor depends on the claim fetched after it: when that one goes, the
    page (now the last) loses its cursor, though no claim on it changed."""
    claims = [make_claim(client, auth, f"Claim {n} about Hama.") for n in range(3)]
    assert client.get("/claims?limit=2").json()["next_cursor"] is not None
    from_cache(app, lambda: client.get("/claims?limit=2"))
    assert client.delete(f"/claims/{claims[0]['id']}", headers=auth).status_code == 204
    assert client.get("/claims?limit=2").json()["next_cursor"] is None
