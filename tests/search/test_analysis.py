# ruff: noqa: RUF001 (Arabic letters are this file's subject, not look-alikes)
"""The search analysis on its own table of cases: no database, no engine.

Each case of issue 14 is here as "these two texts meet" (the same terms) or "this query
becomes this MATCH / tsquery text"; the engines only compare the strings we hand them.
"""

import pytest

from app.search.analysis import (
    MAX_TERM_LENGTH,
    Similarity,
    analyze,
    fold,
    similarity,
    words_by_term,
)
from app.search.arabic import light_stem, normalise
from app.search.query import SearchQuery, parse_query, to_fts5, to_tsquery

# (what the archive says, its language, what a desk types): both sides give the same terms.
MEETS = [
    # Arabic: spelling, diacritics, clitics (issue 14).
    ("حماة", "ar", "حماه"),
    ("حماة", "ar", "حَماة"),
    ("حماة", "ar", "وحماة"),
    ("حماة", "ar", "بحماة"),
    ("حماة", "ar", "حمـــاة"),  # tatweel
    ("المعارضة", "ar", "معارضة"),
    ("بالمعارضة", "ar", "المعارضة"),
    ("والمعارضة", "ar", "معارضة"),
    ("للمعارضة", "ar", "معارضة"),
    ("المعارضة", "ar", "الْمُعَارَضَةُ"),
    ("أعلنت", "ar", "اعلنت"),
    ("إدلب", "ar", "ادلب"),
    ("آلاف", "ar", "الاف"),
    ("ٱلمدينة", "ar", "المدينة"),
    ("مستشفى", "ar", "مستشفي"),
    ("سوريا", "ar", "سورية"),
    ("الفصائل", "ar", "فصائل"),
    ("المسلحين", "ar", "مسلحون"),
    ("٢٠٢٤", "ar", "2024"),
    ("ﺣﻤﺎﺓ", "ar", "حماة"),  # presentation forms, as some PDFs paste them
    # Arabic script in a claim tagged English is analysed as Arabic.
    ("Rebels entered حماة", "en", "وحماة"),
    # English: number, tense, case, possessive.
    ("insurgents", "en", "insurgent"),
    ("Insurgents", "en", "INSURGENT"),
    ("breached", "en", "breach"),
    ("entered", "en", "entering"),
    ("Assad's forces", "en", "Assad\u2019s force"),
    # Accents, on English and on other Latin-script languages.
    ("Alépo", "en", "alepo"),
    ("Alépo", "fr", "ALEPO"),
    ("Hôpital", "fr", "hopital"),
    ("Zahiriyéh", "en", "zahiriyeh"),
    ("Straße", "de", "strasse"),
    # Stopwords are dropped on both sides.
    ("the city of Hama", "en", "city Hama"),
    ("في حماة", "ar", "وفي حماة"),
]


@pytest.mark.parametrize(("document", "language", "typed"), MEETS)
def test_what_a_desk_types_meets_the_archive(document: str, language: str, typed: str) -> None:
    terms = analyze(document, language)
    assert terms != []
    assert set(analyze(typed, language)) <= set(terms)
    query = parse_query(typed + " ", language)
    assert set(query.terms) <= set(terms)


# Texts that must stay apart: light stemming is not root stemming.
APART = [
    ("حماة", "حمص"),  # Hama, Homs
    ("بلد", "لد"),  # a one-letter clitic needs three letters behind it
    ("كتب", "تب"),
    ("وزير", "زيت"),
]


@pytest.mark.parametrize(("a", "b"), APART)
def test_different_words_stay_apart(a: str, b: str) -> None:
    assert set(analyze(a, "ar")).isdisjoint(analyze(b, "ar"))


def test_normalise_maps_the_letter_forms() -> None:
    assert normalise("\u0622\u0623\u0625\u0671") == "\u0627" * 4
    assert normalise("\u0629\u0649") == "\u0647\u064a"
    assert normalise("ح\u064e\u064b\u0652\u0670م\u0640ا") == "حما"
    assert normalise("Hama") == "Hama"
    # fold does the same to Arabic in its own passes.
    assert fold("إِدلـب آلاف ٱلمدينة حماة مستشفى") == normalise("إِدلـب آلاف ٱلمدينة حماة مستشفى")


def test_a_clitic_before_a_word_stems_as_the_word_alone() -> None:
    # Stripping is repeated on what is left, so every clitic stack ends where the word does.
    word = normalise("لبنان")
    stem = light_stem(word)
    assert {light_stem(normalise(p + "لبنان")) for p in ("ب", "و", "ول", "وب", "ف")} == {stem}


def test_english_analysis() -> None:
    assert analyze("Syrian insurgents entered the city of Hama.", "en") == [
        "syrian",
        "insurg",
        "enter",
        "citi",
        "hama",
    ]
    # Other Latin-script languages use their own Snowball stemmer, without English stopwords.
    assert analyze("les insurgés", "fr") == ["le", "insurg"]
    # An unknown language (and Arabic's Latin words) stem as English, as queries do.
    assert analyze("insurgents", "so") == analyze("insurgents", "ar") == ["insurg"]


def test_terms_are_plain_letters_and_digits() -> None:
    terms = analyze('U.S.-backed "rebels" (HTS) o\u2019clock 10:30 x_y', "en")
    assert terms == ["u", "s", "back", "rebel", "hts", "oclock", "10", "30", "x", "y"]


def test_a_long_word_is_one_bounded_term() -> None:
    assert analyze("a" * 200, "en") == ["a" * MAX_TERM_LENGTH]


def test_similarity_of_two_wordings_of_one_claim() -> None:
    mine = analyze("Insurgents have entered Hama", "en")
    theirs = analyze("Syrian insurgents entered the city of Hama", "en")
    assert similarity(mine, theirs) == Similarity(0.75, ("insurg", "enter", "hama"))
    assert similarity(mine, mine).score == 1.0
    assert similarity(mine, analyze("Aleppo airport closed", "en")) == Similarity(0.0, ())
    assert similarity([], []) == Similarity(0.0, ())
    # Weighted by rarity, sharing the rare word counts for more than sharing a common one.
    weights = {"hama": 3.0, "enter": 0.5, "syrian": 0.5}
    rare = similarity(["hama", "enter"], ["hama", "syrian"], weights)
    common = similarity(["hama", "enter"], ["enter", "syrian"], weights)
    assert (rare.score, common.score) == (2 * 3 / (3.5 + 3.5), 2 * 0.5 / (3.5 + 1))


def test_similarity_across_arabic_spellings() -> None:
    result = similarity(
        analyze("دخلت فصائل المعارضة مدينة حماة", "ar"),
        analyze("فصائل معارضة تدخل حماه", "ar"),
    )
    # ف is stripped from فصائل as the conjunction would be: alike on both sides.
    assert result.shared == ("صايل", "معارض", "حما")
    assert result.score == 2 * 3 / (5 + 4)


def test_words_by_term_shows_words_not_stems() -> None:
    assert words_by_term("Insurgents have entered Hama", "en") == {
        "insurg": "insurgents",
        "enter": "entered",
        "hama": "hama",
    }


# (typed, MATCH for FTS5, text for to_tsquery('simple', ...))
QUERIES = [
    ("insurgent", '"insurg"*', "'insurg':*"),
    ("insurgen", '"insur"*', "'insur':*"),
    ("insurgent ", '"insurg"', "'insurg'"),
    ("Ham", '"ham"*', "'ham':*"),
    ("insurgents Ham", '"insurg" AND "ham"*', "'insurg' & 'ham':*"),
    ("insurgents Hama.", '"insurg" AND "hama"', "'insurg' & 'hama'"),
    ("insurgents entered", '"insurg" AND "enter"*', "'insurg' & 'enter':*"),
    ("وحما", '"حما"*', "'حما':*"),
    ('"city of Hama"', '"citi hama"', "('citi' <-> 'hama')"),
    (
        "\u201ccity of Hama\u201d breach",
        '"citi hama" AND "breac"*',
        "('citi' <-> 'hama') & 'breac':*",
    ),
    ('"Hama" rebels', '"hama" AND "rebel"*', "'hama' & 'rebel':*"),
    ('"city of Hama', '"citi" AND "hama"*', "'citi' & 'hama':*"),
    ("Hama in", '"hama"', "'hama'"),
    ("Hama b", '"hama"', "'hama'"),
    ("insurgents insurgent ", '"insurg"', "'insurg'"),
]


@pytest.mark.parametrize(("typed", "fts5", "tsquery"), QUERIES)
def test_query_text(typed: str, fts5: str, tsquery: str) -> None:
    query = parse_query(typed, None)
    assert (to_fts5(query), to_tsquery(query)) == (fts5, tsquery)


def test_a_partly_typed_word_keeps_finding_its_stem() -> None:
    # insurgents is indexed as `insurg`: every step of typing it must still find it.
    for typed in ("ins", "insu", "insur", "insurg", "insurge", "insurgen", "insurgent"):
        prefix = parse_query(typed, "en").prefix
        assert prefix is not None
        assert "insurg".startswith(prefix), typed


@pytest.mark.parametrize(
    "typed",
    [
        '"',
        "*",
        "hama*",
        "hama:*",
        "hama & aleppo",
        "hama | aleppo",
        "!hama",
        "(hama",
        "hama)",
        "NEAR(hama aleppo)",
        "hama AND aleppo OR NOT idlib",
        "hama' & 'x",
        "hama\\",
        "-hama ^aleppo",
        "{hama}: aleppo",
    ],
)
def test_syntax_characters_are_text(typed: str) -> None:
    query = parse_query(typed, None)
    prefix = () if query.prefix is None else (query.prefix,)
    for term in (*query.terms, *(t for p in query.phrases for t in p), *prefix):
        assert term.isalnum(), term
    if not query.is_empty:
        # Every term is quoted: what is outside quotes is only our own operators.
        fts5 = to_fts5(query)
        outside = "".join(part for i, part in enumerate(fts5.split('"')) if i % 2 == 0)
        assert set(outside) <= set(" AND*")
        tsquery = to_tsquery(query)
        outside = "".join(part for i, part in enumerate(tsquery.split("'")) if i % 2 == 0)
        assert set(outside) <= set(" &:*()<->")


def test_operator_words_are_searched_as_words() -> None:
    query = parse_query("NEAR hama AND aleppo OR NOT idlib ", None)
    # and, or, not are English stopwords; near is a word like any other.
    assert query == SearchQuery(terms=("near", "hama", "aleppo", "idlib"))


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "the",
        "the of and ",
        "of the",
        "في على",
        "وفي",
        "\u064e\u064f\u0651",
        "...!?",
        '""',
        "ـــ",
        "a",
    ],
)
def test_nothing_to_search_is_an_empty_query(typed: str) -> None:
    query = parse_query(typed, None)
    assert query == SearchQuery()
    assert query.is_empty
    with pytest.raises(ValueError):
        to_fts5(query)
    with pytest.raises(ValueError):
        to_tsquery(query)


def test_a_200_letter_query_is_one_bounded_prefix() -> None:
    query = parse_query("a" * 200, None)
    assert query == SearchQuery(prefix="a" * MAX_TERM_LENGTH)
    assert parse_query("a" * 200 + " ", None) == SearchQuery(terms=("a" * MAX_TERM_LENGTH,))


def test_a_long_query_is_bounded() -> None:
    query = parse_query(" ".join(f"word{n}" for n in range(100)) + " ", None)
    assert query.terms == tuple(f"word{n}" for n in range(32))


def test_query_language_picks_the_stemmer() -> None:
    assert parse_query("hôpitaux ", "fr").terms == ("hopital",)
    assert parse_query("hôpitaux ", None).terms == ("hopitaux",)
