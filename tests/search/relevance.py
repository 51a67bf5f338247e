"""The relevance set of issue 14: the fixture archive and the queries over it.

`archive.ndjson` is claims-api NDJSON v1 (import it with `claims-api import` or POST
/bulk). Imports renumber ids, so each claim carries its stable key as a `key:` tag;
`queries.json` names the claims that must come first by those keys.
"""

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
ARCHIVE = HERE / "archive.ndjson"
QUERIES = HERE / "queries.json"
KEY_TAG = "key:"


@dataclass(frozen=True)
class RelevanceQuery:
    q: str
    language: str | None  # the search's language filter
    relevant: tuple[str, ...]  # keys of the claims that must come first


def claim_key(tags: list[str]) -> str:
    """The stable key of a fixture claim: its `key:` tag."""
    return next(tag.removeprefix(KEY_TAG) for tag in tags if tag.startswith(KEY_TAG))


def load_queries(path: Path = QUERIES) -> list[RelevanceQuery]:
    entries = json.loads(path.read_text(encoding="utf-8"))["queries"]
    return [RelevanceQuery(e["q"], e["language"], tuple(e["relevant"])) for e in entries]
