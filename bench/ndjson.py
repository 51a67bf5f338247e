"""The generated archive as claims-api NDJSON v1 (docs/bulk.md), for `claims-api import`
and POST /bulk: sources first, then each claim followed by its stances, so every
reference points at an earlier line.

    python -m bench.ndjson 100000 > archive.ndjson
"""

import json
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from bench.generate import claims, sources


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _drop_none(record: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in record.items() if v is not None}


def records(count: int) -> Iterator[dict[str, object]]:
    yield {"type": "header", "format": "claims-api-ndjson", "version": 1}
    source_rows = sources()
    for s in source_rows:
        yield _drop_none(
            {
                "type": "source",
                "id": f"s{s.id}",
                "name": s.name,
                "kind": s.kind,
                "affiliation": s.affiliation,
                "country": s.country,
                "url": s.url,
                "description": s.description,
                "created_at": _time(s.created_at),
                "updated_at": _time(s.created_at),
            }
        )
    for chunk in claims(count, source_rows):
        for c in chunk:
            updated = max([c.created_at, *(s.created_at for s in c.stances)])
            yield _drop_none(
                {
                    "type": "claim",
                    "id": f"c{c.id}",
                    "text": c.text,
                    "language": c.language,
                    "place": c.place,
                    "occurred_at": _time(c.occurred_at),
                    "tags": c.tags,
                    "created_at": _time(c.created_at),
                    "updated_at": _time(updated),
                }
            )
            for s in c.stances:
                yield _drop_none(
                    {
                        "type": "stance",
                        "id": f"t{s.id}",
                        "claim_id": f"c{c.id}",
                        "source_id": f"s{s.source_id}",
                        "stance": s.stance,
                        "stated_at": _time(s.stated_at),
                        "url": s.url,
                        "quote": s.quote,
                        "reported_via": s.reported_via,
                        "created_at": _time(s.created_at),
                    }
                )


def write(count: int, out: TextIO) -> int:
    """Write the archive of `count` claims; returns the number of stance lines."""
    stances = 0
    for record in records(count):
        stances += record["type"] == "stance"
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    return stances


if __name__ == "__main__":
    write(int(sys.argv[1]), sys.stdout)
