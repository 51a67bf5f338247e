"""The desk's query string: the filters of GET /claims it offers, and links that change them."""

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.claims.filters import ClaimFilters
from app.core.fields import StorableStr
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_REPEATS, CursorStr
from app.sources.models import SourceKind
from app.stances.rules import ClaimStatus


class Section(StrEnum):
    """The desk's order: what is contested first, then everything else."""

    disputed = "disputed"
    denied = "denied"
    rest = "rest"

    @property
    def statuses(self) -> list[ClaimStatus]:
        if self is Section.rest:
            return [s for s in ClaimStatus if s not in (ClaimStatus.disputed, ClaimStatus.denied)]
        return [ClaimStatus(self.value)]

    @property
    def heading(self) -> str:
        return {"disputed": "Disputed", "denied": "Denied", "rest": "Everything else"}[self.value]


Affiliation = Annotated[StorableStr, StringConstraints(min_length=1, max_length=200)]
TagText = Annotated[StorableStr, StringConstraints(min_length=1, max_length=64)]
LanguageText = Annotated[StorableStr, StringConstraints(min_length=1, max_length=35)]
Search = Annotated[StorableStr, StringConstraints(min_length=1, max_length=200)]
# The API's own cursor and limits: a desk page reads the lists the API serves.
Cursor = CursorStr


class DeskQuery(BaseModel):
    """What `/` reads from its query string: the same names and meanings as GET /claims,
    plus `section`, which names the part of the desk a `cursor` belongs to."""

    model_config = ConfigDict(extra="ignore")

    status: list[ClaimStatus] = Field(default=[], max_length=MAX_REPEATS)
    source_kind: list[SourceKind] = Field(default=[], max_length=MAX_REPEATS)
    affiliation: list[Affiliation] = Field(default=[], max_length=MAX_REPEATS)
    tag: list[TagText] = Field(default=[], max_length=MAX_REPEATS)
    language: list[LanguageText] = Field(default=[], max_length=MAX_REPEATS)
    q: Search | None = None
    section: Section | None = None
    cursor: Cursor | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        # The GET form sends every field, the empty ones as "": those mean "no filter".
        if isinstance(value, list):
            return [v for v in value if not (isinstance(v, str) and v.strip() == "")]
        if isinstance(value, str) and value.strip() == "":
            return None
        return value

    def filters(self, statuses: list[ClaimStatus]) -> ClaimFilters:
        return ClaimFilters(
            status=statuses,
            source_kind=self.source_kind,
            affiliation=self.affiliation,
            tag=self.tag,
            language=self.language,
            q=self.q,
        )

    def sections(self) -> list[tuple[Section, list[ClaimStatus]]]:
        """The desk's sections, each narrowed to the statuses asked for (if any)."""
        wanted = set(self.status) or set(ClaimStatus)
        narrowed = [(s, [x for x in s.statuses if x in wanted]) for s in Section]
        return [(section, statuses) for section, statuses in narrowed if statuses]

    def url(self, **changes: Any) -> str:
        """`/` with these filters, changed as given (None drops one); a new filter starts
        from the first page."""
        params: dict[str, Any] = {
            "status": [s.value for s in self.status],
            "source_kind": [k.value for k in self.source_kind],
            "affiliation": self.affiliation,
            "tag": self.tag,
            "language": self.language,
            "q": self.q,
        }
        if self.limit != DEFAULT_LIMIT:
            params["limit"] = self.limit
        params.update(changes)
        kept = {k: v for k, v in params.items() if v not in (None, [], "")}
        return "/?" + urlencode(kept, doseq=True) if kept else "/"

    @property
    def filtered(self) -> bool:
        return bool(
            self.status
            or self.source_kind
            or self.affiliation
            or self.tag
            or self.language
            or self.q
        )
