"""The reports of a bulk import: matched by url as POST /reports compares them, or created;
and what a stance citing one takes from it (reported_via, quote_found)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from app.reports.models import Report, url_key
from app.reports.quotes import found_in, normalise
from app.sync.bulk.records import ReportRecord, StanceRecord

_REPORT: Any = Report.__table__  # type: ignore[attr-defined]


@dataclass
class ImportedReports:
    """The file's report ids -> database ids, and each report's url and normalised text,
    kept across batches (reports are few next to stances, and a stance of a later batch
    may cite a report of an earlier one)."""

    ids: dict[str, int] = field(default_factory=dict)
    created: int = 0
    matched: int = 0
    _cited: dict[int, tuple[str, str | None]] = field(default_factory=dict)

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
                select(_REPORT.c.id, _REPORT.c.url, _REPORT.c.text_key).where(
                    _REPORT.c.url_key == key
                )
            ).first()
            if found is not None:
                self.ids[record.id] = found.id
                self._cited[found.id] = (found.url, found.text_key)
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
            self._cited[pk] = (record.url, text_key)
            self.created += 1

    def citation(self, record: StanceRecord) -> tuple[str | None, int | None, bool | None]:
        """(reported_via, report_id, quote_found) of a stance, as the API makes them."""
        if record.report_id is None:
            return record.reported_via, None, None
        pk = self.ids[record.report_id]
        url, text_key = self._cited[pk]
        return record.reported_via or url, pk, found_in(record.quote, text_key)
