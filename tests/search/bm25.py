"""A plain BM25 over the fixture archive, in Python, to check the relevance set is sane
before the engines serve it: the same analysis (app/search) and the same query semantics
(every term, phrase and the prefix must match), ranked as FTS5's bm25() ranks.

Each claim's document is its text and the quotes of its stances, analysed in the claim's
language; claims that score alike keep the archive's order.
"""

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.search.analysis import analyze
from app.search.query import SearchQuery
from tests.search.relevance import ARCHIVE, claim_key

K1 = 1.2
B = 0.75


@dataclass
class Document:
    key: str
    fields: list[list[str]]  # the text's terms, then each quote's
    counts: Counter[str]

    @property
    def length(self) -> int:
        return sum(len(terms) for terms in self.fields)


def load_archive(path: Path = ARCHIVE) -> list[Document]:
    documents: dict[str, Document] = {}
    languages: dict[str, str] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["type"] == "claim":
                languages[record["id"]] = record.get("language", "en")
                terms = analyze(record["text"], languages[record["id"]])
                documents[record["id"]] = Document(
                    claim_key(record["tags"]), [terms], Counter(terms)
                )
            elif record["type"] == "stance" and record.get("quote"):
                terms = analyze(record["quote"], languages[record["claim_id"]])
                document = documents[record["claim_id"]]
                document.fields.append(terms)
                document.counts.update(terms)
    return list(documents.values())


def _phrase_count(document: Document, phrase: tuple[str, ...]) -> int:
    n = len(phrase)
    return sum(
        1
        for terms in document.fields
        for start in range(len(terms) - n + 1)
        if tuple(terms[start : start + n]) == phrase
    )


def _part_counts(document: Document, query: SearchQuery) -> Iterator[tuple[str, int]]:
    """(a name for each part of the query, how often the document holds it)."""
    for term in query.terms:
        yield term, document.counts[term]
    for phrase in query.phrases:
        yield " ".join(phrase), _phrase_count(document, phrase)
    if query.prefix is not None:
        prefix = query.prefix
        yield prefix + "*", sum(c for t, c in document.counts.items() if t.startswith(prefix))


def rank(documents: list[Document], query: SearchQuery) -> list[str]:
    """The keys of the documents that match every part of the query, best first."""
    if query.is_empty:
        return []
    counts = [dict(_part_counts(document, query)) for document in documents]
    total = len(documents)
    average = sum(d.length for d in documents) / total
    frequency = Counter(part for c in counts for part, n in c.items() if n)
    scored = []
    for position, (document, parts) in enumerate(zip(documents, counts, strict=True)):
        if not all(parts.values()):
            continue
        norm = K1 * (1 - B + B * document.length / average)
        score = sum(
            math.log(1 + (total - frequency[part] + 0.5) / (frequency[part] + 0.5))
            * n
            * (K1 + 1)
            / (n + norm)
            for part, n in parts.items()
        )
        scored.append((-score, position, document.key))
    return [key for _, _, key in sorted(scored)]
