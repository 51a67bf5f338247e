"""The query string of GET /claims: one model, validated in one call.

FastAPI validates a route's parameters one by one (16 of them cost 0.8 ms a request,
bench/NOTES.md); a query model is one pydantic validation, and the same fields, names,
descriptions and order in the OpenAPI document.
"""

from dataclasses import fields
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.claims.filters import ClaimFilters, ClaimSort
from app.core.fields import Rfc3339, StorableStr
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_REPEATS, CursorStr
from app.sources.models import SourceKind
from app.stances.rules import ClaimStatus, StanceKind
from app.verdicts.rating import Rating

Q_DESCRIPTION = (
    "Search the claim's text, the quotes of its stances, and the titles of the reports its "
    "stances cite, whatever the stance's kind (docs/search-analysis.md); nothing else (not "
    "notes, places, tags, source names or report texts). "
    "Every word must match, in any form (`insurgent` finds insurgents; case, accents and "
    "Arabic diacritics, letter variants and prefixes such as و and ال do not matter); the "
    "last word is a prefix unless the query ends in a space (`Ham` finds Hama); "
    '"quoted phrases" match those words in that order. Operators and other punctuation '
    "are text. The words may come from different texts of the claim. A query of only "
    "stopwords or punctuation matches nothing."
)


Id = Annotated[StorableStr, StringConstraints(max_length=40)]
Name = Annotated[StorableStr, StringConstraints(max_length=200)]
Tag = Annotated[StorableStr, StringConstraints(max_length=64)]
Language = Annotated[StorableStr, StringConstraints(max_length=35)]
Search = Annotated[StorableStr, StringConstraints(min_length=1, max_length=200)]
FILTERS = tuple(field.name for field in fields(ClaimFilters))


def _repeatable(description: str) -> Any:
    """A list filter that may be repeated, meaning OR (empty: no filter)."""
    return Field(default=[], max_length=MAX_REPEATS, description=description + " Repeat for OR.")


class ClaimQuery(BaseModel):
    """What GET /claims reads from its query string; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    status: list[ClaimStatus] = _repeatable("Derived status.")
    stance: list[StanceKind] = _repeatable("A current stance of this kind.")
    source_id: list[Id] = _repeatable("A current stance by this source.")
    source_kind: list[SourceKind] = _repeatable("A current stance by a source of this kind.")
    affiliation: list[Name] = _repeatable(
        "A current stance by a source of this affiliation (case-insensitive)."
    )
    report_id: list[Id] = _repeatable("A current stance known through this report.")
    q: Search | None = Field(default=None, description=Q_DESCRIPTION)
    tag: list[Tag] = _repeatable("Exact tag.")
    place: list[Name] = _repeatable("Exact place.")
    language: list[Language] = _repeatable("Exact language tag.")
    occurred_from: Rfc3339 | None = Field(default=None, description="occurred_at at or after.")
    occurred_to: Rfc3339 | None = Field(default=None, description="occurred_at at or before.")
    updated_since: Rfc3339 | None = Field(
        default=None, description="updated_at at or after: incremental sync."
    )
    verdict: list[Rating] = _repeatable("The fact-checker's verdict.")
    as_of: Rfc3339 | None = Field(
        default=None,
        description="Stated time: status and stance-side filters, and each claim's "
        "status, counts and status_since, as the sources had stated them by then.",
    )
    sort: ClaimSort = Field(
        default=ClaimSort.newest_updated,
        description="Order of the list; `relevance` (with `q` only): best matches first.",
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size, 1..100.")
    cursor: CursorStr | None = Field(
        default=None, description="`next_cursor` of the previous page, passed back unchanged."
    )

    def filters(self) -> ClaimFilters:
        return ClaimFilters(**{name: getattr(self, name) for name in FILTERS})
