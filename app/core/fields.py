"""Reusable validated field types for request and response models."""

import re
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
    if not _VISIBLE.search(value):
        raise ValueError("must not be blank")
    return value


# The whole rule, stated once for the validator and the OpenAPI document alike: scheme, a
# host name or an IPv6 literal (no user:password@), an optional port, then anything but
# whitespace and control characters (non-ASCII paths, as in Arabic Wikipedia, are fine).
_HEX = r"[0-9A-Fa-f]{1,4}"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV6 = rf"\[(?:(?:{_HEX}(?::{_HEX}){{0,5}})?::(?:{_HEX})?|::ffff:{_OCTET}(?:\.{_OCTET}){{3}})\]"
_URL_CHAR = r"[^\x00-\x20\x7f-\x9f\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
HTTP_URL_PATTERN = rf"^https?://(?:[A-Za-z0-9.-]+|{_IPV6})(?::[0-9]{{1,5}})?(?:[/?#]{_URL_CHAR}*)?$"


# Exactly the characters that are str.isspace() or Unicode category Cc
# (tests/core/test_fields_url.py checks every code point): one regex search instead of a
# Python loop per character, which was the largest cost of validating a bulk import.
_SPACE_OR_CONTROL = re.compile(
    r"[\x00-\x20\x7f-\x9f\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
_HTTP_URL = re.compile(HTTP_URL_PATTERN)


def _http_url(value: str) -> str:
    if _SPACE_OR_CONTROL.search(value):
        raise ValueError("must not contain whitespace or control characters")
    if not _HTTP_URL.fullmatch(value):
        raise ValueError("must be an absolute http(s) URL with a host name or IPv6 literal")
    if "[" not in value:
        # The pattern left urlsplit nothing to refuse: an http(s) scheme, then a netloc that
        # is a non-empty [A-Za-z0-9.-]+ host name (its hostname) and an optional port. Only
        # a bracketed IPv6 literal has more to check.
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("must be an absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return value


# RFC 3339 date-times only: pydantic alone would also take numbers and "2024-12-05T08:00",
# which the OpenAPI `format: date-time` the clients see does not allow.
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _rfc3339(value: object) -> object:
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError(
            "must be an RFC 3339 date-time with a time zone, e.g. 2024-12-05T08:00:00Z"
        )
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 date-time string, e.g. 2024-12-05T08:00:00Z")
    return value


LANGUAGE_TAG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
_LANGUAGE_TAG = re.compile(LANGUAGE_TAG_PATTERN)


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


# What _storable and _not_blank enforce, said in the OpenAPI document too, so that clients
# and schema-driven tests know that a NUL or an all-blank name is refused. "Blank" is the
# Unicode White_Space set, which is also what pydantic's strip_whitespace removes. (Lone
# surrogates are refused too but cannot be written in a pattern every regex engine takes.)
_WHITE_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
STORABLE_PATTERN = r"^[^\x00]*$"
NOT_BLANK_PATTERN = rf"^[^\x00]*[^{_WHITE_SPACE}\x00][^\x00]*$"
_VISIBLE = re.compile(rf"[^{_WHITE_SPACE}]")
_STORABLE = Field(json_schema_extra={"pattern": STORABLE_PATTERN})
_NOT_BLANK = Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})

StorableStr = Annotated[str, AfterValidator(_storable), _STORABLE]
ClaimText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(_storable),
    AfterValidator(_not_blank),
    _NOT_BLANK,
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_storable),
    _NOT_BLANK,
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_storable),
    _NOT_BLANK,
]
LongText = Annotated[str, StringConstraints(max_length=5000), AfterValidator(_storable), _STORABLE]
HttpUrlStr = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_storable),
    AfterValidator(_http_url),
    Field(
        examples=["https://example.org/report"],
        json_schema_extra={"pattern": HTTP_URL_PATTERN},
    ),
]
LanguageTag = Annotated[
    str,
    StringConstraints(max_length=35),
    AfterValidator(_language_tag),
    Field(examples=["en"], json_schema_extra={"pattern": LANGUAGE_TAG_PATTERN}),
]
CountryCode = Annotated[
    str,
    AfterValidator(_country_code),
    Field(examples=["SY"], json_schema_extra={"pattern": "^[A-Za-z]{2}$"}),
]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_storable),
    _NOT_BLANK,
]
# Ids are integers in the database and opaque strings on the wire.
PublicId = Annotated[str, BeforeValidator(str)]
OptionalId = Annotated[str | None, BeforeValidator(lambda v: None if v is None else str(v))]

MAX_TAGS = 20
SourceRef = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40),
    AfterValidator(_storable),
    Field(
        examples=["3"],
        description="The id of an existing source.",
        json_schema_extra={"pattern": STORABLE_PATTERN},
    ),
]


# An instant with its time zone, given as an RFC 3339 string (body fields and query alike).
def in_utc(value: datetime) -> datetime:
    # 9999-12-31T23:59:59-00:01 is a valid RFC 3339 time whose UTC is in year 10000, which
    # Python (and the columns) cannot hold: astimezone overflows. A ValueError makes it the
    # 422 naming the field that every other bad value gets.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall within the years 0001 to 9999 once converted to UTC") from None


# Any offset on the way in (a naive time is refused); UTC from then on. For the bulk format,
# which takes every spelling pydantic reads.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(in_utc)]
# Any offset on the way in (a naive time is refused); UTC from then on, so that every
# answer, the one to the write included, says `Z`.
Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(in_utc)]
