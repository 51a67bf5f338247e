"""Relevance measures over a set of queries: pure functions, no engine.

`ranked` maps each query to the claim keys a search answered, best first; `relevant` maps
it to the keys that must come first (tests/search/queries.json). Both measures are means
over the queries of `relevant`, so a query the search forgot counts as a miss.
"""

from collections.abc import Collection, Mapping, Sequence


def recall_at(
    k: int, ranked: Mapping[str, Sequence[str]], relevant: Mapping[str, Collection[str]]
) -> float:
    """Mean over queries of the share of their relevant claims found in the first k."""
    if not relevant:
        raise ValueError("no queries to evaluate")
    shares = []
    for query, wanted in relevant.items():
        top = set(ranked.get(query, ())[:k])
        shares.append(len(top & set(wanted)) / len(wanted))
    return sum(shares) / len(shares)


def mrr(ranked: Mapping[str, Sequence[str]], relevant: Mapping[str, Collection[str]]) -> float:
    """Mean reciprocal rank: 1/rank of the first relevant claim, 0 when none is found."""
    if not relevant:
        raise ValueError("no queries to evaluate")
    total = 0.0
    for query, wanted in relevant.items():
        for rank, key in enumerate(ranked.get(query, ()), start=1):
            if key in wanted:
                total += 1 / rank
                break
    return total / len(relevant)
