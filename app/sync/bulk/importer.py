"""Bulk import of claims-api NDJSON (docs/bulk.md): sources, reports, claims, stances and
verdicts, a batch per transaction, in set-based statements.

The one-by-one API locks a claim and re-derives its status per stance; a bulk load of
100,000 stances cannot afford that. Here each batch is validated whole, then written with
a handful of multi-row statements: ids are reserved up front (so the file's order is the
id order, which breaks ties of `stated_at` exactly as the API does), each claim's current
stances and status are computed once in Python by the same pure functions
(app/stances/rules.py), and every row is inserted already final. `claims-api check` finds
nothing to repair afterwards.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.claims.models import Claim
from app.core.db import utcnow
from app.core.errors import Conflict
from app.search.column import StanceText, search_text, stance_texts
from app.search.stored import cited_reports
from app.sources.models import Source, name_key
from app.stances.models import Stance
from app.stances.periods import present_state, sync_many
from app.stances.rules import StanceKind, supersedes
from app.stances.timeline import HistoryStance, Period, replay
from app.sync.bulk.indexes import archive_is_empty, rebuild, set_aside
from app.sync.bulk.records import (
    MEDIA_TYPE,
    RECORD,
    ClaimRecord,
    DataRecord,
    HeaderRecord,
    LineError,
    ReportRecord,
    SourceRecord,
    StanceRecord,
    VerdictRecord,
    line_errors,
)
from app.sync.bulk.reports import ImportedReports
from app.sync.bulk.rows import (
    CLAIM_COLUMNS,
    PERIOD_COLUMNS,
    SOURCE_COLUMNS,
    STANCE_COLUMNS,
    VERDICT_COLUMNS,
    DriverRows,
    chunks,
    claim_row,
    current_stances,
    insert_claims_sqlite,
    period_row,
    reserve_ids,
    source_row,
)
from app.verdicts.models import Verdict

__all__ = ["MEDIA_TYPE", "ImportCounts", "Importer", "LineError", "import_body", "import_lines"]

DEFAULT_BATCH_SIZE = 5000


def _require_earlier(
    number: int, labels: set[str], label: str | None, kind: str, field_name: str
) -> None:
    """A line's reference to a `kind` line (None refers to none): it must have come
    earlier in the file, or the line is 422 `unknown_<kind>` naming the field."""
    if label is not None and label not in labels:
        raise LineError.one(
            number, f"no earlier {kind} line has id '{label}'", f"unknown_{kind}", field_name
        )


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
    reports: ImportedReports = field(default_factory=ImportedReports)
    # Each claim's language, for the search terms of quotes in a later batch's stances.
    claim_languages: dict[str, str] = field(default_factory=dict)
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
            record = RECORD.validate_json(line)
        except ValidationError as exc:
            raise LineError(number, line_errors(number, exc)) from None
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
        _require_earlier(number, self._source_labels, record.publisher_id, "source", "publisher_id")

    def _check_references(self, number: int, record: StanceRecord | VerdictRecord) -> None:
        if isinstance(record, StanceRecord):
            _require_earlier(number, self._report_labels, record.report_id, "report", "report_id")
        _require_earlier(number, self._claim_labels, record.claim_id, "claim", "claim_id")
        _require_earlier(number, self._source_labels, record.source_id, "source", "source_id")

    # --- writing ---------------------------------------------------------------

    def write_batch(self, *, session: Session, records: list[DataRecord]) -> None:
        """Write one batch in the session's transaction (the caller commits)."""
        conn = session.connection()
        now = utcnow()
        batch = _Batch.of(records)
        self._write_sources(conn, batch.sources, now)
        self._write_reports(conn, batch.reports, now)
        self.reports.lock_cited(conn, batch.stances)
        # Earlier batches' claims that get new stances: their stored current stances count.
        known_claims = {
            self.claim_ids[r.claim_id] for r in batch.stances if r.claim_id in self.claim_ids
        }
        claim_pks = self._reserve_claims(conn, batch.claims)
        stance_pks = reserve_ids(conn, "stance", len(batch.stances))
        plan = self._supersede(conn, batch.stances, stance_pks, known_claims, now)
        self._load_sources(conn, plan.held)
        # This batch's claims have all their stances in this batch: their periods are the
        # replay of those (app/stances/timeline.py), with no read of the database, and
        # their status and counts those of the last period.
        periods = self._new_periods(batch.stances, stance_pks, plan, set(claim_pks.values()), now)
        derived = {pk: _stored_state(periods.get(pk, [])) for pk in claim_pks.values()}
        rows = DriverRows(conn)
        _retire(conn, plan.superseded)
        quotes = self._search_texts(conn, batch.stances, claim_pks)
        _insert_claims(rows, batch.claims, claim_pks, derived, periods, now, quotes)
        self._insert_stances(rows, batch.stances, stance_pks, plan, now)
        self._append_search_terms(conn, {k: q for k, q in quotes.items() if k not in claim_pks})
        _insert_periods(rows, periods, _claim_times(batch.claims, claim_pks, now))
        # Earlier batches' claims: their periods brought up to date, and their status and
        # counts taken from them, as the replay of their whole stored history.
        known = sync_many(conn, known_claims)
        _update_claims(conn, {pk: (s.value, a, d) for pk, (s, a, d) in known.items()})
        self.counts.claims_created += len(batch.claims)
        self.counts.stances_created += len(batch.stances)
        self._write_verdicts(rows, batch.verdicts, now)

    def _write_reports(self, conn: Connection, reports: list[ReportRecord], now: datetime) -> None:
        if not reports:
            return
        try:
            self.reports.write(conn, reports, self.source_ids, now)
        except IntegrityError:
            raise Conflict(
                "A report of this batch was created by another writer at the same time; "
                "retry the import (reports are matched by url)."
            ) from None
        self.counts.reports_created = self.reports.created
        self.counts.reports_matched = self.reports.matched

    def _reserve_claims(self, conn: Connection, claims: list[ClaimRecord]) -> dict[str, int]:
        """Ids for the batch's claims, in file order, remembered for later batches."""
        claim_pks = dict(
            zip((r.id for r in claims), reserve_ids(conn, "claim", len(claims)), strict=True)
        )
        self.claim_ids.update(claim_pks)
        self.claim_languages.update((r.id, r.language) for r in claims)
        return claim_pks

    def _search_texts(
        self, conn: Connection, stances: list[StanceRecord], new_claims: dict[str, int]
    ) -> dict[str, list[str | None]]:
        """What the batch's stances add to each claim's search column (the file's claim
        ids), in file order: quotes, and the titles of the reports a claim cites for the
        first time (app/search/column.py). Read before the batch's stances are written."""
        added: dict[str, list[StanceText]] = {}
        for r in stances:
            text = self.reports.stance_text(r)
            if text.quote or text.report_id is not None:
                added.setdefault(r.claim_id, []).append(text)
        older = [
            self.claim_ids[claim_id]
            for claim_id, texts in added.items()
            if claim_id not in new_claims and any(t.report_id is not None for t in texts)
        ]
        cited = cited_reports(conn, older)  # one statement per chunk, not one per claim
        return {
            claim_id: list(stance_texts(texts, cited=cited.get(self.claim_ids[claim_id], ())))
            for claim_id, texts in added.items()
        }

    def _append_search_terms(self, conn: Connection, quotes: dict[str, list[str | None]]) -> None:
        """Claims of earlier batches that new stances quote: their quotes' terms appended
        to the search column (app/search/column.py), one executemany for the batch."""
        appended = []
        for claim_id, claim_quotes in quotes.items():
            terms = search_text(
                text="", language=self.claim_languages[claim_id], quotes=claim_quotes
            )
            if terms:
                appended.append({"b_id": self.claim_ids[claim_id], "b_terms": " " + terms})
        if appended:
            conn.execute(_APPEND_SEARCH_TERMS, appended)

    def _supersede(
        self,
        conn: Connection,
        stances: list[StanceRecord],
        stance_pks: list[int],
        known_claims: set[int],
        now: datetime,
    ) -> "_Plan":
        """Which stance of each (claim, source) ends up current, by the supersession rule,
        over the stored current stances of earlier claims and the batch's new ones."""
        plan = _Plan()
        for row in current_stances(conn, sorted(known_claims)):
            plan.held[(row.claim_id, row.source_id)] = _Held(
                row.id, row.stated_at, StanceKind(row.stance), row.source_id, None
            )
        for index, (record, pk) in enumerate(zip(stances, stance_pks, strict=True)):
            stated_at = record.stated_at or record.created_at or now
            plan.stated.append(stated_at)
            plan.is_current.append(False)
            key = (self.claim_ids[record.claim_id], self.source_ids[record.source_id])
            previous = plan.held.get(key)
            held_order = None if previous is None else (previous.stated_at, previous.id)
            if supersedes((stated_at, pk), held_order):
                if previous is not None:
                    plan.retire(previous)
                plan.held[key] = _Held(pk, stated_at, record.stance, key[1], index)
                plan.is_current[index] = True
        return plan

    def _new_periods(
        self,
        stances: list[StanceRecord],
        stance_pks: list[int],
        plan: "_Plan",
        new_claims: set[int],
        now: datetime,
    ) -> dict[int, list[Period]]:
        """The status periods of this batch's new claims (sources known after
        _load_sources)."""
        history: dict[int, list[HistoryStance]] = defaultdict(list)
        for record, pk, stated_at in zip(stances, stance_pks, plan.stated, strict=True):
            claim_pk = self.claim_ids[record.claim_id]
            if claim_pk not in new_claims:
                continue
            source_pk = self.source_ids[record.source_id]
            name, affiliation = self._source_info[source_pk]
            history[claim_pk].append(
                HistoryStance(
                    pk,
                    source_pk,
                    name,
                    affiliation,
                    record.stance.value,
                    stated_at,
                    record.created_at or now,
                )
            )
        return {pk: replay(h) for pk, h in history.items()}

    def _insert_stances(
        self,
        rows: DriverRows,
        stances: list[StanceRecord],
        stance_pks: list[int],
        plan: "_Plan",
        now: datetime,
    ) -> None:
        if not stances:
            return
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
                    *_cited_row(r, current, self.reports),
                    rows.time(r.created_at or now),
                )
                for r, pk, stated_at, current in zip(
                    stances, stance_pks, plan.stated, plan.is_current, strict=True
                )
            ],
        )

    def _write_verdicts(
        self, rows: "DriverRows", verdicts: list[VerdictRecord], now: datetime
    ) -> None:
        """Verdicts replace the claim's verdict, if any, as PUT does, but leave the claim
        alone: a verdict changes neither its status nor its counts, and the file's claim
        line carries its own `updated_at`. No webhook event, as for the rest of a bulk."""
        if not verdicts:
            return
        # The last line for a claim wins.
        latest = {self.claim_ids[r.claim_id]: r for r in verdicts}
        for chunk in chunks(sorted(latest)):
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
        """Match the batch's sources by name, create the others."""
        if not sources:
            return
        try:
            self._match_or_create_sources(conn, sources, now)
        except IntegrityError:
            raise Conflict(
                "A source of this batch was created by another writer at the same time; "
                "retry the import (sources are matched by name)."
            ) from None

    def _match_or_create_sources(
        self, conn: Connection, sources: list[SourceRecord], now: datetime
    ) -> None:
        keys = list({name_key(r.name) for r in sources})
        existing: dict[str, int] = {}
        for chunk in chunks(keys):
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
        pks = reserve_ids(conn, "source", len(new))
        for record, pk in zip(new, pks, strict=True):
            existing[name_key(record.name)] = pk
        for record in sources:
            self.source_ids[record.id] = existing[name_key(record.name)]
        self.counts.sources_created += len(new)
        self.counts.sources_matched += len(sources) - len(new)
        if new:
            rows = DriverRows(conn)
            rows.insert(
                "source",
                SOURCE_COLUMNS,
                [source_row(rows, r, pk, now) for r, pk in zip(new, pks, strict=True)],
            )

    def _load_sources(self, conn: Connection, held: dict[tuple[int, int], _Held]) -> None:
        """The names and affiliations of the sources of the touched claims' current
        stances, for the replays (share-locked on PostgreSQL)."""
        info = self._source_info
        source_pks = sorted({h.source_id for h in held.values()} - info.keys())
        postgres = conn.dialect.name == "postgresql"
        for chunk in chunks(source_pks):
            query = select(col(Source.id), col(Source.name), col(Source.affiliation)).where(
                col(Source.id).in_(chunk)
            )
            if postgres:
                # As record_stance does: an affiliation change waits for this batch.
                query = query.order_by(col(Source.id)).with_for_update(read=True)
            rows = conn.execute(query)
            info.update({pk: (name, aff) for pk, name, aff in rows})  # type: ignore[misc]


def _stored_state(periods: list[Period]) -> tuple[str, int, int]:
    status, asserting, denying = present_state(periods)
    return status.value, asserting, denying


def _cited_row(
    record: StanceRecord, current: bool, reports: ImportedReports
) -> tuple[str | None, str | None, bool, int | None, bool | None]:
    """The stance columns between quote and created_at, in the table's order."""
    reported_via, report_id, quote_found = reports.citation(record)
    return reported_via, record.note, current, report_id, quote_found


@dataclass
class _Batch:
    sources: list[SourceRecord]
    reports: list[ReportRecord]
    claims: list[ClaimRecord]
    stances: list[StanceRecord]
    verdicts: list[VerdictRecord]

    @classmethod
    def of(cls, records: list[DataRecord]) -> "_Batch":
        return cls(
            [r for r in records if isinstance(r, SourceRecord)],
            [r for r in records if isinstance(r, ReportRecord)],
            [r for r in records if isinstance(r, ClaimRecord)],
            [r for r in records if isinstance(r, StanceRecord)],
            [r for r in records if isinstance(r, VerdictRecord)],
        )


@dataclass
class _Plan:
    """The current stances once the batch is in, and what the batch changes."""

    held: dict[tuple[int, int], _Held] = field(default_factory=dict)
    superseded: list[int] = field(default_factory=list)  # stored stances no longer current
    is_current: list[bool] = field(default_factory=list)  # per new stance
    stated: list[datetime] = field(default_factory=list)  # per new stance

    def retire(self, previous: _Held) -> None:
        if previous.new_index is None:
            self.superseded.append(previous.id)
        else:
            self.is_current[previous.new_index] = False


def _retire(conn: Connection, superseded: list[int]) -> None:
    """Clear stored current flags first: the partial unique index allows one per source."""
    for chunk in chunks(superseded):
        conn.execute(update(Stance).where(col(Stance.id).in_(chunk)).values(is_current=False))


_APPEND_SEARCH_TERMS = (
    update(Claim)
    .where(col(Claim.id) == bindparam("b_id"))
    .values(search_text=col(Claim.search_text).concat(bindparam("b_terms")))
)


def _insert_claims(
    rows: DriverRows,
    claims: list[ClaimRecord],
    claim_pks: dict[str, int],
    derived: dict[int, tuple[str, int, int]],
    periods: dict[int, list[Period]],
    now: datetime,
    quotes: dict[str, list[str | None]],
) -> None:
    if not claims:
        return
    claim_rows = [
        claim_row(
            rows,
            r,
            pk,
            derived[pk],
            periods.get(pk, []),
            now,
            search_text(text=r.text, language=r.language, quotes=quotes.get(r.id, ())),
        )
        for r, pk in ((r, claim_pks[r.id]) for r in claims)
    ]
    if rows.sqlite:
        insert_claims_sqlite(rows, claim_rows)
    else:
        rows.insert("claim", CLAIM_COLUMNS, claim_rows)
    tags = [(claim_pks[r.id], tag) for r in claims for tag in r.tags]
    if tags:
        rows.insert("claim_tag", ("claim_id", "tag"), tags)


def _claim_times(
    claims: list[ClaimRecord], claim_pks: dict[str, int], now: datetime
) -> dict[int, tuple[datetime, datetime]]:
    """Each new claim's created_at and updated_at, as claim_row writes them."""
    return {claim_pks[r.id]: (r.created_at or now, r.updated_at or now) for r in claims}


def _insert_periods(
    rows: DriverRows,
    periods: dict[int, list[Period]],
    claim_times: dict[int, tuple[datetime, datetime]],
) -> None:
    period_rows = [
        period_row(rows, pk, p, claim_times[pk])
        for pk, claim_periods in periods.items()
        for p in claim_periods
    ]
    if period_rows:
        rows.insert("claim_status_period", PERIOD_COLUMNS, period_rows)


def _update_claims(conn: Connection, derived: dict[int, tuple[str, int, int]]) -> None:
    """Claims of earlier batches (or already stored) whose status the batch changes."""
    if not derived:
        return
    conn.execute(
        update(Claim)
        .where(col(Claim.id) == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            asserting_sources=bindparam("b_asserting"),
            denying_sources=bindparam("b_denying"),
        ),
        [
            {"b_id": pk, "b_status": d[0], "b_asserting": d[1], "b_denying": d[2]}
            for pk, d in derived.items()
        ],
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
