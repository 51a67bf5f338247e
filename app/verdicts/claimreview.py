"""schema.org ClaimReview and Claim as JSON-LD: what GET /claims/{id} answers for
`Accept: application/ld+json`, and what POST /imports/claimreview reads (pure, no I/O).

Follows schema.org's ClaimReview, Claim and Rating, with the properties Google's fact-check
markup requires (claimReviewed, reviewRating with alternateName, url) and recommends
(author, datePublished, itemReviewed; the Claim's appearance, firstAppearance, author,
datePublished; the Rating's ratingValue, bestRating, worstRating).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StringConstraints,
    WithJsonSchema,
)

from app.claims.models import ClaimDetail
from app.core.fields import ClaimText, HttpUrlStr, LanguageTag, LongText, StorableStr, in_utc
from app.sources.models import Source, SourceKind
from app.stances.models import StancePublic
from app.stances.rules import StanceKind
from app.verdicts.rating import (
    BEST_RATING,
    DEFAULT_WORDING,
    RATING_VALUES,
    WORST_RATING,
    Rating,
    normalize_rating,
)

JSONLD_MEDIA_TYPE = "application/ld+json"
SCHEMA_ORG = "https://schema.org"


def _when(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _agent(name: str, kind: str, url: str | None = None) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "@type": "Person" if kind == SourceKind.individual else "Organization",
        "name": name,
    }
    if url:
        agent["url"] = url
    return agent


def _asserting(stances: list[StancePublic]) -> list[StancePublic]:
    """Current assertions, earliest first: where and by whom the claim was made."""
    return sorted((s for s in stances if s.stance == StanceKind.asserts), key=lambda s: s.stated_at)


@dataclass(frozen=True)
class Appearance:
    """A report through which one of the claim's stances is known."""

    url: str
    title: str | None
    published_at: datetime | None


def _creative_work(report: Appearance) -> dict[str, Any]:
    work: dict[str, Any] = {"@type": "CreativeWork", "url": report.url}
    if report.title:
        work["name"] = report.title
    if report.published_at:
        work["datePublished"] = _when(report.published_at)
    return work


def claim_jsonld(
    detail: ClaimDetail, claim_url: str, reports: Sequence[Appearance] = ()
) -> dict[str, Any]:
    """The claim as a schema.org Claim: its text, who asserts it, where it appeared: the
    reports its stances cite, earliest published first (else where the assertions were
    made)."""
    claim: dict[str, Any] = {
        "@type": "Claim",
        "@id": claim_url,
        "text": detail.text,
        "inLanguage": detail.language,
    }
    asserting = _asserting(detail.stances)
    if asserting:
        claim["author"] = [_agent(s.source.name, s.source.kind) for s in asserting]
        claim["datePublished"] = _when(asserting[0].stated_at)
    urls = list(dict.fromkeys(u for s in asserting if (u := s.url or s.reported_via)))
    if reports:
        # Earliest published first, undated ones after them.
        works = sorted(reports, key=lambda r: (r.published_at is None, r.published_at or 0, r.url))
        claim["firstAppearance"] = _creative_work(works[0])
        claim["appearance"] = [_creative_work(report) for report in works]
    elif urls:
        claim["firstAppearance"] = {"@type": "CreativeWork", "url": urls[0]}
        claim["appearance"] = [{"@type": "CreativeWork", "url": url} for url in urls]
    if detail.place:
        claim["contentLocation"] = {"@type": "Place", "name": detail.place}
    return claim


def claim_review_jsonld(
    detail: ClaimDetail,
    claim_url: str,
    reviewer: Source | None,
    reports: Sequence[Appearance] = (),
) -> dict[str, Any]:
    """A ClaimReview when the claim has a verdict, else the Claim alone."""
    claim = claim_jsonld(detail, claim_url, reports)
    verdict = detail.verdict
    if verdict is None:
        return {"@context": SCHEMA_ORG, **claim}
    rating: dict[str, Any] = {"@type": "Rating"}
    if verdict.rating in RATING_VALUES:
        rating["ratingValue"] = RATING_VALUES[verdict.rating]
        rating["bestRating"] = BEST_RATING
        rating["worstRating"] = WORST_RATING
    rating["alternateName"] = verdict.textual_rating or DEFAULT_WORDING[verdict.rating]
    if verdict.explanation:
        rating["ratingExplanation"] = verdict.explanation
    review: dict[str, Any] = {
        "@context": SCHEMA_ORG,
        "@type": "ClaimReview",
        "claimReviewed": detail.text,
        "itemReviewed": claim,
        "reviewRating": rating,
        "author": _agent(
            verdict.source.name, verdict.source.kind, reviewer.url if reviewer else None
        ),
        "datePublished": _when(verdict.reviewed_at),
    }
    if verdict.url:
        review["url"] = verdict.url
    return review


# The OpenAPI description of the JSON-LD answer: open-ended, as JSON-LD is.
JSONLD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["@context", "@type"],
    "properties": {
        "@context": {"type": "string", "const": SCHEMA_ORG},
        "@type": {"type": "string", "enum": ["ClaimReview", "Claim"]},
    },
    "additionalProperties": True,
    "description": "schema.org ClaimReview (when the claim has a verdict) or Claim, as JSON-LD.",
}


# --- Reading ClaimReview -------------------------------------------------------------------


class JsonLdObject(BaseModel):
    """JSON-LD as publishers write it: properties we do not use are ignored, not refused."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# A number, or the string fact-checkers often publish instead ("4"); strict, so that a
# string too long for the second is refused rather than read as the first.
Number = StrictFloat | Annotated[str, StringConstraints(max_length=32)]
Wording = Annotated[
    StorableStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


def _as_list(value: Any) -> Any:
    """schema.org lets any property hold one value or a list: read one as a list of one."""
    return [value] if isinstance(value, dict) else value


def _review_date(value: Any) -> Any:
    """An ISO 8601 date (read as midnight UTC) or a date-time with an offset."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        # Not a number read as a Unix time: the document promises a string.
        raise ValueError("must be an ISO 8601 date or date-time string, e.g. 2024-12-06")
    try:
        parsed = (
            datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
            if len(value) == 10
            else datetime.fromisoformat(value)
        )
    except ValueError:
        raise ValueError("must be an ISO 8601 date or a date-time with an offset") from None
    if parsed.tzinfo is None:
        raise ValueError("a date-time needs an offset (Z or +hh:mm)")
    return parsed


ReviewDate = Annotated[
    AwareDatetime,
    BeforeValidator(_review_date, json_schema_input_type=str),
    AfterValidator(in_utc),
    # What _review_date takes, said in the document: a date, or a date-time with an offset.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ],
            "examples": ["2024-12-06", "2024-12-06T10:00:00Z"],
        }
    ),
]


class RatingIn(JsonLdObject):
    rating_value: Number | None = Field(default=None, alias="ratingValue")
    best_rating: Number | None = Field(default=None, alias="bestRating")
    worst_rating: Number | None = Field(default=None, alias="worstRating")
    alternate_name: Wording | None = Field(
        default=None, alias="alternateName", description="The publisher's wording."
    )
    name: Wording | None = None
    rating_explanation: LongText | None = Field(default=None, alias="ratingExplanation")


class OrganizationIn(JsonLdObject):
    name: Annotated[
        StorableStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    url: Annotated[StorableStr, StringConstraints(max_length=2048)] | None = None


class ClaimIn(JsonLdObject):
    in_language: LanguageTag | None = Field(default=None, alias="inLanguage")


class ClaimReviewIn(JsonLdObject):
    type: Annotated[str, StringConstraints(pattern="^ClaimReview$")] = Field(
        alias="@type", description="Must be ClaimReview."
    )
    claim_reviewed: ClaimText = Field(alias="claimReviewed")
    review_rating: RatingIn = Field(alias="reviewRating")
    author: Annotated[
        list[OrganizationIn],
        BeforeValidator(_as_list, json_schema_input_type=OrganizationIn | list[OrganizationIn]),
        Field(min_length=1, max_length=20, description="The reviewing organisation."),
    ]
    url: HttpUrlStr | None = None
    date_published: ReviewDate | None = Field(default=None, alias="datePublished")
    in_language: LanguageTag | None = Field(default=None, alias="inLanguage")
    item_reviewed: ClaimIn | None = Field(default=None, alias="itemReviewed")

    @property
    def reviewer(self) -> OrganizationIn:
        return self.author[0]

    @property
    def textual_rating(self) -> str | None:
        return self.review_rating.alternate_name or self.review_rating.name

    @property
    def rating(self) -> Rating:
        return normalize_rating(
            rating_value=self.review_rating.rating_value,
            best_rating=self.review_rating.best_rating,
            worst_rating=self.review_rating.worst_rating,
            textual_rating=self.textual_rating,
        )

    @property
    def language(self) -> str:
        """The claim's language: the Claim's own, else the review's, else English."""
        if self.item_reviewed is not None and self.item_reviewed.in_language:
            return self.item_reviewed.in_language
        return self.in_language or "en"

    @property
    def reviewed_at(self) -> datetime | None:
        return self.date_published


CLAIMREVIEW_EXAMPLE = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "url": "https://factcheck.example.org/2024/12/06/hama-entered",
    "claimReviewed": "Syrian insurgents entered the city of Hama.",
    "itemReviewed": {
        "@type": "Claim",
        "author": {"@type": "Organization", "name": "Hayat Tahrir al-Sham"},
        "datePublished": "2024-12-05",
        "appearance": {"@type": "CreativeWork", "url": "https://t.me/example/123"},
    },
    "author": {
        "@type": "Organization",
        "name": "Example Fact Check",
        "url": "https://factcheck.example.org",
    },
    "reviewRating": {
        "@type": "Rating",
        "ratingValue": 2,
        "bestRating": 5,
        "worstRating": 1,
        "alternateName": "Misleading",
    },
    "datePublished": "2024-12-06",
}
