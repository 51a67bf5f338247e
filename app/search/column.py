"""The search column: what both engines index for a claim, written in Python.

`claim.search_text` holds the analysed terms (app/search/analysis.py) of the claim's text,
then of what its stances add, oldest stance first: each stance's quote, then the title of
the report it cites unless an earlier stance of the claim cited that report (so each
distinct report's title is in the column once). Everything is analysed in the claim's
language, as a query filtered by that language is. Terms are separated by spaces.
SQLite's FTS5 table `claim_fts` and PostgreSQL's `search_vector` (a
`tsvector('simple', ...)` generated from it) index it, so the two engines match and rank
the same terms.

The order is the one the writers can keep by appending: recording a stance appends its
quote and, for a first citation, its report's title. A title change rewrites the column
of every claim citing the report (app/search/stored.py). Every writer goes through
`search_text` and `stance_texts`, or `terms_of_text` for a text appended.
"""

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from app.search.analysis import analyze


class StanceText(NamedTuple):
    """What one stance gives its claim's column: its quote, and the report it cites."""

    quote: str | None
    report_id: int | None = None
    title: str | None = None


def stance_texts(
    stances: Iterable[StanceText], *, cited: Iterable[int] = ()
) -> Iterator[str | None]:
    """The texts a claim's stances add to its column, in the stances' order: each quote,
    then the title of the stance's report if no earlier stance cited that report (`cited`:
    the reports that the claim's stances before these cite)."""
    seen = set(cited)
    for stance in stances:
        yield stance.quote
        if stance.report_id is not None and stance.report_id not in seen:
            seen.add(stance.report_id)
            yield stance.title


def terms_of_text(text: str | None, language: str | None) -> str:
    """One text's terms as they are appended to the column ('' for none)."""
    return " ".join(analyze(text, language)) if text else ""


def search_text(*, text: str, language: str | None, quotes: Iterable[str | None] = ()) -> str:
    """The whole column of a claim: its text, then the texts its stances add in order
    (their quotes, and the titles of the reports they cite: `stance_texts`)."""
    parts = (terms_of_text(part, language) for part in (text, *quotes))
    return " ".join(part for part in parts if part)


def same_column(stored: str, expected: str) -> bool:
    """Whether a stored column holds the expected terms: an append to an empty column
    leaves a space in front, which no tokenizer sees."""
    return stored.strip() == expected
