"""The search column: what both engines index for a claim, written in Python.

`claim.search_text` holds the analysed terms (app/search/analysis.py) of the claim's text,
then of its stances' quotes in the order they were recorded, separated by spaces. SQLite's
FTS5 table `claim_fts` and PostgreSQL's `search_vector` (a `tsvector('simple', ...)`
generated from it) index it, so the two engines match and rank the same terms.

Every writer goes through `search_text` (or `terms_of_text` for one more text appended),
so a new searchable text is one more argument here: reports' titles, once reports exist,
are passed as `more` by the writers that know them.
"""

from collections.abc import Iterable

from app.search.analysis import analyze


def terms_of_text(text: str | None, language: str | None) -> str:
    """One text's terms as they are appended to the column ('' for none)."""
    return " ".join(analyze(text, language)) if text else ""


def search_text(
    *, text: str, language: str | None, quotes: Iterable[str | None] = (), more: Iterable[str] = ()
) -> str:
    """The whole column of a claim: its text, its stances' quotes (oldest first), and any
    further texts that search should find the claim by (the hook for reports' titles)."""
    parts = (terms_of_text(part, language) for part in (text, *quotes, *more))
    return " ".join(part for part in parts if part)
