# ruff: noqa: RUF001 (Arabic letters are this file's subject, not look-alikes)
"""Properties of the analysis over any text: what the engines are handed is always safe."""

from hypothesis import given, settings
from hypothesis import strategies as st

from app.search.analysis import MAX_TERM_LENGTH, analyze
from app.search.query import parse_query, to_fts5, to_tsquery

# Any text, weighted towards what search sees: Latin with accents, Arabic with its marks,
# digits, and every character the two query languages treat as syntax.
_ALPHABET = st.sampled_from(
    list("aeiouhmsntlrAEHMéèêüçñß'’ ")
    + list("حماةالمعارضوفبلكأإآٱىءئؤ\u064e\u064f\u0650\u0651\u0652\u0640")
    + list("0123456789٠١٢٣")
    + list('"*:&|!()^-+{}[]<>.,;?\\ \t\n')
)
TEXTS = st.one_of(st.text(_ALPHABET, max_size=80), st.text(max_size=40))
LANGUAGES = st.sampled_from(["en", "ar", "fr", "de", "en-GB", "so", None])


@settings(max_examples=150, deadline=None)
@given(TEXTS, LANGUAGES)
def test_terms_are_short_plain_words(text: str, language: str | None) -> None:
    for term in analyze(text, language):
        assert term.isalnum()
        assert 1 <= len(term) <= MAX_TERM_LENGTH


@settings(max_examples=150, deadline=None)
@given(TEXTS, LANGUAGES)
def test_any_query_is_empty_or_quoted(text: str, language: str | None) -> None:
    query = parse_query(text, language)
    parts = [*query.terms, *(term for phrase in query.phrases for term in phrase)]
    if query.prefix is not None:
        parts.append(query.prefix)
        assert len(query.prefix) >= 2
    assert all(part.isalnum() for part in parts)
    assert all(len(phrase) >= 2 for phrase in query.phrases)
    if not query.is_empty:
        assert to_fts5(query).count('"') == 2 * (len(query.terms) + len(query.phrases)) + 2 * (
            query.prefix is not None
        )
        assert to_tsquery(query).count("'") == 2 * len(parts)


@settings(max_examples=100, deadline=None)
@given(TEXTS, LANGUAGES)
def test_a_document_finds_itself(text: str, language: str | None) -> None:
    # Every term of a text, typed back as a query, is a term of the text.
    terms = analyze(text, language)
    query = parse_query(text + " ", language)
    assert set(query.terms) <= set(terms)
    assert all(set(phrase) <= set(terms) for phrase in query.phrases)
