"""The reports of a bulk import: matched by url as POST /reports compares them, or created;
and what a stance citing one takes from it (reported_via, quote_found, and the title that
search finds its claim by)."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, insert, select

from app.core.models import table_of
from app.reports.models import Report, url_key
from app.reports.quotes import found_in, normalise
from app.search.column import StanceText
from app.sync.bulk.records import ReportRecord, StanceRecord

_REPORT = table_of(Report)
_CHUNK = 1000


@dataclass
class ImportedReports:
    """The file's report ids -> database ids, and each report's url and normalised text,
    kept across batches (reports are few next to stances, and a stance of a later batch
    may cite a report of an earlier one)."""

    ids: dict[str, int] = field(default_factory=dict)
    created: int = 0
    matched: int = 0
    # Each report's (url, text_key, title).
    _cited: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)

    def write(
        self,
        conn: Connection,
        records: list[ReportRecord],
        source_ids: dict[str, int],
        now: datetime,
    ) -> None:
        """One statement a report: a url already stored (or earlier in the file) is that
        report, unchanged, as a source's name is that source."""
        for record in records:
            key = url_key(record.url)
            found = conn.execute(
                select(_REPORT.c.id, _REPORT.c.url, _REPORT.c.text_key, _REPORT.c.title).where(
                    _REPORT.c.url_key == key
                )
            ).first()
            if found is not None:
                self.ids[record.id] = found.id
                self._cited[found.id] = (found.url, found.text_key, found.title)
                self.matched += 1
                continue
            text_key = None if record.text is None else normalise(record.text)
            publisher = None if record.publisher_id is None else source_ids[record.publisher_id]
            pk = conn.execute(
                insert(_REPORT).values(
                    **record.model_dump(
                        exclude={
                            "type",
                            "id",
                            "publisher_id",
                            "stance_count",
                            "created_at",
                            "updated_at",
                        }
                    ),
                    url_key=key,
                    text_key=text_key,
                    publisher_id=publisher,
                    stance_count=0,  # kept by the triggers on stance
                    created_at=record.created_at or now,
                    updated_at=record.updated_at or now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            self.ids[record.id] = pk
            self._cited[pk] = (record.url, text_key, record.title)
            self.created += 1

    def citation(self, record: StanceRecord) -> tuple[str | None, int | None, bool | None]:
        """(reported_via, report_id, quote_found) of a stance, as the API makes them."""
        if record.report_id is None:
            return record.reported_via, None, None
        pk = self.ids[record.report_id]
        url, text_key, _ = self._cited[pk]
        return record.reported_via or url, pk, found_in(record.quote, text_key)

    def stance_text(self, record: StanceRecord) -> StanceText:
        """What the stance adds to its claim's search column (app/search/column.py)."""
        if record.report_id is None:
            return StanceText(record.quote)
        pk = self.ids[record.report_id]
        return StanceText(record.quote, pk, self._cited[pk][2])

    def lock_cited(self, conn: Connection, stances: list[StanceRecord]) -> None:
        """Read again, and on PostgreSQL key-share lock, the reports the batch's stances
        cite, before any claim is locked: as record_stance does, so that a title change
        (which locks the report, then its claims) waits for the batch or the batch for it,
        and the batch writes the titles and texts stored now."""
        pks = sorted({self.ids[r.report_id] for r in stances if r.report_id is not None})
        for start in range(0, len(pks), _CHUNK):
            query = select(_REPORT.c.id, _REPORT.c.url, _REPORT.c.text_key, _REPORT.c.title)
            query = query.where(_REPORT.c.id.in_(pks[start : start + _CHUNK]))
            if conn.dialect.name == "postgresql":
                query = query.order_by(_REPORT.c.id).with_for_update(read=True, key_share=True)
            for pk, url, text_key, title in conn.execute(query):
                self._cited[pk] = (url, text_key, title)
