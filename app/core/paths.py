"""The OpenAPI document's path templates matched against a request's concrete path: which
operations a path has (for 405's Allow, and the media types a body may have)."""

import functools
import re
from typing import Any

from fastapi import FastAPI


@functools.cache  # a handful of templates; MediaTypeCheck matches them on every write
def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))


def path_operations(app: FastAPI, path: str) -> dict[str, Any] | None:
    """The document's operations at this concrete path ({method: operation}), if any."""
    document = app.openapi()
    # A literal path first: /claims/match is not the claim "match" of /claims/{claim_id}.
    if path in document["paths"]:
        return dict(document["paths"][path])
    for template, operations in document["paths"].items():
        if _template_regex(template).fullmatch(path):
            return dict(operations)
    return None
