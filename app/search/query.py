"""A search box's text as a query over the analysed column, for FTS5 and for PostgreSQL.

What a desk types is text, never query syntax: `"`, `*`, `:`, `&`, `|`, `!`, `(`, NEAR,
AND, OR and NOT are folded away or searched as words, and every term reaches the engine
quoted. The words are analysed exactly as documents are (app/search/analysis.py), so
`insurgent` finds "insurgents" and وحماة finds حماة. All words must match (AND), as in a
search box; ranking is the engine's (BM25, ts_rank_cd).

- **Prefix**: the last word is a prefix unless the query ends in a space or punctuation
  (search as you type: `Ham` finds Hama). A prefix of one letter, or a stopword, is left
  out until more is typed.
- **Phrases**: words in double quotes (straight or typographic) must appear in that order,
  next to each other once stopwords are left out. A quote that is never closed is text.
- A query of only stopwords, diacritics or punctuation is empty: the caller answers 200
  with no items without asking the engine.
"""

import re
from dataclasses import dataclass

from app.search.analysis import Word, fold, is_stopword, stem, stemmer_name, terms_of, words

# Past this the rest of a query is ignored: it bounds the work of one statement.
MAX_QUERY_PARTS = 32
# An unchanged word of this length may be cut short inside a suffix that the stemmer
# removes from the whole word (`insurgen` for insurgents, whose term is `insurg`): its
# prefix drops the last three letters, keeping five.
_TRIM_FROM = 6

_QUOTES = str.maketrans(dict.fromkeys("\u201c\u201d\u201e\u00ab\u00bb\u2033", '"'))
_PHRASE = re.compile(r'"([^"]*)"')
_LAST_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*\Z")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Analysed terms, phrases (runs of terms) and at most one prefix, all required."""

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    prefix: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.phrases or self.prefix)


def parse_query(q: str, language: str | None) -> SearchQuery:
    """The query a search box's text means. `language` is the claims' language when the
    search is filtered by one, else None (English stemming for non-Arabic words)."""
    name = stemmer_name(language)
    folded = fold(q.translate(_QUOTES))
    free: list[Word] = []
    phrases: list[tuple[str, ...]] = []
    end = 0
    for match in _PHRASE.finditer(folded):
        free.extend(words(folded[end : match.start()]))
        phrases.append(tuple(terms_of(words(match.group(1)), language)))
        end = match.end()
    tail = folded[end:]
    prefix: str | None = None
    last = _LAST_WORD.search(tail)
    if last is not None:
        tail_words = list(words(tail[: last.start()])) + list(words(last.group()))
        free.extend(tail_words[:-1])
        prefix = _prefix_term(tail_words[-1], name)
    else:
        free.extend(words(tail))
    terms = terms_of(free, language) + [p[0] for p in phrases if len(p) == 1]
    runs = [p for p in phrases if len(p) > 1]
    terms = list(dict.fromkeys(terms))[:MAX_QUERY_PARTS]
    runs = list(dict.fromkeys(runs))[: MAX_QUERY_PARTS - len(terms)]
    return SearchQuery(terms=tuple(terms), phrases=tuple(runs), prefix=prefix)


def _prefix_term(word: Word, stemmer: str) -> str | None:
    if is_stopword(word, stemmer):
        return None
    term = stem(word, stemmer)
    if not word.arabic and term == word.text and len(term) >= _TRIM_FROM:
        term = term[: max(5, len(term) - 3)]
    return term if len(term) >= 2 else None


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def to_fts5(query: SearchQuery, *, any_part: bool = False) -> str:
    """The FTS5 MATCH expression: `"insurg" AND "citi hama" AND "ham"*` (with `any_part`,
    OR between the parts)."""
    if query.is_empty:
        raise ValueError("an empty query matches nothing: answer without asking the engine")
    parts = [_fts5_string(term) for term in query.terms]
    parts += [_fts5_string(" ".join(phrase)) for phrase in query.phrases]
    if query.prefix is not None:
        parts.append(_fts5_string(query.prefix) + "*")
    return (" OR " if any_part else " AND ").join(parts)


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def to_tsquery(query: SearchQuery, *, any_part: bool = False) -> str:
    """The text for `to_tsquery('simple', ...)`: `'insurg' & ('citi' <-> 'hama') & 'ham':*`;
    with `any_part`, the parts joined by `|` instead (what ranking asks for: each
    occurrence of a part counts, wherever the others are)."""
    if query.is_empty:
        raise ValueError("an empty query matches nothing: answer without asking the engine")
    parts = [_lexeme(term) for term in query.terms]
    parts += ["(" + " <-> ".join(map(_lexeme, phrase)) + ")" for phrase in query.phrases]
    if query.prefix is not None:
        parts.append(_lexeme(query.prefix) + ":*")
    return (" | " if any_part else " & ").join(parts)
