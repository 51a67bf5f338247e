"""The one text analysis of search: claim texts and quotes at write time, queries at read time.

Both engines index the terms this module writes (SQLite FTS5 and a PostgreSQL
`tsvector('simple', ...)` over the same analysed column), so they agree by construction:
neither engine folds, stems or drops anything itself.

A text is folded (case, accents, compatibility forms, Arabic letter forms, Arabic-Indic
digits), cut into words of letters and digits, and each word becomes one term:

- a word in Arabic script is analysed as Arabic whatever the claim's language tag says
  (an `en` claim may quote حماة): stopwords dropped, then light-stemmed (app/search/arabic.py);
- any other word goes through the Snowball stemmer of the claim's language (English for
  a language Snowball does not know, and for Arabic claims, whose Latin words are mostly
  English names), with English stopwords dropped where the stemmer is English.

Terms hold only letters and digits, so every tokenizer splits the analysed column exactly
where this module did. Limits: scripts without spaces (Chinese, Japanese) become one term
per run of letters, and Indic vowel signs split words (consistently on both sides).
"""

import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, cast

import Stemmer

from app.search import arabic, stopwords

DEFAULT_LANGUAGE = "en"
# A term is cut here on both sides: tsvector refuses lexemes over 2047 bytes, and no word
# is this long (a 200-letter query is one 64-letter term that matches nothing, at once).
MAX_TERM_LENGTH = 64

# BCP 47 primary language subtag -> Snowball algorithm.
SNOWBALL = {
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}

# The combining marks of the Latin, Greek and Cyrillic blocks (NFKD splits é into e + U+0301),
# and Arabic's tashkeel and tatweel: one pass removes both.
_MARKS = re.compile(
    f"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f{arabic.MARKS}]"
)
_PLAIN = str.maketrans(
    {
        **arabic.FORMS,
        **{chr(0x0660 + n): str(n) for n in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + n): str(n) for n in range(10)},  # Extended (Persian) digits
        "\u2019": "'",  # the typographic apostrophe, so Snowball removes 's
        "\u02bc": "'",
    }
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ARABIC_RUN = re.compile(f"([{arabic.ARABIC_LETTERS}]+)")
_HAS_ARABIC = re.compile(f"[{arabic.ARABIC_LETTERS}]")


class _Stemmer(Protocol):
    def stemWord(self, word: str) -> str: ...  # PyStemmer names it so


@dataclass(frozen=True, slots=True)
class Word:
    """A folded word of a text, Arabic or not."""

    text: str
    arabic: bool


def fold(text: str) -> str:
    """The text without case, accents, compatibility forms or Arabic letter variants."""
    # As arabic.normalise, with the Latin accents and digits in the same two passes.
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold())).translate(_PLAIN)


def _fold_stopwords(words: str) -> frozenset[str]:
    return frozenset(fold(word) for word in words.split())


_ENGLISH_STOPWORDS = _fold_stopwords(stopwords.ENGLISH)
_ARABIC_STOPWORDS = _fold_stopwords(stopwords.ARABIC)
_CONJUNCTIONS = ("و", "ف")


def words(folded: str) -> Iterator[Word]:
    """The words of a folded text in order; a word mixing scripts is cut where they meet."""
    for match in _WORD.finditer(folded):
        yield from _scripts(match.group())


def _scripts(word: str) -> Iterator[Word]:
    if _HAS_ARABIC.search(word) is None:
        yield Word(word, False)
        return
    # re.split with a group: the Arabic runs are at the odd places.
    for place, part in enumerate(_ARABIC_RUN.split(word)):
        part = part.strip("'")
        if part:
            yield Word(part, place % 2 == 1)


_local = threading.local()  # PyStemmer objects must not be shared between threads


def stemmer_name(language: str | None) -> str:
    """The Snowball algorithm for a BCP 47 tag's non-Arabic words."""
    primary = (language or DEFAULT_LANGUAGE).split("-")[0].lower()
    return SNOWBALL.get(primary, "english")


def _stemmer(name: str) -> _Stemmer:
    stemmers: dict[str, _Stemmer] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    found = stemmers.get(name)
    if found is None:
        found = stemmers[name] = cast(_Stemmer, Stemmer.Stemmer(name))
    return found


def is_stopword(word: Word, stemmer: str) -> bool:
    """Whether search drops this word (app/search/stopwords.py)."""
    if word.arabic:
        text = word.text
        return (
            len(text) == 1
            or text in _ARABIC_STOPWORDS
            or (text[0] in _CONJUNCTIONS and text[1:] in _ARABIC_STOPWORDS)
        )
    return stemmer == "english" and word.text in _ENGLISH_STOPWORDS


def stem(word: Word, stemmer: str) -> str:
    """The term of a word that is not a stopword."""
    if word.arabic:
        term = arabic.light_stem(word.text)
    else:
        term = _stemmer(stemmer).stemWord(word.text).replace("'", "")
    return term[:MAX_TERM_LENGTH]


def terms_of(folded_words: Iterable[Word], language: str | None) -> list[str]:
    """The index terms of words already folded, in order, stopwords left out."""
    name = stemmer_name(language)
    return [stem(word, name) for word in folded_words if not is_stopword(word, name)]


@lru_cache(maxsize=65536)
def _word_terms(word: str, stemmer: str) -> tuple[str, ...]:
    # A news archive reuses a small vocabulary: remembering each word's terms halves the
    # cost of analysing a bulk import.
    return tuple(stem(part, stemmer) for part in _scripts(word) if not is_stopword(part, stemmer))


def analyze(text: str, language: str | None) -> list[str]:
    """The index terms of a document, in order (repeats kept: phrases need positions).

    `" ".join(analyze(...))` is the search column both engines index."""
    name = stemmer_name(language)
    terms: list[str] = []
    for word in _WORD.findall(fold(text)):
        terms.extend(_word_terms(word, name))
    return terms


@dataclass(frozen=True, slots=True)
class Similarity:
    """How alike two texts are: a score in 0..1 and the terms they share."""

    score: float
    shared: tuple[str, ...]


def similarity(
    a_terms: Iterable[str], b_terms: Iterable[str], weights: Mapping[str, float] | None = None
) -> Similarity:
    """The Dice coefficient of two texts' sets of terms: 1 for the same terms, 0 for none
    in common. `weights` (e.g. each term's IDF in the archive) make rare shared words count
    more than common ones; a term without a weight counts 1. `shared` is in `a_terms`' order.
    """
    a = dict.fromkeys(a_terms)
    b = set(b_terms)

    def weight(term: str) -> float:
        return 1.0 if weights is None else max(0.0, weights.get(term, 1.0))

    shared = tuple(term for term in a if term in b)
    total = sum(map(weight, a)) + sum(map(weight, b))
    if total == 0:
        return Similarity(0.0, ())
    return Similarity(min(1.0, 2 * sum(map(weight, shared)) / total), shared)


def words_by_term(text: str, language: str | None) -> dict[str, str]:
    """The first (folded) word of a text behind each of its terms: what to show a desk as
    the words two texts share, rather than stems such as `insurg`."""
    name = stemmer_name(language)
    found: dict[str, str] = {}
    for word in words(fold(text)):
        if not is_stopword(word, name):
            found.setdefault(stem(word, name), word.text)
    return found
