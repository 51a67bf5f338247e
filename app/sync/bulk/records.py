"""The lines of claims-api NDJSON (docs/bulk.md) as records, and the error naming a bad line."""

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from app.claims.models import unique_tags
from app.core.errors import FieldError, ValidationFailed
from app.core.fields import (
    MAX_TAGS,
    ClaimText,
    HttpUrlStr,
    LanguageTag,
    LongText,
    ShortText,
    Tag,
    UtcDatetime,
)
from app.reports.models import ReportText, Title
from app.sources.models import SourceFields
from app.stances.rules import ClaimStatus, StanceKind
from app.verdicts.rating import Rating

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


class SourceRecord(_Line, SourceFields):
    type: Literal["source"]
    id: FileRef
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class ClaimRecord(_Line):
    type: Literal["claim"]
    id: FileRef
    text: ClaimText
    language: LanguageTag = "en"
    place: ShortText | None = None
    occurred_at: UtcDatetime | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    # Written by export, recomputed on import.
    status: ClaimStatus | None = None
    asserting_sources: int | None = None
    denying_sources: int | None = None
    status_since: UtcDatetime | None = None

    _unique_tags = field_validator("tags")(unique_tags)


class ReportRecord(_Line):
    type: Literal["report"]
    id: FileRef
    url: HttpUrlStr
    title: Title | None = None
    publisher_id: FileRef | None = None
    published_at: UtcDatetime | None = None
    language: LanguageTag = "en"
    text: ReportText | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    # Written by export, kept by the database on import.
    stance_count: int | None = None


class StanceRecord(_Line):
    type: Literal["stance"]
    id: FileRef
    claim_id: FileRef
    source_id: FileRef
    stance: StanceKind
    stated_at: UtcDatetime | None = None
    url: HttpUrlStr | None = None
    quote: LongText | None = None
    reported_via: HttpUrlStr | None = None
    note: LongText | None = None
    report_id: FileRef | None = None
    created_at: UtcDatetime | None = None
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
    reviewed_at: UtcDatetime | None = None
    url: HttpUrlStr | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


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
