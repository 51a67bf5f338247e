"""The seeded Hama claims (seeds/), as the search tests use them."""

import json
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
# The seeded central claim: what a desk's rewordings must find first.
CENTRAL = "Syrian insurgents entered the city of Hama."


def searched() -> dict[str, str]:
    """Each seeded claim's text -> all that `q` searches for it, as the seed file gives it:
    its text, its stances' quotes, and the title of the report they cite."""
    found = {}
    for path in sorted(SEEDS.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        report = document.get("report", {})
        title = report.get("title") if "url" in report else None  # seeded only with a url
        for claim in document["claims"]:
            quotes = [s.get("quote") or "" for s in claim["stances"]]
            cited = [title or ""] if claim["stances"] else []
            found[claim["text"]] = " ".join([claim["text"], *quotes, *cited])
    return found
