"""Bulk import of claims-api NDJSON (docs/bulk.md): sources, reports, claims, stances and
verdicts, a batch per transaction, in set-based statements.

The one-by-one API locks a claim and re-derives its status per stance; a bulk load of
100,000 stances cannot afford that. Here each batch is validated whole, then written with
a handful of multi-row statements: ids are reserved up front (so the file's order is the
id order, which breaks ties of `stated_at` exactly as the API does), each claim's current
stances and status are computed once in Python by the same pure function
(app/stances/rules.py), and every row is inserted already final. `claims-api check` finds
nothing to repair afterwards.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from sqlalchemy import Connection, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.claims.models import Claim
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, ValidationFailed
from app.core.fields import (
    MAX_TAGS,
    ClaimText,
    CountryCode,
    HttpUrlStr,
    LanguageTag,
    LongText,
    Name,
    ShortText,
    Tag,
)
from app.reports.models import Report, ReportText, Title, url_key
from app.reports.quotes import found_in, normalise
from app.sources.models import Source, SourceKind, name_key
from app.stances.models import Stance
from app.stances.rules import (
    ClaimStatus,
    CurrentStance,
    StanceKind,
    affiliation_key,
    derive_status,
    supersedes,
)
from app.sync.bulk.indexes import archive_is_empty, rebuild, set_aside
from app.verdicts.models import Verdict
from app.verdicts.rating import Rating

FORMAT = "claims-api-ndjson"
VERSION = 1
MEDIA_TYPE = "application/x-ndjson"
DEFAULT_BATCH_SIZE = 5000
TIME_MEMO = 100_000
_NO_OFFSET = timedelta(0)
IN_CHUNK = 1000  # ids per IN (...) list: well under SQLite's bound-variable limit

# Labels local to the file, never stored: no need for the storable-text checks.
FileRef = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class HeaderRecord(BaseModel):
    """The optional first line. Extra fields (exported_at, changes_cursor) are informative."""

    model_config = ConfigDict(extra="allow")

    type: Literal["header"]
    format: Literal["claims-api-ndjson"]
    version: Literal[1]


class _Line(BaseModel):
    """Plain pydantic, not SQLModel: validation is the hot loop of an import."""

    model_config = ConfigDict(extra="forbid")


class SourceRecord(_Line):
    type: Literal["source"]
    id: FileRef
    name: Name
    kind: SourceKind
    affiliation: ShortText | None = None
    country: CountryCode | None = None
    url: HttpUrlStr | None = None
    description: LongText | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class ReportRecord(_Line):
    type: Literal["report"]
    id: FileRef
    url: HttpUrlStr
    title: Title | None = None
    publisher_id: FileRef | None = None
    published_at: AwareDatetime | None = None
    language: LanguageTag = "en"
    text: ReportText | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    # Written by export, kept by the database on import.
    stance_count: int | None = None


class ClaimRecord(_Line):
    type: Literal["claim"]
    id: FileRef
    text: ClaimText
    language: LanguageTag = "en"
    place: ShortText | None = None
    occurred_at: AwareDatetime | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    # Written by export, recomputed on import.
    status: ClaimStatus | None = None
    asserting_sources: int | None = None
    denying_sources: int | None = None

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))


class StanceRecord(_Line):
    type: Literal["stance"]
    id: FileRef
    claim_id: FileRef
    source_id: FileRef
    stance: StanceKind
    stated_at: AwareDatetime | None = None
    url: HttpUrlStr | None = None
    quote: LongText | None = None
    reported_via: HttpUrlStr | None = None
    note: LongText | None = None
    report_id: FileRef | None = None
    created_at: AwareDatetime | None = None
    # Written by export, recomputed on import.
    current: bool | None = None
    quote_found: bool | None = None


class VerdictRecord(_Line):
    """A claim's verdict. No id of its own: a claim has one verdict, and a later verdict
    line for the same claim replaces the earlier one, as PUT does."""

    type: Literal["verdict"]
    claim_id: FileRef
    source_id: FileRef
    rating: Rating
    textual_rating: ShortText | None = None
    explanation: LongText | None = None
    reviewed_at: AwareDatetime | None = None
    url: HttpUrlStr | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


Record = HeaderRecord | SourceRecord | ReportRecord | ClaimRecord | StanceRecord | VerdictRecord
DataRecord = SourceRecord | ReportRecord | ClaimRecord | StanceRecord | VerdictRecord
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
    reports_created: int = 0
    reports_matched: int = 0
    claims_created: int = 0
    stances_created: int = 0
    verdicts_written: int = 0


@dataclass(slots=True)
class _Held:
    """The current stance of one source on one claim, while a batch is worked out."""

    id: int
    stated_at: datetime
    kind: StanceKind
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
    report_ids: dict[str, int] = field(default_factory=dict)
    # Each imported report's url and normalised text: what its stances take from it.
    _reports: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    _source_labels: set[str] = field(default_factory=set)
    _report_labels: set[str] = field(default_factory=set)
    _claim_labels: set[str] = field(default_factory=set)
    _stance_labels: set[str] = field(default_factory=set)
    # Name and affiliation of the sources read (and, on PostgreSQL, locked FOR SHARE) in
    # the current transaction: they cannot change before it ends, so a later batch of the
    # same transaction need not read or lock them again. Emptied when a transaction ends.
    _source_info: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def transaction_ended(self) -> None:
        self._source_info.clear()

    # --- reading ---------------------------------------------------------------

    def parse(self, number: int, line: bytes | str) -> DataRecord | None:
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

    def _check_labels(self, number: int, record: DataRecord) -> None:
        if isinstance(record, VerdictRecord):
            self._check_references(number, record)
            return
        if isinstance(record, StanceRecord):
            labels = self._stance_labels
        elif isinstance(record, ReportRecord):
            labels = self._report_labels
            self._check_publisher(number, record)
        elif isinstance(record, ClaimRecord):
            labels = self._claim_labels
        else:
            labels = self._source_labels
        if record.id in labels:
            raise LineError.one(
                number,
                f"{record.type} id '{record.id}' appears twice in the file",
                "duplicate_id",
                "id",
            )
        if isinstance(record, StanceRecord):
            self._check_references(number, record)
        labels.add(record.id)

    def _check_publisher(self, number: int, record: ReportRecord) -> None:
        if record.publisher_id is not None and record.publisher_id not in self._source_labels:
            raise LineError.one(
                number,
                f"no earlier source line has id '{record.publisher_id}'",
                "unknown_source",
                "publisher_id",
            )

    def _check_references(self, number: int, record: StanceRecord | VerdictRecord) -> None:
        report_id = getattr(record, "report_id", None)
        if report_id is not None and report_id not in self._report_labels:
            raise LineError.one(
                number,
                f"no earlier report line has id '{report_id}'",
                "unknown_report",
                "report_id",
            )
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

    # --- writing ---------------------------------------------------------------

    def write_batch(self, *, session: Session, records: list[DataRecord]) -> None:
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
        try:
            self._write_reports(conn, [r for r in records if isinstance(r, ReportRecord)], now)
        except IntegrityError:
            raise Conflict(
                "A report of this batch was created by another writer at the same time; "
                "retry the import (reports are matched by url)."
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
                row.id, row.stated_at, StanceKind(row.stance), row.source_id, None
            )
        superseded: list[int] = []
        is_current = [False] * len(stances)
        stated: list[datetime] = []
        for index, (record, pk) in enumerate(zip(stances, stance_pks, strict=True)):
            stated_at = record.stated_at or record.created_at or now
            stated.append(stated_at)
            key = (self.claim_ids[record.claim_id], self.source_ids[record.source_id])
            previous = held.get(key)
            held_order = None if previous is None else (previous.stated_at, previous.id)
            if supersedes((stated_at, pk), held_order):
                if previous is not None:
                    if previous.new_index is None:
                        superseded.append(previous.id)
                    else:
                        is_current[previous.new_index] = False
                held[key] = _Held(pk, stated_at, record.stance, key[1], index)
                is_current[index] = True

        derived = self._derive(conn, held, set(claim_pks.values()) | known_claims)

        if superseded:
            # Clear before insert: the partial unique index allows one current per source.
            for chunk in _chunks(superseded):
                conn.execute(
                    update(Stance).where(col(Stance.id).in_(chunk)).values(is_current=False)
                )
        rows = _DriverRows(conn)
        if claims:
            claim_rows = [
                _claim_row(rows, r, claim_pks[r.id], derived[claim_pks[r.id]], now) for r in claims
            ]
            if rows.sqlite:
                _insert_claims_sqlite(rows, claim_rows)
            else:
                rows.insert("claim", CLAIM_COLUMNS, claim_rows)
            tags = [(claim_pks[r.id], tag) for r in claims for tag in r.tags]
            if tags:
                rows.insert("claim_tag", ("claim_id", "tag"), tags)
        if stances:
            rows.insert(
                "stance",
                STANCE_COLUMNS,
                [
                    (
                        pk,
                        self.claim_ids[r.claim_id],
                        self.source_ids[r.source_id],
                        r.stance.value,
                        rows.time(stated_at),
                        r.url,
                        r.quote,
                        *self._citation(r),
                        r.note,
                        current,
                        rows.time(r.created_at or now),
                    )
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
        self._write_verdicts(rows, [r for r in records if isinstance(r, VerdictRecord)], now)

    def _citation(self, record: StanceRecord) -> tuple[str | None, int | None, bool | None]:
        """(reported_via, report_id, quote_found) of a stance, as the API would make them."""
        if record.report_id is None:
            return record.reported_via, None, None
        pk = self.report_ids[record.report_id]
        url, text_key = self._reports[pk]
        return record.reported_via or url, pk, found_in(record.quote, text_key)

    def _write_reports(self, conn: Connection, reports: list[ReportRecord], now: datetime) -> None:
        """Reports one statement each (they are few next to stances); a report whose url
        is already stored is that report, as a source's name is that source."""
        table = Report.__table__  # type: ignore[attr-defined]
        for record in reports:
            key = url_key(record.url)
            found = conn.execute(
                select(table.c.id, table.c.url, table.c.text_key).where(table.c.url_key == key)
            ).first()
            if found is not None:
                self.report_ids[record.id] = found.id
                self._reports[found.id] = (found.url, found.text_key)
                self.counts.reports_matched += 1
                continue
            text_key = None if record.text is None else normalise(record.text)
            values = record.model_dump(
                exclude={"type", "id", "publisher_id", "stance_count", "created_at", "updated_at"}
            )
            pk = conn.execute(
                insert(table).values(
                    **values,
                    url_key=key,
                    text_key=text_key,
                    publisher_id=None
                    if record.publisher_id is None
                    else self.source_ids[record.publisher_id],
                    stance_count=0,
                    created_at=record.created_at or now,
                    updated_at=record.updated_at or now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            self.report_ids[record.id] = pk
            self._reports[pk] = (record.url, text_key)
            self.counts.reports_created += 1

    def _write_verdicts(
        self, rows: "_DriverRows", verdicts: list[VerdictRecord], now: datetime
    ) -> None:
        """Verdicts replace the claim's verdict, if any, as PUT does, but leave the claim
        alone: a verdict changes neither its status nor its counts, and the file's claim
        line carries its own `updated_at`. No webhook event, as for the rest of a bulk."""
        if not verdicts:
            return
        # The last line for a claim wins.
        latest = {self.claim_ids[r.claim_id]: r for r in verdicts}
        for chunk in _chunks(sorted(latest)):
            rows.conn.execute(delete(Verdict).where(col(Verdict.claim_id).in_(chunk)))
        try:
            rows.insert(
                "verdict",
                VERDICT_COLUMNS,
                [
                    (
                        claim_pk,
                        r.rating.value,
                        r.textual_rating,
                        r.explanation,
                        self.source_ids[r.source_id],
                        rows.time(r.reviewed_at or r.created_at or now),
                        r.url,
                        rows.time(r.created_at or now),
                        rows.time(r.updated_at or now),
                    )
                    for claim_pk, r in latest.items()
                ],
            )
        except IntegrityError:
            raise Conflict(
                "A verdict of this batch was written by another writer at the same time; "
                "retry the import."
            ) from None
        self.counts.verdicts_written += len(latest)

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
            rows = _DriverRows(conn)
            rows.insert(
                "source",
                SOURCE_COLUMNS,
                [_source_row(rows, r, pk, now) for r, pk in zip(new, pks, strict=True)],
            )

    def _derive(
        self, conn: Connection, held: dict[tuple[int, int], _Held], claim_pks: set[int]
    ) -> dict[int, tuple[str, int, int]]:
        """Each touched claim's (status, asserting, denying) over its current stances."""
        info = self._source_info
        source_pks = sorted({h.source_id for h in held.values()} - info.keys())
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
            per_claim[claim_pk].append(CurrentStance(h.kind, source_pk, name, affiliation))
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
        elif loc and loc[0] in ("header", "source", "report", "claim", "stance", "verdict"):
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


SOURCE_COLUMNS = (
    "id",
    "name",
    "name_key",
    "kind",
    "affiliation",
    "affiliation_key",
    "country",
    "url",
    "description",
    "created_at",
    "updated_at",
)
CLAIM_COLUMNS = (
    "id",
    "text",
    "language",
    "place",
    "occurred_at",
    "tags",
    "status",
    "asserting_sources",
    "denying_sources",
    "created_at",
    "updated_at",
)
STANCE_COLUMNS = (
    "id",
    "claim_id",
    "source_id",
    "stance",
    "stated_at",
    "url",
    "quote",
    "reported_via",
    "report_id",
    "quote_found",
    "note",
    "is_current",
    "created_at",
)
VERDICT_COLUMNS = (
    "claim_id",
    "rating",
    "textual_rating",
    "explanation",
    "source_id",
    "reviewed_at",
    "url",
    "created_at",
    "updated_at",
)


class _DriverRows:
    """Multi-row INSERTs straight through the driver. SQLAlchemy's per-value bind
    processing was the largest cost of a bulk load; these values are validated already
    and only need the two conversions UTCDateTime and JSON would make."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        # Many rows share a timestamp (the import's `now`, a report's hour): convert once.
        self._texts: dict[datetime, str] = {}

    def time(self, value: datetime | None) -> datetime | str | None:
        """As UTCDateTime stores it: naive UTC text on SQLite, timestamptz on PostgreSQL."""
        if value is None or not self.sqlite:
            return value
        text = self._texts.get(value)
        if text is None:
            if value.utcoffset() == _NO_OFFSET:
                # Already UTC (nearly every input says Z): the same text without the two
                # conversions, "YYYY-MM-DD HH:MM:SS.ffffff" before the "+00:00".
                text = value.isoformat(" ", "microseconds")[:26]
            else:
                text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            if len(self._texts) < TIME_MEMO:
                self._texts[value] = text
        return text

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" for _ in columns)
            self.conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        # PostgreSQL: COPY, in the same transaction, fires the same triggers and checks the
        # same constraints as INSERT, at a fraction of the per-row cost.
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


# The per-row triggers that keep claim_fts (migration 0001) and sync_change (0005) cost
# several times the insert itself on SQLite. For a batch of claims they are set aside inside
# the batch's transaction (SQLite DDL is transactional: nobody sees them missing), their work
# is done by two set-based statements, and they are put back verbatim from sqlite_master.
SQLITE_CLAIM_INSERT_TRIGGERS = ("claim_fts_insert", "sync_change_claim_insert")
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


def _insert_claims_sqlite(rows: _DriverRows, claim_rows: list[tuple[Any, ...]]) -> None:
    conn = rows.conn
    names = ", ".join(f"'{name}'" for name in SQLITE_CLAIM_INSERT_TRIGGERS)
    triggers = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({names})"
    ).all()
    if len(triggers) != len(SQLITE_CLAIM_INSERT_TRIGGERS):
        rows.insert("claim", CLAIM_COLUMNS, claim_rows)  # a schema we do not know: row by row
        return
    for name, _sql in triggers:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    rows.insert("claim", CLAIM_COLUMNS, claim_rows)
    first, last = claim_rows[0][0], claim_rows[-1][0]  # reserved ids: contiguous, ascending
    conn.exec_driver_sql(
        "INSERT INTO claim_fts (rowid, text) SELECT id, text FROM claim WHERE id BETWEEN ? AND ?",
        (first, last),
    )
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO sync_change "
        "(resource_type, resource_id, txid, seq, changed_at, deleted_at) "
        "SELECT 'claim', id, 0, "
        "COALESCE((SELECT seq FROM sync_change WHERE txid = 0 ORDER BY seq DESC LIMIT 1), 0) "
        f"+ ROW_NUMBER() OVER (ORDER BY id), {SQLITE_NOW}, NULL "
        "FROM claim WHERE id BETWEEN ? AND ?",
        (first, last),
    )
    for _name, sql in triggers:
        conn.exec_driver_sql(sql)


def _source_row(rows: _DriverRows, r: SourceRecord, pk: int, now: datetime) -> tuple[Any, ...]:
    return (
        pk,
        r.name,
        name_key(r.name),
        r.kind.value,
        r.affiliation,
        affiliation_key(r.affiliation),
        r.country,
        r.url,
        r.description,
        rows.time(r.created_at or now),
        rows.time(r.updated_at or now),
    )


def _claim_row(
    rows: _DriverRows, r: ClaimRecord, pk: int, derived: tuple[str, int, int], now: datetime
) -> tuple[Any, ...]:
    status, asserting, denying = derived
    return (
        pk,
        r.text,
        r.language,
        r.place,
        rows.time(r.occurred_at),
        json.dumps(r.tags),
        status,
        asserting,
        denying,
        rows.time(r.created_at or now),
        rows.time(r.updated_at or now),
    )


def _batches(
    importer: Importer, lines: Iterable[bytes | str], batch_size: int
) -> Iterator[tuple[list[DataRecord], int]]:
    """The parsed records a batch at a time, with the number of lines they came from (the
    last batch may be empty when the file ends in blank lines). A bad line raises LineError
    before its batch is yielded, so nothing of that batch is ever written."""
    batch: list[DataRecord] = []
    lines_in_batch = 0
    for number, line in enumerate(lines, start=1):
        lines_in_batch += 1
        record = importer.parse(number, line)
        if record is not None:
            batch.append(record)
        if len(batch) >= batch_size:
            yield batch, lines_in_batch
            batch, lines_in_batch = [], 0
    if batch or lines_in_batch:
        yield batch, lines_in_batch


def import_lines(
    *,
    session: Session,
    lines: Iterable[bytes | str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    importer: Importer | None = None,
    defer_indexes: bool | None = None,
) -> Iterator[ImportCounts]:
    """Import a stream of lines a batch at a time; yields the running counts after each
    batch. A bad line raises LineError: earlier batches stay committed, the one holding
    the line is not written.

    Into an empty archive (or with `defer_indexes=True`) the whole import is one
    transaction with a savepoint per batch, and the secondary indexes are built once at
    its end (app/sync/bulk/indexes.py); on a bad line or a failed batch the batches before it
    are committed all the same. Otherwise each batch is committed as it is written."""
    importer = importer or Importer()
    if defer_indexes is None:
        defer_indexes = archive_is_empty(session.connection())
        if not defer_indexes:
            session.commit()  # end the probe's transaction: batches take their own
    if defer_indexes:
        yield from _import_in_one_transaction(session, lines, batch_size, importer)
        return
    try:
        for batch, lines_in_batch in _batches(importer, lines, batch_size):
            importer.write_batch(session=session, records=batch)
            session.commit()
            importer.transaction_ended()
            importer.counts.lines += lines_in_batch
            yield importer.counts
    except LineError:
        session.rollback()
        raise
    finally:
        importer.transaction_ended()


def _import_in_one_transaction(
    session: Session, lines: Iterable[bytes | str], batch_size: int, importer: Importer
) -> Iterator[ImportCounts]:
    conn = session.connection()
    saved = set_aside(conn)
    failure: Exception | None = None
    try:
        for batch, lines_in_batch in _batches(importer, lines, batch_size):
            with session.begin_nested():  # a batch that fails half-way leaves nothing
                importer.write_batch(session=session, records=batch)
            importer.counts.lines += lines_in_batch
            yield importer.counts
    except Exception as exc:  # re-raised below, once the earlier batches are kept
        failure = exc
    # An interruption (KeyboardInterrupt, the consumer stopping) commits nothing.
    rebuild(conn, saved)
    session.commit()
    importer.transaction_ended()
    if failure is not None:
        raise failure


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
