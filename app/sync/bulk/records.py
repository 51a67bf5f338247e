"""The lines of claims-api NDJSON (docs/bulk.md) as records, and the error naming a bad line."""

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from app.claims.models import ClaimFields
from app.core.errors import FieldError, ValidationFailed
from app.core.fields import UtcDatetime
from app.reports.models import ReportFields
from app.sources.models import SourceFields
from app.stances.models import StanceFields
from app.stances.rules import ClaimStatus
from app.verdicts.models import VerdictFields

FORMAT = "claims-api-ndjson"
VERSION = 1
MEDIA_TYPE = "application/x-ndjson"

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


class _Labelled(_Line):
    """The head of a line with a label of its own. A record lists it after the API fields
    it shares (`class XRecord(XFields, _Labelled)`), so that pydantic, which orders fields
    from the last base to the first, keeps the file's order: type, id, then the rest."""

    type: str
    id: FileRef


class _Stamped(_Line):
    """A row's own times, kept as the file gives them. The file's datetimes are any aware
    datetime pydantic reads (the API takes RFC 3339 only)."""

    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class SourceRecord(_Stamped, SourceFields, _Labelled):
    type: Literal["source"]


class ClaimRecord(_Stamped, ClaimFields, _Labelled):
    type: Literal["claim"]
    occurred_at: UtcDatetime | None = None
    # Written by export, recomputed on import.
    status: ClaimStatus | None = None
    asserting_sources: int | None = None
    denying_sources: int | None = None
    status_since: UtcDatetime | None = None


class ReportRecord(_Stamped, ReportFields, _Labelled):
    type: Literal["report"]
    # A label of the file (an earlier source line's id), and the file's kind of datetime.
    publisher_id: FileRef | None = None
    published_at: UtcDatetime | None = None
    # Written by export, kept by the database on import.
    stance_count: int | None = None


class _OfClaim(_Labelled):
    """A stance line's head: its claim comes before the stance's API fields."""

    claim_id: FileRef


class StanceRecord(StanceFields, _OfClaim):
    type: Literal["stance"]
    # Labels of the file (earlier source and report lines), not ids of stored rows, and
    # the file's kind of datetime.
    source_id: FileRef
    stated_at: UtcDatetime | None = None
    report_id: FileRef | None = None
    created_at: UtcDatetime | None = None
    # Written by export, recomputed on import.
    current: bool | None = None
    quote_found: bool | None = None


class VerdictRecord(_Stamped, VerdictFields):
    """A claim's verdict. No id of its own: a claim has one verdict, and a later verdict
    line for the same claim replaces the earlier one, as PUT does."""

    type: Literal["verdict"]
    claim_id: FileRef
    # A label of the file (an earlier source line's id).
    source_id: FileRef


Record = HeaderRecord | SourceRecord | ReportRecord | ClaimRecord | StanceRecord | VerdictRecord
DataRecord = SourceRecord | ReportRecord | ClaimRecord | StanceRecord | VerdictRecord
RECORD = TypeAdapter[Record](Annotated[Record, Field(discriminator="type")])


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


def line_errors(number: int, exc: ValidationError) -> list[FieldError]:
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
