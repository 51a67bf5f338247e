"""The response cache's key: the request reduced to what its answer depends on, bounded.

The answer to an open read depends on its URL, its Host (Link headers are absolute) and the
formats its Accept header picks. Keying on the raw headers let a client fill memory with
distinct 1 MB Accept values, each a new entry for the same answer; here an Accept maps to
the formats the routes would choose for it, and a request this cannot bound is not cached.
"""

import re

from starlette.datastructures import Headers
from starlette.types import Scope

from app.claims.csv import MEDIA_TYPE as CSV_MEDIA_TYPE
from app.claims.csv import wants_csv
from app.core.ids import id_or_none
from app.verdicts.claimreview import JSONLD_MEDIA_TYPE
from app.verdicts.jsonld import accept_prefers_jsonld

# Longer than any Accept a client of this service sends; past it, no caching (not an error).
MAX_ACCEPT_LENGTH = 512
# RFC 1035 names are at most 253 characters; with a port, a little more.
MAX_HOST_LENGTH = 262
# The reads that show one claim and nothing of another: the claim, its stances (one or all),
# its timeline, its verdict. Not /similar, which shows other claims. ASCII digits only, as
# the ids the routes accept (a path with others is an error, and errors are not kept).
_ONE_CLAIM = re.compile(r"/claims/([0-9]+)(?:/verdict|/timeline|/stances(?:/[^/]+)?)?")
# Media ranges that all get plain JSON when no other format is picked.
_JSON_RANGES = {"", "*/*", "application/*", "application/json"}


def served_formats(accept: str) -> bytes | None:
    """The formats this Accept selects, as the routes choose them (CSV for the claim list,
    JSON-LD for one claim, JSON otherwise), or None for an Accept naming none of them."""
    if len(accept) > MAX_ACCEPT_LENGTH:
        return None
    ranges = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    csv, jsonld = wants_csv(accept), accept_prefers_jsonld(accept)
    if not (csv or jsonld or ranges & _JSON_RANGES):
        return None
    return (
        b"+".join(
            name
            for name, picked in (
                (CSV_MEDIA_TYPE.encode(), csv),
                (JSONLD_MEDIA_TYPE.encode(), jsonld),
            )
            if picked
        )
        or b"application/json"
    )


def cache_key(scope: Scope, headers: Headers) -> tuple[bytes, ...] | None:
    """The key for this request, or None when it is not to be cached."""
    host = headers.get("host", "")
    formats = served_formats(headers.get("accept", ""))
    if formats is None or len(host) > MAX_HOST_LENGTH:
        return None
    return (
        scope["scheme"].encode(),
        scope.get("root_path", "").encode(),
        scope["path"].encode(),
        scope["query_string"],
        host.encode("latin-1"),
        formats,
    )


def claim_of(path: str) -> int | None:
    """The one claim this path's answer shows, or None when it may show several (a list)."""
    match = _ONE_CLAIM.fullmatch(path)
    return id_or_none(match[1]) if match else None
