"""The normalized verdict scale, and how publishers' own ratings map onto it (pure, no I/O).

Fact-checkers rate on scales of their own ("Pants on Fire", "Misleading", 2 out of 5).
A verdict keeps that wording beside one of six normalized ratings, so that newsrooms
can filter across publishers.
"""

import re
from enum import StrEnum


class Rating(StrEnum):
    true = "true"
    mostly_true = "mostly_true"
    mixed = "mixed"
    mostly_false = "mostly_false"
    false = "false"
    unproven = "unproven"


# Our scale on schema.org's default 1..5 (worstRating 1 = false, bestRating 5 = true), as
# Google's fact-check guidance reads a numeric rating. `unproven` has no place on it.
BEST_RATING = 5
WORST_RATING = 1
RATING_VALUES = {
    Rating.false: 1,
    Rating.mostly_false: 2,
    Rating.mixed: 3,
    Rating.mostly_true: 4,
    Rating.true: 5,
}
DEFAULT_WORDING = {
    Rating.true: "True",
    Rating.mostly_true: "Mostly true",
    Rating.mixed: "Mixed",
    Rating.mostly_false: "Mostly false",
    Rating.false: "False",
    Rating.unproven: "Unproven",
}

# Publishers' common wordings, normalized (lower case, words separated by one space).
_WORDS: dict[str, Rating] = {
    **{word: Rating.true for word in ("true", "correct", "accurate", "verified", "confirmed")},
    **{
        word: Rating.mostly_true
        for word in ("mostly true", "mostly correct", "mostly accurate", "largely true")
    },
    **{
        word: Rating.mixed
        for word in (
            "mixed",
            "mixture",
            "half true",
            "partly true",
            "partly false",
            "partially true",
            "partially false",
            "half right",
            "true but",
        )
    },
    **{
        word: Rating.mostly_false
        for word in (
            "mostly false",
            "misleading",
            "largely false",
            "mostly incorrect",
            "exaggerated",
            "distorted",
            "missing context",
            "out of context",
        )
    },
    **{
        word: Rating.false
        for word in (
            "false",
            "incorrect",
            "inaccurate",
            "wrong",
            "fake",
            "fabricated",
            "hoax",
            "pants on fire",
            "four pinocchios",
            "altered",
            "scam",
        )
    },
    **{
        word: Rating.unproven
        for word in (
            "unproven",
            "unverified",
            "unsupported",
            "no evidence",
            "unsubstantiated",
            "unclear",
            "undetermined",
        )
    },
}
_NON_WORD = re.compile(r"[\W_]+")


def _normalized_words(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def rating_from_words(textual_rating: str | None) -> Rating | None:
    """The rating a publisher's wording names: an exact known phrase, else the longest
    known phrase it starts with ("False: the video is from 2015" -> false); else None."""
    if not textual_rating:
        return None
    words = _normalized_words(textual_rating)
    if words in _WORDS:
        return _WORDS[words]
    starts = [phrase for phrase in _WORDS if words.startswith(phrase + " ")]
    return _WORDS[max(starts, key=len)] if starts else None


def _number(value: float | str | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def rating_from_scale(
    value: float | str | None, best: float | str | None, worst: float | str | None
) -> Rating | None:
    """A numeric ratingValue placed between worstRating and bestRating (schema.org's
    defaults 1 and 5 when absent), cut into five equal bands; None when it is not numeric
    or falls outside the scale."""
    number = _number(value)
    if number is None:
        return None
    high = _number(best) if best is not None else float(BEST_RATING)
    low = _number(worst) if worst is not None else float(WORST_RATING)
    if high is None or low is None or high == low:
        return None
    position = (number - low) / (high - low)
    if not 0.0 <= position <= 1.0:
        return None
    bands = [Rating.false, Rating.mostly_false, Rating.mixed, Rating.mostly_true, Rating.true]
    return bands[min(int(position * 4 + 0.5), 4)]


def normalize_rating(
    *,
    rating_value: float | str | None,
    best_rating: float | str | None,
    worst_rating: float | str | None,
    textual_rating: str | None,
) -> Rating:
    """The scale when numeric, else the wording, else `unproven`."""
    return (
        rating_from_scale(rating_value, best_rating, worst_rating)
        or rating_from_words(textual_rating)
        or Rating.unproven
    )
