"""Claims: create, read, update, delete, and the filtered list."""

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, Integer, column, delete, exists, func, literal_column, text
from sqlmodel import Session, col, select

from app.db import utcnow
from app.errors import NotFound
from app.events import EventType, claim_snapshot, emit
from app.models import (
    Claim,
    ClaimCreate,
    ClaimDetail,
    ClaimPublic,
    ClaimTag,
    ClaimUpdate,
    Source,
    SourceKind,
    Stance,
    affiliation_key,
)
from app.pagination import decode_cursor, encode_cursor, keyset_after
from app.rating import Rating
from app.services import parse_id
from app.services.stances import current_stances, derive_claim_status, stance_public
from app.status import ClaimStatus, StanceKind
from app.verdicts import find_verdict, verdict_condition


class ClaimSort(StrEnum):
    newest_updated = "-updated_at"
    oldest_updated = "updated_at"
    newest_created = "-created_at"
    oldest_created = "created_at"

    @property
    def field_name(self) -> str:
        return self.value.lstrip("-")

    @property
    def column(self) -> Any:
        return getattr(Claim, self.field_name)

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


@dataclass
class ClaimFilters:
    """The filters of GET /claims: AND across fields, OR within a repeated field."""

    status: list[ClaimStatus] = field(default_factory=list)
    stance: list[StanceKind] = field(default_factory=list)
    source_id: list[str] = field(default_factory=list)
    source_kind: list[SourceKind] = field(default_factory=list)
    affiliation: list[str] = field(default_factory=list)
    q: str | None = None
    tag: list[str] = field(default_factory=list)
    place: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    updated_since: datetime | None = None
    verdict: list[Rating] = field(default_factory=list)


def get_claim(*, session: Session, claim_id: str, for_update: bool = False) -> Claim:
    claim = session.get(Claim, parse_id(claim_id, "claim"), with_for_update=for_update)
    if claim is None:
        raise NotFound(f"No claim has id '{claim_id}'.")
    return claim


def claim_detail(*, session: Session, claim: Claim) -> ClaimDetail:
    pairs = current_stances(session=session, claim_id=claim.id)  # type: ignore[arg-type]
    return ClaimDetail.model_validate(
        {
            **claim.model_dump(),
            "status_explanation": derive_claim_status(pairs).explanation,
            "stances": [stance_public(stance, source) for stance, source in pairs],
            "verdict": find_verdict(session=session, claim_id=claim.id),  # type: ignore[arg-type]
        }
    )


def create_claim(*, session: Session, data: ClaimCreate) -> Claim:
    claim = add_claim(session=session, data=data)
    session.commit()
    return claim


def add_claim(*, session: Session, data: ClaimCreate) -> Claim:
    """create_claim without the commit, for a caller that adds to the transaction."""
    now = utcnow()
    claim = Claim(
        **data.model_dump(), status=ClaimStatus.unsourced.value, created_at=now, updated_at=now
    )
    session.add(claim)
    session.flush()
    _write_tags(session, claim)
    emit(session, EventType.claim_created, {"claim": claim_snapshot(claim)})
    return claim


def update_claim(*, session: Session, claim_id: str, data: ClaimUpdate) -> Claim:
    claim = get_claim(session=session, claim_id=claim_id)
    changes = {
        k: v for k, v in data.model_dump(exclude_unset=True).items() if getattr(claim, k) != v
    }
    if changes:
        for name, value in changes.items():
            setattr(claim, name, value)
        claim.updated_at = utcnow()
        if "tags" in changes:
            session.exec(delete(ClaimTag).where(col(ClaimTag.claim_id) == claim.id))
            _write_tags(session, claim)
        emit(
            session,
            EventType.claim_updated,
            {"claim": claim_snapshot(claim), "changed": sorted(changes)},
        )
        session.commit()
    return claim


def delete_claim(*, session: Session, claim_id: str) -> None:
    claim = get_claim(session=session, claim_id=claim_id)
    emit(session, EventType.claim_deleted, {"claim": claim_snapshot(claim)})
    session.delete(claim)  # stances and tags go with it (ON DELETE CASCADE)
    session.commit()


def _write_tags(session: Session, claim: Claim) -> None:
    session.add_all(ClaimTag(claim_id=claim.id, tag=tag) for tag in claim.tags)  # type: ignore[arg-type]


def list_claims(
    *, session: Session, filters: ClaimFilters, sort: ClaimSort, limit: int, cursor: str | None
) -> tuple[list[ClaimPublic], str | None]:
    query = select(*_PUBLIC_COLUMNS).where(*_conditions(session, filters))
    if cursor:
        value, claim_id = decode_cursor(cursor, sort.value, datetime)
        query = query.where(
            keyset_after(sort.column, col(Claim.id), value, claim_id, descending=sort.descending)
        )
    order = (
        (sort.column.desc(), col(Claim.id).desc())
        if sort.descending
        else (sort.column.asc(), col(Claim.id).asc())
    )
    rows = session.connection().execute(query.order_by(*order).limit(limit + 1)).mappings().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(sort.value, last[sort.field_name], last["id"])
    return _CLAIM_LIST.validate_python(rows), next_cursor


# Plain rows validated in one call of pydantic's core: no ORM identity map or per-row
# model_validate (2.2 ms -> 0.7 ms CPU for a page of 20, bench/RESULTS.md).
_PUBLIC_COLUMNS = [Claim.__table__.c[name] for name in ClaimPublic.model_fields]  # type: ignore[attr-defined]
_CLAIM_LIST = TypeAdapter(list[ClaimPublic])


def _conditions(session: Session, filters: ClaimFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        conditions.append(col(Claim.status).in_([s.value for s in filters.status]))
    if (stance := _current_stance_condition(filters)) is not None:
        conditions.append(stance)
    if filters.q is not None:
        conditions.append(_full_text(session, filters.q))
    if filters.tag:
        conditions.append(
            col(Claim.id).in_(select(ClaimTag.claim_id).where(col(ClaimTag.tag).in_(filters.tag)))
        )
    if filters.place:
        conditions.append(col(Claim.place).in_(filters.place))
    if filters.language:
        conditions.append(col(Claim.language).in_(filters.language))
    if filters.occurred_from is not None:
        conditions.append(col(Claim.occurred_at) >= filters.occurred_from)
    if filters.occurred_to is not None:
        conditions.append(col(Claim.occurred_at) <= filters.occurred_to)
    if filters.updated_since is not None:
        conditions.append(col(Claim.updated_at) >= filters.updated_since)
    if filters.verdict:
        conditions.append(verdict_condition(filters.verdict))
    return conditions


def _current_stance_condition(filters: ClaimFilters) -> ColumnElement[bool] | None:
    """One current stance must match every stance-side filter given, together."""
    if not (filters.stance or filters.source_id or filters.source_kind or filters.affiliation):
        return None
    matching = select(Stance.id).where(Stance.claim_id == Claim.id, col(Stance.is_current))
    if filters.stance:
        matching = matching.where(col(Stance.stance).in_([s.value for s in filters.stance]))
    if filters.source_id:
        ids = [int(v) for v in filters.source_id if v.isascii() and v.isdigit() and len(v) <= 18]
        matching = matching.where(col(Stance.source_id).in_(ids))
    if filters.source_kind or filters.affiliation:
        matching = matching.join(Source, col(Source.id) == Stance.source_id)
        if filters.source_kind:
            matching = matching.where(col(Source.kind).in_([k.value for k in filters.source_kind]))
        if filters.affiliation:
            keys = [affiliation_key(a) for a in filters.affiliation]
            matching = matching.where(col(Source.affiliation_key).in_(keys))
    return exists(matching)


def _words(q: str) -> list[str]:
    """The words of q as both engines' tokenizers cut text: letters and digits, with their
    combining marks (Arabic harakat, a shadda) kept inside the word; anything else,
    `_` included, separates words."""
    words, word = [], ""
    for ch in q:
        if ch.isalnum() or (word and unicodedata.category(ch).startswith("M")):
            word += ch
        elif word:
            words.append(word)
            word = ""
    return [*words, word] if word else words


def _full_text(session: Session, q: str) -> ColumnElement[bool]:
    """Every word of q, through the database's own full-text engine."""
    words = _words(q)
    if not words:
        return literal_column("1") == 0
    if session.get_bind().dialect.name == "postgresql":
        return literal_column("claim.search_vector").op("@@")(
            func.plainto_tsquery(text("'simple'::regconfig"), " ".join(words))
        )
    # Each word quoted, so FTS5 reads it as a term, never as query syntax.
    match = " ".join('"' + word.replace('"', '""') + '"' for word in words)
    matching = (
        text("SELECT rowid FROM claim_fts WHERE claim_fts MATCH :match")
        .bindparams(match=match)
        .columns(column("rowid", Integer))
    )
    if _many_matches(session, match):
        # Walk the list's own index and probe the match set: the unary + stops SQLite from
        # fetching every match by rowid and sorting them all (1,440 for one place name at
        # 100k claims, growing with the archive; bench/NOTES.md).
        return literal_column("+claim.id").in_(matching)
    return col(Claim.id).in_(matching)


def _many_matches(session: Session, match: str) -> bool:
    """More matches than the ~21 * claims / matches index rows a walk would read to fill a
    page (a page of 20 plus one), counting a sorted fetch 4x dearer than an index step."""
    conn = session.connection()
    matches = conn.execute(
        text("SELECT count(*) FROM claim_fts WHERE claim_fts MATCH :match"), {"match": match}
    ).scalar_one()
    claims = conn.execute(text("SELECT max(id) FROM claim")).scalar_one() or 0
    return bool(4 * matches * matches > 21 * claims)
