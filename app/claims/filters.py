"""The filters and sorts of GET /claims, as SQL conditions served by the list's indexes."""

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    column,
    exists,
    func,
    literal_column,
    text,
)
from sqlmodel import Session, col, select

from app.claims import as_of
from app.claims.models import Claim, ClaimTag
from app.core.ids import id_or_none
from app.sources.models import Source, SourceKind
from app.stances.models import Stance
from app.stances.rules import ClaimStatus, StanceKind, affiliation_key
from app.verdicts.models import Verdict
from app.verdicts.rating import Rating


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
    report_id: list[str] = field(default_factory=list)
    q: str | None = None
    tag: list[str] = field(default_factory=list)
    place: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    updated_since: datetime | None = None
    verdict: list[Rating] = field(default_factory=list)
    # Stated time at which status and stance-side filters apply (None: now).
    as_of: datetime | None = None


def conditions(session: Session, filters: ClaimFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status and filters.as_of is not None:
        conditions.append(as_of.status_at(filters.status))
    elif filters.status:
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
    if not (
        filters.stance
        or filters.source_id
        or filters.source_kind
        or filters.affiliation
        or filters.report_id
    ):
        return None
    if filters.as_of is not None:
        return as_of.stance_at(
            filters.as_of,
            stance=filters.stance,
            source_ids=_ids(filters.source_id) if filters.source_id else None,
            source_kind=[k.value for k in filters.source_kind],
            affiliation=filters.affiliation,
        )
    matching = select(Stance.id).where(Stance.claim_id == Claim.id, col(Stance.is_current))
    if filters.stance:
        matching = matching.where(col(Stance.stance).in_([s.value for s in filters.stance]))
    if filters.source_id:
        matching = matching.where(col(Stance.source_id).in_(_ids(filters.source_id)))
    if filters.report_id:
        # The unary + keeps SQLite probing each claim's few stances by claim_id rather than
        # every stance of the report per claim walked (a wire story is cited by hundreds).
        report_id = literal_column("+stance.report_id", BigInteger)
        matching = matching.where(report_id.in_(_ids(filters.report_id)))
    if filters.source_kind or filters.affiliation:
        matching = matching.join(Source, col(Source.id) == Stance.source_id).where(
            *_source_conditions(filters)
        )
    return exists(matching)


def _ids(values: list[str]) -> list[int]:
    """The values that can be ids: any other matches nothing (a filter, not a lookup)."""
    return [pk for pk in map(id_or_none, values) if pk is not None]


def _source_conditions(filters: ClaimFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.source_kind:
        conditions.append(col(Source.kind).in_([k.value for k in filters.source_kind]))
    if filters.affiliation:
        keys = [affiliation_key(a) for a in filters.affiliation]
        conditions.append(col(Source.affiliation_key).in_(keys))
    return conditions


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


def verdict_condition(ratings: list[Rating]) -> ColumnElement[bool]:
    """Claims whose verdict has one of these ratings (the `verdict` filter)."""
    return exists(
        select(Verdict.claim_id).where(
            Verdict.claim_id == Claim.id, col(Verdict.rating).in_([r.value for r in ratings])
        )
    )
