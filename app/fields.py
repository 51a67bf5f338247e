"""Reusable validated field types for request and response models."""

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints


def _storable(value: str) -> str:
    # PostgreSQL rejects NUL in text and UTF-8 cannot carry lone surrogates:
    # refuse both here so that no input reaches the database it cannot store.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain whitespace or control characters")
    return value


_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def _language_tag(value: str) -> str:
    """Check a BCP 47 tag's shape and give it its canonical case (ar, zh-Hant, en-GB)."""
    if not _LANGUAGE_TAG.match(value):
        raise ValueError("must be a BCP 47 language tag such as 'en', 'ar' or 'en-GB'")
    subtags = value.split("-")
    canonical = [subtags[0].lower()]
    for subtag in subtags[1:]:
        if len(subtag) == 4 and subtag.isalpha():
            canonical.append(subtag.title())
        elif len(subtag) == 2 and subtag.isalpha():
            canonical.append(subtag.upper())
        else:
            canonical.append(subtag.lower())
    return "-".join(canonical)


def _country_code(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2}", value):
        raise ValueError("must be an ISO 3166-1 alpha-2 code such as 'SY'")
    return value.upper()


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


StorableStr = Annotated[str, AfterValidator(_storable)]
# Any offset on the way in (a naive time is refused); UTC from then on, so that every
# answer, the one to the write included, says `Z`.
UTCDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
ClaimText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(_storable),
    AfterValidator(_not_blank),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_storable),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_storable),
]
LongText = Annotated[str, StringConstraints(max_length=5000), AfterValidator(_storable)]
HttpUrlStr = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_storable),
    AfterValidator(_http_url),
    Field(examples=["https://example.org/report"]),
]
LanguageTag = Annotated[
    str, StringConstraints(max_length=35), AfterValidator(_language_tag), Field(examples=["en"])
]
CountryCode = Annotated[str, AfterValidator(_country_code), Field(examples=["SY"])]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_storable),
]
# Ids are integers in the database and opaque strings on the wire.
PublicId = Annotated[str, BeforeValidator(str)]

MAX_TAGS = 20
SourceRef = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40),
    AfterValidator(_storable),
    Field(examples=["3"], description="The id of an existing source."),
]
