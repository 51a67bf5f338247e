"""Whether a quote occurs in a report's text: the rule, in one pure function.

Two texts match when they are equal after normalisation: Unicode compatibility forms
folded (NFKC: Arabic presentation forms, full-width letters), Arabic diacritics (harakat,
shadda, sukun, the superscript alef, Quranic marks) and the tatweel dropped, curly and
low quotation marks read as straight ones, letter case folded, and every run of whitespace
read as one space. Latin accents are kept: "resume" is not "résumé".
"""

import re
import unicodedata

# Arabic combining marks and the tatweel (a stretching stroke, never a letter).
_ARABIC_MARKS = re.compile(
    "[\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u08d3-\u08ff]"
)
# Curly, low and reversed single quotes, primes and accents used as apostrophes; the
# double ones and guillemets.
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u0060": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)
_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The form of a text in which quotes are looked for."""
    # Quotes first (NFKD would turn an acute accent into a space and a mark); then NFKD, so
    # that marks precomposed with a letter come apart and can be dropped.
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    stripped = _ARABIC_MARKS.sub("", decomposed)
    folded = unicodedata.normalize("NFKC", stripped).casefold()
    return _WHITESPACE.sub(" ", folded).strip()


def quote_found(quote: str | None, text: str | None) -> bool | None:
    """Whether `quote` occurs in `text` (both normalised); None without a quote or a text."""
    return found_in(quote, None if text is None else normalise(text))


def found_in(quote: str | None, text_key: str | None) -> bool | None:
    """quote_found over a text normalised already (a report's stored text_key)."""
    if quote is None or text_key is None or not (key := normalise(quote)):
        return None
    return key in text_key


def like_pattern(quote: str | None) -> str | None:
    """The LIKE pattern (escape character '/') that finds the normalised quote in a
    normalised text: what the stance write path asks the database, instead of fetching the
    text. None when there is no quote to look for."""
    if quote is None or not (key := normalise(quote)):
        return None
    escaped = key.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"
