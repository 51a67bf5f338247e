"""Bulk import of claims-api NDJSON (docs/bulk.md): sources, claims and stances, a batch
per transaction, in set-based statements.

The one-by-one API locks a claim and re-derives its status per stance; a bulk load of
100,000 stances cannot afford that. Here each batch is validated whole, then written with
a handful of multi-row statements: ids are reserved up front (so the file's order is the
id order, which breaks ties of `stated_at` exactly as the API does), each claim's current
stances and status are computed once in Python by the same pure function
(app/status.py), and every row is inserted already final. `claims-api check` finds
nothing to repair afterwards.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from sqlalchemy import Connection, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.db import utcnow
from app.errors import Conflict, FieldError, ValidationFailed
from app.fields import StorableStr
from app.models import (
    Claim,
    ClaimCreate,
    ClaimTag,
    Source,
    SourceCreate,
    Stance,
    StanceCreate,
    affiliation_key,
    name_key,
)
from app.status import ClaimStatus, CurrentStance, StanceKind, derive_status

FORMAT = "claims-api-ndjson"
VERSION = 1
MEDIA_TYPE = "application/x-ndjson"
DEFAULT_BATCH_SIZE = 5000
IN_CHUNK = 1000  # ids per IN (...) list: well under SQLite's bound-variable limit

FileRef = Annotated[StorableStr, StringConstraints(min_length=1, max_length=40)]


class HeaderRecord(BaseModel):
    """The optional first line. Extra fields (exported_at, changes_cursor) are informative."""

    model_config = ConfigDict(extra="allow")

    type: Literal["header"]
    format: Literal["claims-api-ndjson"]
    version: Literal[1]


class SourceRecord(SourceCreate):
    type: Literal["source"]
    id: FileRef
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class ClaimRecord(ClaimCreate):
    type: Literal["claim"]
    id: FileRef
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    # Written by export, recomputed on import.
    status: ClaimStatus | None = None
    asserting_sources: int | None = None
    denying_sources: int | None = None


class StanceRecord(StanceCreate):
    type: Literal["stance"]
    id: FileRef
    claim_id: FileRef
    created_at: AwareDatetime | None = None
    # Written by export, recomputed on import.
    current: bool | None = None


Record = HeaderRecord | SourceRecord | ClaimRecord | StanceRecord
_RECORD = TypeAdapter[Record](Annotated[Record, Field(discriminator="type")])


class LineError(ValidationFailed):
    """A bad line: 422, naming the line and each bad field in it."""

    def __init__(self, line: int, errors: list[FieldError]) -> None:
        prefix = f"line {line}"
        summary = "; ".join(
            f"{e.field.removeprefix(prefix).lstrip('.') or 'line'}: {e.message}" for e in errors[:5]
        )
        super().__init__(f"Line {line} is invalid: {summary}", errors=errors)
        self.line = line

    @classmethod
    def one(cls, line: int, message: str, code: str, path: str = "") -> "LineError":
        return cls(line, [_field_error(line, path, message, code)])


def _field_error(line: int, path: str, message: str, code: str) -> FieldError:
    name = f"line {line}" + (f".{path}" if path else "")
    return FieldError(location="body", field=name, message=message, code=code)


@dataclass
class ImportCounts:
    lines: int = 0
    sources_created: int = 0
    sources_matched: int = 0
    claims_created: int = 0
    stances_created: int = 0


@dataclass
class _Held:
    """The current stance of one source on one claim, while a batch is worked out."""

    id: int
    stated_at: datetime
    kind: str
    source_id: int
    new_index: int | None  # position in the batch's new stances; None if already stored


@dataclass
class Importer:
    """Reads one NDJSON stream, a line at a time, and writes it a batch at a time. The
    maps from the file's ids to database ids live across batches, so a stance may refer
    to a claim written by an earlier batch."""

    counts: ImportCounts = field(default_factory=ImportCounts)
    source_ids: dict[str, int] = field(default_factory=dict)
    claim_ids: dict[str, int] = field(default_factory=dict)
    _source_labels: set[str] = field(default_factory=set)
    _claim_labels: set[str] = field(default_factory=set)
    _stance_labels: set[str] = field(default_factory=set)

    # --- reading ---------------------------------------------------------------

    def parse(
        self, number: int, line: bytes | str
    ) -> SourceRecord | ClaimRecord | StanceRecord | None:
        """One line as a record (None for a blank line or the header); LineError if bad."""
        if not line.strip():
            return None
        try:
            record = _RECORD.validate_json(line)
        except ValidationError as exc:
            raise LineError(number, _line_errors(number, exc)) from None
        if isinstance(record, HeaderRecord):
            if number != 1:
                raise LineError.one(
                    number, "a header may only be the first line", "misplaced_header", "type"
                )
            return None
        self._check_labels(number, record)
        return record

    def _check_labels(self, number: int, record: SourceRecord | ClaimRecord | StanceRecord) -> None:
        labels = {
            SourceRecord: self._source_labels,
            ClaimRecord: self._claim_labels,
            StanceRecord: self._stance_labels,
        }[type(record)]
        if record.id in labels:
            raise LineError.one(
                number,
                f"{record.type} id '{record.id}' appears twice in the file",
                "duplicate_id",
                "id",
            )
        if isinstance(record, StanceRecord):
            if record.claim_id not in self._claim_labels:
                raise LineError.one(
                    number,
                    f"no earlier claim line has id '{record.claim_id}'",
                    "unknown_claim",
                    "claim_id",
                )
            if record.source_id not in self._source_labels:
                raise LineError.one(
                    number,
                    f"no earlier source line has id '{record.source_id}'",
                    "unknown_source",
                    "source_id",
                )
        labels.add(record.id)

    # --- writing ---------------------------------------------------------------

    def write_batch(
        self, *, session: Session, records: list[SourceRecord | ClaimRecord | StanceRecord]
    ) -> None:
        """Write one batch in the session's transaction (the caller commits)."""
        conn = session.connection()
        now = utcnow()
        sources = [r for r in records if isinstance(r, SourceRecord)]
        claims = [r for r in records if isinstance(r, ClaimRecord)]
        stances = [r for r in records if isinstance(r, StanceRecord)]
        try:
            self._write_sources(conn, sources, now)
        except IntegrityError:
            raise Conflict(
                "A source of this batch was created by another writer at the same time; "
                "retry the import (sources are matched by name)."
            ) from None

        # Earlier batches' claims that get new stances: their stored current stances count.
        known_claims = {self.claim_ids[r.claim_id] for r in stances if r.claim_id in self.claim_ids}
        claim_pks = dict(
            zip((r.id for r in claims), _reserve_ids(conn, "claim", len(claims)), strict=True)
        )
        self.claim_ids.update(claim_pks)
        stance_pks = _reserve_ids(conn, "stance", len(stances))

        held: dict[tuple[int, int], _Held] = {}
        for row in _current_stances(conn, sorted(known_claims)):
            held[(row.claim_id, row.source_id)] = _Held(
                row.id, row.stated_at, row.stance, row.source_id, None
            )
        superseded: list[int] = []
        is_current = [False] * len(stances)
        stated: list[datetime] = []
        for index, (record, pk) in enumerate(zip(stances, stance_pks, strict=True)):
            stated_at = record.stated_at or record.created_at or now
            stated.append(stated_at)
            key = (self.claim_ids[record.claim_id], self.source_ids[record.source_id])
            previous = held.get(key)
            # The latest by stated_at is current; ties go to the later-created (higher id).
            if previous is None or (stated_at, pk) > (previous.stated_at, previous.id):
                if previous is not None:
                    if previous.new_index is None:
                        superseded.append(previous.id)
                    else:
                        is_current[previous.new_index] = False
                held[key] = _Held(pk, stated_at, record.stance.value, key[1], index)
                is_current[index] = True

        derived = self._derive(conn, held, set(claim_pks.values()) | known_claims)

        if superseded:
            # Clear before insert: the partial unique index allows one current per source.
            for chunk in _chunks(superseded):
                conn.execute(
                    update(Stance).where(col(Stance.id).in_(chunk)).values(is_current=False)
                )
        if claims:
            conn.execute(
                insert(Claim),
                [_claim_row(r, claim_pks[r.id], derived.get(claim_pks[r.id]), now) for r in claims],
            )
            tags = [{"claim_id": claim_pks[r.id], "tag": tag} for r in claims for tag in r.tags]
            if tags:
                conn.execute(insert(ClaimTag), tags)
        if stances:
            conn.execute(
                insert(Stance),
                [
                    {
                        "id": pk,
                        "claim_id": self.claim_ids[r.claim_id],
                        "source_id": self.source_ids[r.source_id],
                        "stance": r.stance.value,
                        "stated_at": stated_at,
                        "url": r.url,
                        "quote": r.quote,
                        "reported_via": r.reported_via,
                        "note": r.note,
                        "is_current": current,
                        "created_at": r.created_at or now,
                    }
                    for r, pk, stated_at, current in zip(
                        stances, stance_pks, stated, is_current, strict=True
                    )
                ],
            )
        earlier = [
            {"b_id": pk, "b_status": d[0], "b_asserting": d[1], "b_denying": d[2]}
            for pk, d in derived.items()
            if pk in known_claims
        ]
        if earlier:
            conn.execute(
                update(Claim)
                .where(col(Claim.id) == bindparam("b_id"))
                .values(
                    status=bindparam("b_status"),
                    asserting_sources=bindparam("b_asserting"),
                    denying_sources=bindparam("b_denying"),
                ),
                earlier,
            )
        self.counts.claims_created += len(claims)
        self.counts.stances_created += len(stances)

    def _write_sources(self, conn: Connection, sources: list[SourceRecord], now: datetime) -> None:
        if not sources:
            return
        keys = list({name_key(r.name) for r in sources})
        existing: dict[str, int] = {}
        for chunk in _chunks(keys):
            query = select(col(Source.id), col(Source.name_key)).where(
                col(Source.name_key).in_(chunk)
            )
            existing.update({key: pk for pk, key in conn.execute(query)})  # type: ignore[misc]
        new: list[SourceRecord] = []
        for record in sources:
            key = name_key(record.name)
            if key not in existing:
                existing[key] = 0  # claimed by this record; its id comes below
                new.append(record)
        pks = _reserve_ids(conn, "source", len(new))
        for record, pk in zip(new, pks, strict=True):
            existing[name_key(record.name)] = pk
        for record in sources:
            self.source_ids[record.id] = existing[name_key(record.name)]
        self.counts.sources_created += len(new)
        self.counts.sources_matched += len(sources) - len(new)
        if new:
            conn.execute(
                insert(Source), [_source_row(r, pk, now) for r, pk in zip(new, pks, strict=True)]
            )

    def _derive(
        self, conn: Connection, held: dict[tuple[int, int], _Held], claim_pks: set[int]
    ) -> dict[int, tuple[str, int, int]]:
        """Each touched claim's (status, asserting, denying) over its current stances."""
        source_pks = sorted({h.source_id for h in held.values()})
        info: dict[int, tuple[str, str | None]] = {}
        postgres = conn.dialect.name == "postgresql"
        for chunk in _chunks(source_pks):
            query = select(col(Source.id), col(Source.name), col(Source.affiliation)).where(
                col(Source.id).in_(chunk)
            )
            if postgres:
                # As record_stance does: an affiliation change waits for this batch.
                query = query.order_by(col(Source.id)).with_for_update(read=True)
            rows = conn.execute(query)
            info.update({pk: (name, aff) for pk, name, aff in rows})  # type: ignore[misc]
        per_claim: dict[int, list[CurrentStance]] = {pk: [] for pk in claim_pks}
        for (claim_pk, source_pk), h in held.items():
            name, affiliation = info[source_pk]
            per_claim[claim_pk].append(
                CurrentStance(StanceKind(h.kind), source_pk, name, affiliation)
            )
        result = {}
        for claim_pk, current in per_claim.items():
            d = derive_status(current)
            result[claim_pk] = (d.status.value, d.asserting_sources, d.denying_sources)
        return result


def _line_errors(number: int, exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        if error["type"] in ("json_invalid", "json_type"):
            loc = []
        elif loc and loc[0] in ("header", "source", "claim", "stance"):
            loc = loc[1:]  # the discriminator's tag, not a field of the line
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append(_field_error(number, ".".join(loc), message, str(error["type"])))
    return errors


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def _reserve_ids(conn: Connection, table: str, count: int) -> list[int]:
    """`count` new ids for `table`, ascending, never issued before and never reissued."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table, "n": count},
        )
        return sorted(pk for (pk,) in rows)
    # SQLite, inside BEGIN IMMEDIATE: nobody else writes. AUTOINCREMENT remembers the
    # highest id ever used in sqlite_sequence, and inserting explicit ids moves it on.
    last = conn.execute(
        text(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = :table), 0), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0))"
        ),
        {"table": table},
    ).scalar_one()
    return list(range(last + 1, last + 1 + count))


def _current_stances(conn: Connection, claim_pks: list[int]) -> Iterator[Any]:
    postgres = conn.dialect.name == "postgresql"
    for chunk in _chunks(claim_pks):
        if postgres:
            # Writers of one claim take turns, as in record_stance.
            conn.execute(
                select(col(Claim.id))
                .where(col(Claim.id).in_(chunk))
                .order_by(col(Claim.id))
                .with_for_update()
            ).all()
        yield from conn.execute(
            select(  # type: ignore[call-overload]
                Stance.id, Stance.claim_id, Stance.source_id, Stance.stance, Stance.stated_at
            ).where(col(Stance.claim_id).in_(chunk), col(Stance.is_current))
        )


def _source_row(r: SourceRecord, pk: int, now: datetime) -> dict[str, Any]:
    return {
        "id": pk,
        "name": r.name,
        "name_key": name_key(r.name),
        "kind": r.kind.value,
        "affiliation": r.affiliation,
        "affiliation_key": affiliation_key(r.affiliation),
        "country": r.country,
        "url": r.url,
        "description": r.description,
        "created_at": r.created_at or now,
        "updated_at": r.updated_at or now,
    }


def _claim_row(
    r: ClaimRecord, pk: int, derived: tuple[str, int, int] | None, now: datetime
) -> dict[str, Any]:
    status, asserting, denying = derived or (ClaimStatus.unsourced.value, 0, 0)
    return {
        "id": pk,
        "text": r.text,
        "language": r.language,
        "place": r.place,
        "occurred_at": r.occurred_at,
        "tags": r.tags,
        "status": status,
        "asserting_sources": asserting,
        "denying_sources": denying,
        "created_at": r.created_at or now,
        "updated_at": r.updated_at or now,
    }


def import_lines(
    *,
    session: Session,
    lines: Iterable[bytes | str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    importer: Importer | None = None,
) -> Iterator[ImportCounts]:
    """Import a stream of lines, committing every `batch_size` records; yields the running
    counts after each commit. A bad line raises LineError: earlier batches stay committed,
    the one holding the line is rolled back."""
    importer = importer or Importer()
    batch: list[SourceRecord | ClaimRecord | StanceRecord] = []
    lines_in_batch = 0
    for number, line in enumerate(lines, start=1):
        lines_in_batch += 1
        try:
            record = importer.parse(number, line)
        except LineError:
            session.rollback()
            raise
        if record is not None:
            batch.append(record)
        if len(batch) >= batch_size:
            importer.write_batch(session=session, records=batch)
            session.commit()
            importer.counts.lines += lines_in_batch
            batch, lines_in_batch = [], 0
            yield importer.counts
    if batch or lines_in_batch:
        importer.write_batch(session=session, records=batch)
        session.commit()
        importer.counts.lines += lines_in_batch
        yield importer.counts


def import_body(*, session: Session, body: bytes) -> Importer:
    """POST /bulk: the whole body is one batch and one transaction."""
    importer = Importer()
    records = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        record = importer.parse(number, line)
        if record is not None:
            records.append(record)
    importer.write_batch(session=session, records=records)
    session.commit()
    importer.counts.lines = body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
    return importer
