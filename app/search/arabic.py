# ruff: noqa: RUF001, RUF002, RUF003 (Arabic letters are this file's subject, not look-alikes)
"""Arabic normalisation and a light stemmer in the style of Larkey et al.'s light10.

Light stemming strips the clitics a desk types around a word (و and, ف so, ب with, ل for,
ك like, ال the) and the common suffixes (plural, dual, feminine, possessive), without
reducing the word to a root: Larkey, Ballesteros and Connell found that this beats root
stemmers for retrieval.
"""

import re
from functools import lru_cache

# Tashkeel (U+064B-U+0652, and the hamza marks U+0653-U+065F that NFKD splits off أ إ آ ؤ ئ),
# superscript alef U+0670, Quranic annotation marks, and tatweel U+0640 (a stretch, not a letter).
MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
_MARKS = re.compile(f"[{MARKS}]")
FORMS = {
    "\u0622": "\u0627",  # آ -> ا
    "\u0623": "\u0627",  # أ -> ا
    "\u0625": "\u0627",  # إ -> ا
    "\u0671": "\u0627",  # ٱ -> ا
    "\u0629": "\u0647",  # ة -> ه: حماة and حماه are one spelling
    "\u0649": "\u064a",  # ى -> ي
}
_FORMS = str.maketrans(FORMS)
# Letters of the Arabic script (not its punctuation, digits or marks): a token made of these
# is analysed as Arabic whatever the claim's language tag says.
ARABIC_LETTERS = (
    "\u0620-\u064a\u066e\u066f\u0671-\u06d3\u06d5\u06ee\u06ef\u06fa-\u06fc\u06ff"
    "\u0750-\u077f\u08a0-\u08c9"
)

# Longest first, so بال is stripped as one prefix and not as ب.
_ARTICLES = ("وال", "بال", "كال", "فال", "لل", "ال")
_ONE_LETTER = ("و", "ف", "ب", "ل", "ك")
# light10's suffixes once ة and ى are normalised (ية = يه, ة = ه), in its order, plus يا,
# so that سوريا meets سوري and سورية (Syria, Syrian), as تركيا meets تركي.
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "يا", "ه", "ي")


def normalise(text: str) -> str:
    """Arabic letters as a desk may type them, in one form: no tashkeel or tatweel, one
    alef, ة as ه, ى as ي. Other scripts pass through."""
    return _MARKS.sub("", text.translate(_FORMS))


def _strip_prefix(word: str) -> str | None:
    """The word without one leading clitic, or None when none can go."""
    for article in _ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= 2:
            return word[len(article) :]
    # One letter is a clitic only before at least three more: بلد and كتب stay whole.
    if word[0] in _ONE_LETTER and len(word) >= 4:
        return word[1:]
    return None


@lru_cache(maxsize=65536)
def light_stem(word: str) -> str:
    """A normalised Arabic word without its clitics and common suffixes.

    Prefixes are stripped one at a time until none applies. Each step depends only on the
    word left, so a word behind any clitic stems as the word alone does (وحماة as حماة,
    بالمعارضة as المعارضة as معارضة); a one-pass stripper would not, for words that begin
    with a clitic letter themselves. Suffixes are then tried once each, in light10's order,
    each only when two letters remain."""
    stripped: str | None = word
    while stripped is not None:
        word = stripped
        stripped = _strip_prefix(word)
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
    return word
