"""The relevance measures on a hand-worked example."""

import pytest

from tests.search.evaluate import mrr, recall_at

RELEVANT = {"hama": ["c1", "c2"], "aleppo": ["c3"], "homs": ["c4"]}
RANKED = {
    "hama": ["c9", "c1", "c8", "c2"],  # both found, the first at rank 2
    "aleppo": ["c3"],  # found first
    "homs": ["c5", "c6"],  # not found
}


def test_recall_at_k() -> None:
    assert recall_at(10, RANKED, RELEVANT) == (1 + 1 + 0) / 3
    assert recall_at(3, RANKED, RELEVANT) == (0.5 + 1 + 0) / 3
    assert recall_at(1, RANKED, RELEVANT) == (0 + 1 + 0) / 3


def test_mrr() -> None:
    assert mrr(RANKED, RELEVANT) == (1 / 2 + 1 + 0) / 3


def test_a_query_without_an_answer_counts_as_a_miss() -> None:
    assert recall_at(10, {}, RELEVANT) == 0
    assert mrr({}, RELEVANT) == 0


def test_no_queries_is_an_error() -> None:
    with pytest.raises(ValueError):
        recall_at(10, RANKED, {})
    with pytest.raises(ValueError):
        mrr(RANKED, {})
