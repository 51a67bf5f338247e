"""The bulk records inherit the create models' fields (app/sync/bulk/records.py); pydantic
orders fields by base class, so this pins the order a line's errors are listed in."""

from pydantic import BaseModel

from app.sync.bulk.records import ClaimRecord, ReportRecord, StanceRecord


def _fields(record: type[BaseModel]) -> list[str]:
    return list(record.model_fields)


def test_records_list_the_head_first_then_the_api_fields_then_the_file_only_ones() -> None:
    assert _fields(ClaimRecord) == [
        "type", "id", "text", "language", "place", "occurred_at", "tags",
        "created_at", "updated_at", "status", "asserting_sources", "denying_sources",
        "status_since",
    ]  # fmt: skip
    assert _fields(ReportRecord) == [
        "type", "id", "url", "title", "publisher_id", "published_at", "language", "text",
        "created_at", "updated_at", "stance_count",
    ]  # fmt: skip
    assert _fields(StanceRecord) == [
        "type", "id", "claim_id", "source_id", "stance", "stated_at", "url", "quote",
        "reported_via", "note", "report_id", "created_at", "current", "quote_found",
    ]  # fmt: skip
