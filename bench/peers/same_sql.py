"""Peer (d): the service's own SQL through the stdlib driver, the service's bytes out.

A minimal FastAPI app with plain `def` routes (one thread-pool hop, as FastAPI runs any
blocking driver) that, for each request, runs the statements claims-api runs for it
(sqlite3, or psycopg for PostgreSQL, one connection per worker thread, autocommit: no
BEGIN/ROLLBACK around a read) and builds the same JSON by hand. What it leaves out is the
service's framework work: parameter validation, dependencies, sessions, middleware, the
access log. It understands only the URLs the bench sends (the read scenarios and the
mixed run: status, stance, source_kind, place, language, q, limit, cursor, and one claim)
and answers 404 to anything else. The run checks its bodies against the service's, URL by
URL, before timing it.

The claim's status explanation comes from the service's own pure rule
(app.stances.rules.derive_status), and cursors from app.core.pagination, so a rule stays
in one place; both are pure functions, cheap beside the SQL.

    BENCH_DATABASE_URL=sqlite:///bench/.data/x.db uvicorn bench.peers.same_sql:app
"""

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response

from app.core.pagination import decode_cursor, encode_cursor
from app.search.query import SearchQuery, parse_query, to_fts5, to_tsquery
from app.stances.rules import CurrentStance, StanceKind, derive_status

# The read scenarios this peer answers (bench/scenarios.py). Not yet: as_of_disputed and
# timeline (status periods), search_relevance (the ranked search): the runner measures the
# service alone on those.
SCENARIOS = frozenset({"disputed", "denied_by_state_media", "search", "deep_page", "claim"})
CLAIM_FIELDS = (
    "id", "text", "language", "place", "occurred_at", "tags", "status", "asserting_sources",
    "denying_sources", "created_at", "updated_at", "status_since",
)  # fmt: skip
CLAIM_COLUMNS = ", ".join(f"claim.{name}" for name in CLAIM_FIELDS)
SORT = "-updated_at"
DEFAULT_LIMIT = 20
_SOURCE_COLUMNS = (
    "source.id{a}, source.name, source.name_key, source.kind, source.affiliation, "
    "source.affiliation_key, source.country, source.url AS url_1, source.description, "
    "source.created_at AS created_at_1, source.updated_at{b}"
)
# The statements of GET /claims/{id}, as SQLAlchemy renders them for the service.
STANCES_SQL = (
    "SELECT stance.id, stance.claim_id, stance.source_id, stance.stance, stance.stated_at, "
    "stance.url, stance.quote, stance.reported_via, stance.note, stance.is_current, "
    "stance.created_at, stance.report_id, stance.quote_found, "
    + _SOURCE_COLUMNS.format(a=" AS id_1", b="")
    + " FROM stance "
    "JOIN source ON source.id = stance.source_id WHERE stance.claim_id = {p} AND "
    "{current} ORDER BY stance.stated_at DESC, stance.id DESC"
)
VERDICT_SQL = (
    "SELECT verdict.claim_id, verdict.rating, verdict.textual_rating, verdict.explanation, "
    "verdict.source_id, verdict.reviewed_at, verdict.url, verdict.created_at, "
    "verdict.updated_at, " + _SOURCE_COLUMNS.format(a="", b=" AS updated_at_1") + " FROM "
    "verdict JOIN source ON source.id = verdict.source_id WHERE verdict.claim_id = {p}"
)


class _ConnectionPerThread:
    """One autocommit connection per worker thread, opened by its first statement; `opened`
    holds them all, for the app to close at shutdown."""

    def __init__(self, target: str) -> None:
        self._target = target  # a file path or a conninfo: what _connect() opens
        self._local = threading.local()
        self.opened: list[Any] = []

    def _connect(self) -> Any:
        raise NotImplementedError

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self.opened.append(conn)
            self._local.conn = conn
        rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
        return rows


class Sqlite(_ConnectionPerThread):
    """SQLite through sqlite3: text timestamps as SQLAlchemy stores them, JSON as text."""

    placeholder = "?"
    current = "stance.is_current = 1"

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._target, isolation_level=None, check_same_thread=False)

    @staticmethod
    def when(value: str | None) -> str | None:
        # "2024-06-16 15:52:00.000000" -> "2024-06-16T15:52:00Z", as pydantic writes it.
        if value is None:
            return None
        fraction = value[20:26]
        return f"{value[:10]}T{value[11:19]}{'.' + fraction if fraction.strip('0') else ''}Z"

    @staticmethod
    def aware(value: str) -> datetime:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    @staticmethod
    def bind_time(value: datetime) -> Any:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    @staticmethod
    def tags(value: str) -> Any:
        return json.loads(value)

    def search(self, query: SearchQuery) -> tuple[str, list[Any]]:
        match = to_fts5(query)
        (matches,) = self.rows("SELECT count(*) FROM claim_fts WHERE claim_fts MATCH ?", [match])[0]
        (claims,) = self.rows("SELECT max(id) FROM claim", [])[0]
        # The service's choice of plan (app/search/sql.py `_many_matches`).
        column = "+claim.id" if 4 * matches * matches > 21 * (claims or 0) else "claim.id"
        return f"{column} IN (SELECT rowid FROM claim_fts WHERE claim_fts MATCH ?)", [match]

    limit_sql = "LIMIT ? OFFSET ?"

    @staticmethod
    def limit_params(limit: int) -> list[Any]:
        return [limit, 0]


class Postgres(_ConnectionPerThread):
    """PostgreSQL through psycopg: timestamps as aware datetimes, JSON decoded already."""

    placeholder = "%s"
    current = "stance.is_current"

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._target, autocommit=True)

    @staticmethod
    def when(value: datetime | None) -> str | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        fraction = f".{value.microsecond:06d}" if value.microsecond else ""
        return value.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"

    @staticmethod
    def aware(value: datetime) -> datetime:
        return value.astimezone(UTC)

    @staticmethod
    def bind_time(value: datetime) -> Any:
        return value

    @staticmethod
    def tags(value: Any) -> Any:
        return value

    @staticmethod
    def search(query: SearchQuery) -> tuple[str, list[Any]]:
        return "claim.search_vector @@ to_tsquery('simple'::regconfig, %s)", [to_tsquery(query)]

    limit_sql = "LIMIT %s"

    @staticmethod
    def limit_params(limit: int) -> list[Any]:
        return [limit]


def driver(url: str) -> Sqlite | Postgres:
    """The driver for a SQLAlchemy-style URL; it connects on its first query."""
    if url.startswith("sqlite"):
        return Sqlite(url.split(":///", 1)[1])
    return Postgres(url.replace("postgresql+psycopg://", "postgresql://", 1))


DB = driver(os.environ.get("BENCH_DATABASE_URL", "sqlite:///:memory:"))


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    # Each worker thread's connection (list.append is atomic: no lock for the bookkeeping).
    for conn in DB.opened:
        conn.close()
    DB.opened.clear()


app = FastAPI(lifespan=_lifespan)


def _dumps(value: Any) -> bytes:
    # pydantic's dump_json: compact, UTF-8 as is.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _claim(row: Sequence[Any]) -> dict[str, Any]:
    when = DB.when
    return {
        "id": str(row[0]), "text": row[1], "language": row[2], "place": row[3],
        "occurred_at": when(row[4]), "tags": DB.tags(row[5]), "status": row[6],
        "asserting_sources": row[7], "denying_sources": row[8], "created_at": when(row[9]),
        "updated_at": when(row[10]), "status_since": when(row[11]),
    }  # fmt: skip


def _in(column: str, values: list[str], params: list[Any]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join([DB.placeholder] * len(values))})"


def _stance_condition(stance: list[str], kinds: list[str], params: list[Any]) -> str:
    join = " JOIN source ON source.id = stance.source_id" if kinds else ""
    parts = ["stance.claim_id = claim.id", DB.current]
    if stance:
        parts.append(_in("stance.stance", stance, params))
    if kinds:
        parts.append(_in("source.kind", kinds, params))
    return f"EXISTS (SELECT stance.id FROM stance{join} WHERE {' AND '.join(parts)})"


def _conditions(request: Request, params: list[Any]) -> list[str]:
    """The WHERE of the list, in the order app/claims/filters.py `conditions` builds it."""
    query = request.query_params
    found = []
    if status := query.getlist("status"):
        found.append(_in("claim.status", status, params))
    stance, kinds = query.getlist("stance"), query.getlist("source_kind")
    if stance or kinds:
        found.append(_stance_condition(stance, kinds, params))
    if (q := query.get("q")) is not None:
        languages = query.getlist("language")
        analysed = parse_query(q, languages[0] if len(languages) == 1 else None)
        if analysed.is_empty:
            found.append("1 = 0")  # as the service: nothing to search, no index asked
        else:
            sql, extra = DB.search(analysed)
            found.append(sql)
            params.extend(extra)
    if place := query.getlist("place"):
        found.append(_in("claim.place", place, params))
    if language := query.getlist("language"):
        found.append(_in("claim.language", language, params))
    if cursor := query.get("cursor"):
        value, claim_id = decode_cursor(cursor, SORT, datetime)
        p = DB.placeholder
        found.append(f"(claim.updated_at, claim.id) < ({p}, {p})")
        params.extend([DB.bind_time(value), claim_id])
    return found


KNOWN = frozenset({"status", "stance", "source_kind", "place", "language", "q", "limit", "cursor"})


@app.get("/claims")
def list_claims(request: Request) -> Response:
    if not KNOWN.issuperset(request.query_params):
        return Response(status_code=404)
    limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
    params: list[Any] = []
    where = _conditions(request, params)
    sql = f"SELECT {CLAIM_COLUMNS} FROM claim"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY claim.updated_at DESC, claim.id DESC {DB.limit_sql}"
    rows = DB.rows(sql, params + DB.limit_params(limit + 1))
    headers = {}
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(SORT, DB.aware(rows[-1][10]), rows[-1][0])
        url = request.url.include_query_params(cursor=next_cursor)
        headers["Link"] = f'<{url}>; rel="next"'
    body = {"items": [_claim(row) for row in rows], "next_cursor": next_cursor}
    return Response(_dumps(body), media_type="application/json", headers=headers)


def _source(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": str(row[0]), "name": row[1], "kind": row[3], "affiliation": row[4]}


def _stance(row: Sequence[Any]) -> dict[str, Any]:
    when = DB.when
    return {
        "id": str(row[0]), "claim_id": str(row[1]), "source_id": str(row[2]), "stance": row[3],
        "stated_at": when(row[4]), "url": row[5], "quote": row[6], "reported_via": row[7],
        "note": row[8], "current": bool(row[9]),
        "report_id": None if row[11] is None else str(row[11]),
        "quote_found": None if row[12] is None else bool(row[12]),
        "created_at": when(row[10]), "source": _source(row[13:]),
    }  # fmt: skip


def _verdict(row: Sequence[Any]) -> dict[str, Any]:
    when = DB.when
    return {
        "claim_id": str(row[0]), "rating": row[1], "textual_rating": row[2],
        "explanation": row[3], "source_id": str(row[4]), "source": _source(row[9:]),
        "reviewed_at": when(row[5]), "url": row[6], "created_at": when(row[7]),
        "updated_at": when(row[8]),
    }  # fmt: skip


def _sql(template: str) -> str:
    return template.format(p=DB.placeholder, current=DB.current)


@app.get("/claims/{claim_id}")
def get_claim(claim_id: str) -> Response:
    if not claim_id.isdigit():
        return Response(status_code=404)
    pk = int(claim_id)
    found = DB.rows(f"SELECT {CLAIM_COLUMNS} FROM claim WHERE claim.id = {DB.placeholder}", [pk])
    if not found:
        return Response(status_code=404)
    stances = DB.rows(_sql(STANCES_SQL), [pk])
    verdicts = DB.rows(_sql(VERDICT_SQL), [pk])
    derived = derive_status(
        CurrentStance(StanceKind(row[3]), row[13], row[14], row[17], row[11]) for row in stances
    )
    body = _dumps(
        {
            **_claim(found[0]),
            "status_explanation": derived.explanation,
            "stances": [_stance(row) for row in stances],
            "verdict": _verdict(verdicts[0]) if verdicts else None,
        }
    )
    # The service's strong ETag (app/http/conditional.py `etag_of`): a hash of the JSON.
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    return Response(body, media_type="application/json", headers={"ETag": etag, "Vary": "Accept"})
