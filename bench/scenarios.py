"""The read scenarios: each one's URL on the service, and the equivalent canned query for
Datasette, with parameters picked from the archive itself (the same rows on both engines).
"""

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

from app.core.pagination import encode_cursor
from bench.generate import PLACES

SEARCH_WORD = PLACES[2]  # "Aleppo": in about 1.5% of claims, as a place name is
HOT_CLAIMS = 20
LIST_COLUMNS = (
    "id, text, language, place, occurred_at, tags, status, asserting_sources, "
    "denying_sources, created_at, updated_at"
)
PAGE = 20


@dataclass(frozen=True)
class Scenario:
    name: str
    app_url: str
    datasette_query: str  # canned query name
    datasette_params: dict[str, str]
    # The desk's HTML pages (issue 15): measured on the service alone, beside the JSON
    # lists they are drawn from; no peer renders them.
    html: bool = False


@dataclass(frozen=True)
class Params:
    deep_updated_at: object  # aware datetime, for the service's cursor
    deep_updated_at_raw: str  # as SQLite stores it, for Datasette
    deep_id: int
    claim_id: int
    hot_claims: list[int]
    # Midway through the archive's stated time, for the lists as of a past time.
    as_of: object = None  # aware datetime
    as_of_raw: str = ""  # as SQLite stores it, for Datasette
    # An hour before the newest stance: the desk's question ("what was it this morning?").
    recent_as_of: object = None
    recent_as_of_raw: str = ""


def pick_params(url: str) -> Params:
    """A deep cursor halfway down the disputed list, a claim with several current stances,
    and the newest claims as the hot ones the writers pile onto."""
    engine = sa.create_engine(url)
    claim = sa.table(
        "claim", sa.column("id"), sa.column("status"), sa.column("asserting_sources"),
        sa.column("denying_sources"),
    )  # fmt: skip
    try:
        with engine.connect() as conn:
            disputed = conn.execute(
                sa.text("SELECT count(*) FROM claim WHERE status = 'disputed'")
            ).scalar_one()
            deep_id = conn.execute(
                sa.text(
                    "SELECT id FROM claim WHERE status = 'disputed' "
                    "ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET :k"
                ),
                {"k": disputed // 2},
            ).scalar_one()
            total = conn.execute(sa.text("SELECT max(id) FROM claim")).scalar_one()
            claim_id = conn.execute(
                sa.select(claim.c.id)
                .where(claim.c.id >= total // 2)
                .where(claim.c.asserting_sources + claim.c.denying_sources >= 4)
                .order_by(claim.c.id)
                .limit(1)
            ).scalar_one()
            hot = list(
                conn.execute(
                    sa.select(claim.c.id).order_by(claim.c.id.desc()).limit(HOT_CLAIMS)
                ).scalars()
            )
    finally:
        engine.dispose()
    # The stored timestamp, read through the app's own column type (timezone-aware).
    from sqlmodel import Session

    from app.claims.models import Claim
    from app.core.config import Settings
    from app.core.db import make_engine
    from app.stances.models import Stance

    app_engine = make_engine(Settings(database_url=url))
    try:
        with Session(app_engine) as session:
            updated_at = session.get(Claim, deep_id).updated_at  # type: ignore[union-attr]
            first, last = session.execute(
                sa.select(sa.func.min(Stance.stated_at), sa.func.max(Stance.stated_at))
            ).one()
    finally:
        app_engine.dispose()
    # Read through the app's type on PostgreSQL; SQLite's min/max come back as text.
    first, last = (_aware(value) for value in (first, last))
    as_of = first + (last - first) / 2
    raw = ""
    if url.startswith("sqlite"):
        with sqlite3.connect(sa.make_url(url).database or "") as conn:
            row = conn.execute("SELECT updated_at FROM claim WHERE id = ?", (deep_id,))
            raw = row.fetchone()[0]
    recent = last - timedelta(hours=1)
    return Params(
        updated_at, raw, deep_id, claim_id, hot, as_of, _stored(as_of), recent, _stored(recent)
    )


def _stored(value: datetime) -> str:
    """An aware time as SQLite stores it."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _aware(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def read_scenarios(params: Params) -> list[Scenario]:
    cursor = encode_cursor("-updated_at", params.deep_updated_at, params.deep_id)
    return [
        Scenario("disputed", "/claims?status=disputed&limit=20", "disputed", {}),
        Scenario(
            "denied_by_state_media",
            "/claims?stance=denies&source_kind=state_media&limit=20",
            "denied_by_state_media",
            {},
        ),
        Scenario(
            "search", f"/claims?q={SEARCH_WORD}&limit=20", "search", {"q": f'"{SEARCH_WORD}"'}
        ),
        # The same matches ranked (issue 14): every match scored and sorted, not a walk of
        # the list's index, so it grows with the matches; the ranked page's peer query is
        # FTS5's own bm25 over the same analysed column.
        Scenario(
            "search_relevance",
            f"/claims?q={SEARCH_WORD}&sort=relevance&limit=20",
            "search_relevance",
            {"q": f'"{SEARCH_WORD.lower()}"'},
        ),
        Scenario(
            "deep_page",
            "/claims?" + urlencode({"status": "disputed", "limit": 20, "cursor": cursor}),
            "deep_page",
            {"t": params.deep_updated_at_raw, "i": str(params.deep_id)},
        ),
        Scenario("claim", f"/claims/{params.claim_id}", "claim", {"id": str(params.claim_id)}),
        # Status over time: the disputed list as of midway through the archive (served by
        # the status periods), and one claim's timeline (replayed from its stances).
        Scenario(
            "as_of_disputed",
            "/claims?"
            + urlencode({"status": "disputed", "as_of": _rfc3339(params.as_of), "limit": 20}),
            "as_of_disputed",
            {"t": params.as_of_raw},
        ),
        # The same list as of an hour before the newest stance: the desk's question. Until
        # migration 0015 the midway list walked past every disputed period begun after T
        # (their claims come first in the list's order) and this one passed few; the lag
        # classes (app/stances/period_lag.py) start each walk near T for both.
        Scenario(
            "as_of_recent",
            "/claims?"
            + urlencode(
                {"status": "disputed", "as_of": _rfc3339(params.recent_as_of), "limit": 20}
            ),
            "as_of_disputed",
            {"t": params.recent_as_of_raw},
        ),
        Scenario(
            "timeline",
            f"/claims/{params.claim_id}/timeline",
            "timeline",
            {"id": str(params.claim_id)},
        ),
        # The desk: its front page (the contested claims, each with its camps and reports)
        # and one claim's page (stances, the timeline drawn, the verdict).
        Scenario("desk", "/", "", {}, html=True),
        Scenario("desk_claim", f"/desk/claims/{params.claim_id}", "", {}, html=True),
    ]


def _rfc3339(value: object) -> str:
    assert isinstance(value, datetime)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def datasette_url(database: str, scenario: Scenario) -> str:
    query = urlencode({"_shape": "array", **scenario.datasette_params})
    return f"/{database}/{scenario.datasette_query}.json?{query}"


_LIST = f"SELECT {LIST_COLUMNS} FROM claim WHERE {{where}} ORDER BY updated_at DESC, id DESC"
CANNED_QUERIES = {
    "disputed": _LIST.format(where="status = 'disputed'") + f" LIMIT {PAGE + 1}",
    "denied_by_state_media": _LIST.format(
        where="EXISTS (SELECT 1 FROM stance JOIN source ON source.id = stance.source_id "
        "WHERE stance.claim_id = claim.id AND stance.is_current "
        "AND stance.stance = 'denies' AND source.kind = 'state_media')"
    )
    + f" LIMIT {PAGE + 1}",
    "search": _LIST.format(where="id IN (SELECT rowid FROM claim_fts WHERE claim_fts MATCH :q)")
    + f" LIMIT {PAGE + 1}",
    "search_relevance": f"SELECT {LIST_COLUMNS} FROM claim JOIN (SELECT rowid AS id, "
    "-bm25(claim_fts) AS score FROM claim_fts WHERE claim_fts MATCH :q) AS ranked USING (id) "
    f"ORDER BY score DESC, id DESC LIMIT {PAGE + 1}",
    "deep_page": _LIST.format(where="status = 'disputed' AND (updated_at, id) < (:t, :i)")
    + f" LIMIT {PAGE + 1}",
    "claim": (
        "SELECT claim.*, stance.id AS stance_id, stance.source_id, stance.stance, "
        "stance.stated_at, stance.url, stance.quote, stance.reported_via, stance.note, "
        "stance.is_current, stance.created_at AS stance_created_at, source.name, source.kind, "
        "source.affiliation FROM claim LEFT JOIN stance ON stance.claim_id = claim.id "
        "AND stance.is_current LEFT JOIN source ON source.id = stance.source_id "
        "WHERE claim.id = :id ORDER BY stance.stated_at DESC, stance.id DESC"
    ),
    "as_of_disputed": (
        "SELECT claim.id, text, language, place, occurred_at, tags, "
        "coalesce(p.status, 'unsourced') AS status, coalesce(p.asserting_sources, 0) "
        "AS asserting_sources, coalesce(p.denying_sources, 0) AS denying_sources, "
        "created_at, updated_at, p.status_since FROM claim LEFT JOIN claim_status_period p "
        "ON p.claim_id = claim.id AND p.valid_from <= :t AND (p.valid_to > :t OR p.valid_to "
        "IS NULL) WHERE coalesce(p.status, 'unsourced') = 'disputed' "
        f"ORDER BY updated_at DESC, claim.id DESC LIMIT {PAGE + 1}"
    ),
    "timeline": (
        "SELECT p.*, stance.stance, stance.source_id, source.name FROM claim_status_period p "
        "JOIN stance ON stance.id = p.changed_by_stance_id JOIN source ON source.id = "
        "stance.source_id WHERE p.claim_id = :id ORDER BY p.valid_from"
    ),
}


def datasette_metadata(database: str, path: Path) -> None:
    queries = {name: {"sql": sql} for name, sql in CANNED_QUERIES.items()}
    path.write_text(json.dumps({"databases": {database: {"queries": queries}}}, indent=2))
