"""GET /claims?q=...: issue 14's cases on the seeded Hama claims, on both engines, and
the search column kept in step with every write (POST, PATCH, stances)."""

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.claims.models import Claim
from app.search import column
from app.stances.models import Stance
from app.sync.bulk.importer import import_lines
from tests.helpers import add_stance, captured_sql, ids, make_claim, make_source
from tests.search.seeded import CENTRAL, searched


def texts(client: TestClient, **params: Any) -> set[str]:
    response = client.get("/claims", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return {claim["text"] for claim in response.json()["items"]}


def test_a_word_finds_its_other_forms(client: TestClient, seeded: dict[str, str]) -> None:
    insurgents = {text for text, all_of_it in searched().items() if "nsurgents" in all_of_it}
    assert texts(client, q="insurgent ") == insurgents  # whole word: stemmed, not a prefix
    assert texts(client, q="INSURGENT") == insurgents


def test_the_last_word_is_a_prefix(client: TestClient, seeded: dict[str, str]) -> None:
    hama = {text for text, all_of_it in searched().items() if "Hama" in all_of_it}
    assert texts(client, q="Ham") == hama
    assert texts(client, q="Ham ") == set()


def test_q_searches_the_quotes_of_stances(client: TestClient, seeded: dict[str, str]) -> None:
    # "breached" is only in a stance's quote ("they denied that insurgents had breached
    # the city itself"), never in a claim's text.
    assert not any("breach" in text for text in seeded)
    assert texts(client, q="breached") == {CENTRAL}


def test_accents_alike_on_both_engines(client: TestClient, auth: dict[str, str]) -> None:
    make_claim(client, auth, "Trucks crossed at Cilvegözü into Idlib.")
    for q in ("Cilvegözü", "cilvegozu", "CILVEGÖZÜ"):
        assert texts(client, q=q) == {"Trucks crossed at Cilvegözü into Idlib."}


def test_a_quoted_phrase_needs_its_words_in_order(
    client: TestClient, seeded: dict[str, str]
) -> None:
    assert texts(client, q='"entered the city of Hama"') == {CENTRAL}
    assert texts(client, q='"Hama entered"') == set()


@pytest.mark.parametrize("q", ["the of and", "َُِّ", "!!! ... ???", '"" ()'])
def test_an_empty_query_answers_no_items_without_the_index(
    app: FastAPI, client: TestClient, seeded: dict[str, str], q: str
) -> None:
    for sort in ("-updated_at", "relevance"):
        with captured_sql(app.state.engine) as ran:
            response = client.get("/claims", params={"q": q, "sort": sort})
        assert (response.status_code, response.json()["items"]) == (200, [])
        statements = " ".join(statement for statement, _ in ran)
        assert ("claim_fts" in statements, "search_vector" in statements) == (False, False)


def test_a_long_repeated_letter_is_one_term_that_matches_nothing(
    client: TestClient, seeded: dict[str, str]
) -> None:
    assert texts(client, q="a" * 200) == set()
    assert texts(client, q="a" * 200, sort="relevance") == set()


def test_patch_and_stances_keep_the_search_column(client: TestClient, auth: dict[str, str]) -> None:
    source = make_source(client, auth, "Wire agency", "news_agency")["id"]
    claim = make_claim(client, auth, "Insurgents entered Hama.")["id"]
    add_stance(client, auth, claim, source, "asserts", quote="The convoy reached Salamiyah.")
    assert ids(client.get("/claims", params={"q": "salamiyah"}).json()) == [claim]
    client.patch(f"/claims/{claim}", headers=auth, json={"text": "Insurgents entered Homs."})
    assert ids(client.get("/claims", params={"q": "hama"}).json()) == []
    # The text's new terms, and the quote's still.
    assert ids(client.get("/claims", params={"q": "homs salamiyah"}).json()) == [claim]


def test_relevance_puts_the_best_match_first(client: TestClient, seeded: dict[str, str]) -> None:
    response = client.get("/claims", params={"q": "insurgents entered Hama", "sort": "relevance"})
    assert response.json()["items"][0]["text"] == CENTRAL


def test_relevance_pages_cover_every_match_once(client: TestClient, seeded: dict[str, str]) -> None:
    params = {"q": "Hama", "sort": "relevance"}
    whole = ids(client.get("/claims", params={**params, "limit": 100}).json())
    paged: list[str] = []
    after: dict[str, str] = {}
    while True:
        response = client.get("/claims", params={**params, "limit": 2, **after})
        assert response.status_code == 200, response.text
        page = response.json()
        paged += ids(page)
        if page["next_cursor"] is None:
            break
        after = {"cursor": page["next_cursor"]}
    assert paged == whole
    assert len(whole) == sum("Hama" in all_of_it for all_of_it in searched().values())


def test_relevance_needs_q(client: TestClient) -> None:
    response = client.get("/claims", params={"sort": "relevance"})
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["sort"]


def test_a_cursor_of_another_sort_is_422(client: TestClient, seeded: dict[str, str]) -> None:
    other = client.get("/claims", params={"q": "Hama", "limit": 1}).json()["next_cursor"]
    response = client.get("/claims", params={"q": "Hama", "sort": "relevance", "cursor": other})
    assert response.status_code == 422
    assert [error["code"] for error in response.json()["errors"]] == ["cursor_sort_mismatch"]
    mine = client.get("/claims", params={"q": "Hama", "sort": "relevance", "limit": 1})
    response = client.get("/claims", params={"q": "Hama", "cursor": mine.json()["next_cursor"]})
    assert response.status_code == 422


def test_a_quote_costs_record_stance_one_statement(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(client, auth, "Wire agency", "news_agency")["id"]
    claims = [make_claim(client, auth, f"Claim {n} about Hama.")["id"] for n in range(2)]
    ran = {}
    for claim, quote in zip(claims, (None, "They breached the walls."), strict=True):
        with captured_sql(app.state.engine) as statements:
            add_stance(client, auth, claim, source, "asserts", quote=quote)
        ran[quote] = [s for s, _ in statements if "search_text" in s or "claim_fts" in s]
        ran[f"{quote} count"] = len(statements)
    assert ran[None] == []
    assert [s.split(" SET ")[0] for s in ran["They breached the walls."]] == ["UPDATE claim"]
    assert ran["They breached the walls. count"] == ran["None count"] + 1


def test_every_writer_leaves_the_column_as_a_rebuild_would(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    """record_stance appends in SQL, the importer per batch, PATCH rebuilds: one column."""
    source = make_source(client, auth, "Wire agency", "news_agency")["id"]
    posted = make_claim(client, auth, "Insurgents entered Hama.")["id"]
    for quote in ("They breached the walls.", None, "وحماة سقطت"):
        add_stance(client, auth, posted, source, "asserts", quote=quote)
    lines = [
        {"type": "source", "id": "s", "name": "Wire agency", "kind": "news_agency"},
        {"type": "claim", "id": "c", "text": "Troops left Homs.", "language": "en"},
        {"type": "claim", "id": "d", "text": "Aleppo fell.", "language": "en"},
        {
            "type": "stance",
            "id": "t1",
            "claim_id": "c",
            "source_id": "s",
            "stance": "asserts",
            "quote": "Gone.",
        },
        {
            "type": "stance",
            "id": "t2",
            "claim_id": "c",
            "source_id": "s",
            "stance": "denies",
            "quote": "Not so.",
        },
    ]
    with Session(app.state.engine) as session:
        for _ in import_lines(session=session, lines=map(json.dumps, lines), batch_size=3):
            pass
    with Session(app.state.engine) as session:
        claims = session.exec(select(Claim)).all()
        rebuilt = {
            claim.id: column.search_text(
                text=claim.text,
                language=claim.language,
                quotes=session.exec(
                    select(Stance.quote).where(Stance.claim_id == claim.id).order_by(col(Stance.id))
                ).all(),
            )
            for claim in claims
        }
        stored = {claim.id: claim.search_text.strip() for claim in claims}
    assert stored == rebuilt
    assert stored[int(posted)] == "insurg enter hama breach wall حما سقطت"
