"""The relevance set (archive.ndjson, queries.json) is well formed, and the analysis meets
issue 14's targets on it under a plain BM25 in Python (tests/search/bm25.py). The engines'
own evaluation, on SQLite and PostgreSQL, runs the same queries against the imported archive.
"""

import re

import pytest

from app.search.analysis import analyze, similarity
from app.search.arabic import ARABIC_LETTERS
from app.search.query import parse_query
from app.sync.bulk.importer import Importer
from tests.search.bm25 import load_archive, rank
from tests.search.evaluate import mrr, recall_at
from tests.search.relevance import ARCHIVE, load_queries

RECALL_AT_10 = 0.95
MRR = 0.8


def test_the_archive_is_claims_api_ndjson() -> None:
    importer = Importer()
    with ARCHIVE.open(encoding="utf-8") as lines:
        records = [importer.parse(number, line) for number, line in enumerate(lines, start=1)]
    kinds = [record.type for record in records if record is not None]
    assert (kinds.count("source"), kinds.count("claim"), kinds.count("stance")) == (14, 219, 40)


def test_every_query_names_claims_of_the_archive() -> None:
    keys = [document.key for document in load_archive()]
    assert len(keys) == len(set(keys))
    queries = load_queries()
    assert len({query.q for query in queries}) == len(queries)
    for query in queries:
        assert query.relevant, query.q
        assert set(query.relevant) <= set(keys), query.q
        assert not parse_query(query.q, query.language).is_empty, query.q


def test_the_set_is_english_and_arabic() -> None:
    queries = load_queries()
    arabic = [query for query in queries if re.search(f"[{ARABIC_LETTERS}]", query.q)]
    assert (len(queries), len(arabic)) == (72, 29)


@pytest.fixture(scope="module")
def ranked() -> dict[str, list[str]]:
    documents = load_archive()
    return {q.q: rank(documents, parse_query(q.q, q.language)) for q in load_queries()}


def test_targets_under_plain_bm25(ranked: dict[str, list[str]]) -> None:
    relevant = {q.q: q.relevant for q in load_queries()}
    assert recall_at(10, ranked, relevant) >= RECALL_AT_10
    assert mrr(ranked, relevant) >= MRR
    # Stricter than the targets, so a regression of the analysis shows here first: in
    # Python every query finds all its claims in the first 10, a relevant one first.
    misses = {
        q: ranked[q][:3]
        for q, wanted in relevant.items()
        if not set(wanted) <= set(ranked[q][:10]) or ranked[q][0] not in wanted
    }
    assert misses == {}


@pytest.mark.parametrize(
    ("text", "language", "first_two"),
    [
        # issue 14: /claims/match on this returns the seeded central claim first.
        ("Insurgents have entered Hama", "en", ["hama-entered", "hama-entered-dup"]),
        ("Rebels seized the airport of Aleppo", "en", ["aleppo-airport-dup", "aleppo-airport"]),
        ("سيطرة المعارضة على مطار حماه", "ar", ["ar-hama-airport", "ar-hama-dup"]),
    ],
)
def test_claim_matching_ranks_rewordings_first(
    text: str, language: str, first_two: list[str]
) -> None:
    mine = analyze(text, language)
    scored = sorted(
        ((similarity(mine, document.fields[0]).score, document.key) for document in load_archive()),
        key=lambda pair: -pair[0],
    )
    assert [key for _, key in scored[:2]] == first_two
