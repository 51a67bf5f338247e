"""schema.org ClaimReview JSON-LD out of GET /claims/{id} and into POST /imports/claimreview,
on SQLite and PostgreSQL, including an export -> import round trip into a fresh database."""

import copy
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.core.auth import Scope, create_key
from app.core.config import Settings
from app.events.models import Event
from app.main import create_app
from app.verdicts.claimreview import CLAIMREVIEW_EXAMPLE
from app.verdicts.rating import Rating, normalize_rating
from tests.conftest import _postgres_database
from tests.helpers import add_stance, make_claim, make_source

LD = {"Accept": "application/ld+json"}
SCHEMA_ORG = "https://schema.org"

# What Google's fact-check markup requires of a ClaimReview and its Rating.
GOOGLE_REQUIRED = {
    "ClaimReview": {"claimReviewed", "reviewRating", "url"},
    "Rating": {"alternateName"},
}
# What it recommends, checked too since we fill each of them.
GOOGLE_RECOMMENDED = {
    "ClaimReview": {"author", "datePublished", "itemReviewed"},
    "Claim": {"appearance", "author", "datePublished", "firstAppearance"},
    "Rating": {"bestRating", "ratingValue", "worstRating"},
}
# The properties of schema.org's ClaimReview, Claim, Rating, CreativeWork, Organization,
# Person and Place that we emit, with the types schema.org expects for each.
EXPECTED_TYPES: dict[str, tuple[str, ...]] = {
    "claimReviewed": ("Text",),
    "reviewRating": ("Rating",),
    "itemReviewed": ("Claim",),
    "author": ("Organization", "Person"),
    "datePublished": ("DateTime",),
    "url": ("URL",),
    "text": ("Text",),
    "inLanguage": ("Text",),
    "appearance": ("CreativeWork",),
    "firstAppearance": ("CreativeWork",),
    "contentLocation": ("Place",),
    "ratingValue": ("Number",),
    "bestRating": ("Number",),
    "worstRating": ("Number",),
    "alternateName": ("Text",),
    "ratingExplanation": ("Text",),
    "name": ("Text",),
}


def _conforms(value: Any, expected: tuple[str, ...], where: str) -> None:
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            assert item.get("@type") in expected, (where, item)
            _check_node(item, where)
        elif "Number" in expected:
            assert isinstance(item, int | float) and not isinstance(item, bool), (where, item)
        elif "DateTime" in expected:
            assert datetime.fromisoformat(item).tzinfo is not None, (where, item)
        elif "URL" in expected:
            assert isinstance(item, str) and item.startswith(("http://", "https://")), where
        else:
            assert expected == ("Text",) and isinstance(item, str) and item, (where, item)


def _check_node(node: dict[str, Any], where: str = "") -> None:
    for name, value in node.items():
        if name in ("@context", "@type", "@id"):
            continue
        assert name in EXPECTED_TYPES, f"{where}.{name} is not a property we know"
        _conforms(value, EXPECTED_TYPES[name], f"{where}.{name}")


def _rated_claim(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    """A claim asserted by two sources and denied by one, rated by a fact-checker."""
    hts = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition")
    sna = make_source(client, auth, "Abu Amsha", "individual", "Syrian opposition")
    sana = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    checker = make_source(
        client, auth, "Example Fact Check", "ngo", url="https://factcheck.example.org"
    )
    claim = make_claim(client, auth, "Syrian insurgents entered the city of Hama.", place="Hama")
    add_stance(
        client,
        auth,
        claim["id"],
        hts["id"],
        "asserts",
        stated_at="2024-12-05T08:00:00Z",
        url="https://t.me/hts/1",
    )
    add_stance(
        client,
        auth,
        claim["id"],
        sna["id"],
        "asserts",
        stated_at="2024-12-05T09:00:00Z",
        reported_via="https://wire.example/hama",
    )
    add_stance(
        client,
        auth,
        claim["id"],
        sana["id"],
        "denies",
        stated_at="2024-12-05T10:00:00Z",
        url="https://sana.example/denial",
    )
    response = client.put(
        f"/claims/{claim['id']}/verdict",
        headers=auth,
        json={
            "source_id": checker["id"],
            "rating": "mostly_false",
            "textual_rating": "Misleading",
            "explanation": "Only the eastern districts were reached.",
            "reviewed_at": "2024-12-06T10:00:00Z",
            "url": "https://factcheck.example.org/hama",
        },
    )
    assert response.status_code == 201, response.text
    return claim


def test_a_rated_claim_is_a_claimreview_google_accepts(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = _rated_claim(client, auth)
    response = client.get(f"/claims/{claim['id']}", headers=LD)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.headers["vary"] == "Accept"
    review = response.json()

    assert review["@context"] == SCHEMA_ORG
    assert review["@type"] == "ClaimReview"
    _check_node(review, "ClaimReview")
    rating, item = review["reviewRating"], review["itemReviewed"]
    assert GOOGLE_REQUIRED["ClaimReview"] | GOOGLE_RECOMMENDED["ClaimReview"] <= set(review)
    assert GOOGLE_REQUIRED["Rating"] | GOOGLE_RECOMMENDED["Rating"] <= set(rating)
    assert GOOGLE_RECOMMENDED["Claim"] <= set(item)
    assert rating["worstRating"] <= rating["ratingValue"] <= rating["bestRating"]

    assert review["claimReviewed"] == "Syrian insurgents entered the city of Hama."
    assert review["url"] == "https://factcheck.example.org/hama"
    assert review["datePublished"] == "2024-12-06T10:00:00Z"
    assert review["author"] == {
        "@type": "Organization",
        "name": "Example Fact Check",
        "url": "https://factcheck.example.org",
    }
    assert rating == {
        "@type": "Rating",
        "ratingValue": 2,
        "bestRating": 5,
        "worstRating": 1,
        "alternateName": "Misleading",
        "ratingExplanation": "Only the eastern districts were reached.",
    }
    assert item == {
        "@type": "Claim",
        "@id": f"http://testserver/claims/{claim['id']}",
        "text": "Syrian insurgents entered the city of Hama.",
        "inLanguage": "en",
        "author": [
            {"@type": "Organization", "name": "Hayat Tahrir al-Sham"},
            {"@type": "Person", "name": "Abu Amsha"},
        ],
        "datePublished": "2024-12-05T08:00:00Z",
        "firstAppearance": {"@type": "CreativeWork", "url": "https://t.me/hts/1"},
        "appearance": [
            {"@type": "CreativeWork", "url": "https://t.me/hts/1"},
            {"@type": "CreativeWork", "url": "https://wire.example/hama"},
        ],
        "contentLocation": {"@type": "Place", "name": "Hama"},
    }


def test_an_unrated_claim_is_a_claim_and_json_stays_the_default(
    client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group")
    claim = make_claim(client, auth, "Insurgents reached Kazo.")
    add_stance(client, auth, claim["id"], source["id"], "asserts", url="https://t.me/hts/2")

    document = client.get(f"/claims/{claim['id']}", headers=LD).json()
    _check_node(document, "Claim")
    assert document["@type"] == "Claim"
    assert document["appearance"] == [{"@type": "CreativeWork", "url": "https://t.me/hts/2"}]
    assert document["author"] == [{"@type": "Organization", "name": "Hayat Tahrir al-Sham"}]

    for accept in (None, "application/json", "*/*", "application/json, application/ld+json;q=0.5"):
        headers = {"Accept": accept} if accept else {}
        plain = client.get(f"/claims/{claim['id']}", headers=headers)
        assert plain.headers["content-type"] == "application/json", accept
        assert plain.headers["vary"] == "Accept"
        assert plain.json()["verdict"] is None
    preferred = client.get(
        f"/claims/{claim['id']}", headers={"Accept": "application/json;q=0.8, application/ld+json"}
    )
    assert preferred.headers["content-type"] == "application/ld+json"
    missing = client.get("/claims/999999", headers=LD)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_openapi_declares_the_jsonld_answer(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    answer = document["paths"]["/claims/{claim_id}"]["get"]["responses"]["200"]["content"]
    assert set(answer) == {"application/json", "application/ld+json"}
    operations = {
        (path, method): op["operationId"]
        for path, item in document["paths"].items()
        for method, op in item.items()
        if "verdict" in path or "imports" in path
    }
    assert operations == {
        ("/claims/{claim_id}/verdict", "get"): "get_verdict",
        ("/claims/{claim_id}/verdict", "put"): "put_verdict",
        ("/claims/{claim_id}/verdict", "delete"): "delete_verdict",
        ("/imports/claimreview", "post"): "import_claimreview",
    }


def _counts(app: FastAPI) -> dict[str, int]:
    with app.state.engine.connect() as conn:
        return {
            table: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
            for table in ("claim", "source", "verdict", "event")
        }


def test_import_creates_then_changes_nothing_on_the_second_run(
    client: TestClient, auth: dict[str, str], app: FastAPI
) -> None:
    second = copy.deepcopy(CLAIMREVIEW_EXAMPLE)
    second["claimReviewed"] = "State media said the city was not breached."
    second["reviewRating"] = {"@type": "Rating", "alternateName": "Pants on Fire!"}
    del second["datePublished"]
    documents = [CLAIMREVIEW_EXAMPLE, second]

    first = client.post("/imports/claimreview", headers=auth, json=documents)
    assert first.status_code == 200, first.text
    items = first.json()["items"]
    assert [(i["claim_created"], i["source_created"], i["verdict"]) for i in items] == [
        (True, True, "created"),
        (True, False, "created"),
    ]
    assert items[0]["source_id"] == items[1]["source_id"]
    counts = _counts(app)
    assert {k: counts[k] for k in ("claim", "source", "verdict")} == {
        "claim": 2,
        "source": 1,
        "verdict": 2,
    }

    claim = client.get(f"/claims/{items[0]['claim_id']}").json()
    assert claim["text"] == CLAIMREVIEW_EXAMPLE["claimReviewed"]
    assert claim["verdict"]["rating"] == "mostly_false"  # 2 on 1..5
    assert claim["verdict"]["textual_rating"] == "Misleading"
    assert claim["verdict"]["reviewed_at"] == "2024-12-06T00:00:00Z"
    assert claim["verdict"]["url"] == CLAIMREVIEW_EXAMPLE["url"]
    source = client.get(f"/sources/{items[0]['source_id']}").json()
    assert (source["name"], source["kind"], source["url"]) == (
        "Example Fact Check",
        "other",
        "https://factcheck.example.org",
    )
    other = client.get(f"/claims/{items[1]['claim_id']}").json()
    assert (other["verdict"]["rating"], other["verdict"]["textual_rating"]) == (
        "false",
        "Pants on Fire!",
    )
    with Session(app.state.engine) as session:
        types = [e.type for e in session.exec(select(Event).order_by(col(Event.id)))]
    assert types == ["claim.created", "verdict.published"] * 2

    again = client.post("/imports/claimreview", headers=auth, json=documents)
    assert again.status_code == 200, again.text
    assert [
        (i["claim_id"], i["claim_created"], i["source_created"], i["verdict"])
        for i in again.json()["items"]
    ] == [
        (items[0]["claim_id"], False, False, "unchanged"),
        (items[1]["claim_id"], False, False, "unchanged"),
    ]
    assert _counts(app) == counts
    assert client.get(f"/claims/{items[1]['claim_id']}").json() == other

    # A corrected rating updates the same claim's verdict.
    corrected = copy.deepcopy(CLAIMREVIEW_EXAMPLE)
    corrected["reviewRating"]["ratingValue"] = 1
    corrected["reviewRating"]["alternateName"] = "False"
    updated = client.post("/imports/claimreview", headers=auth, json=corrected).json()["items"]
    assert [(i["claim_id"], i["verdict"]) for i in updated] == [(items[0]["claim_id"], "updated")]
    assert client.get(f"/claims/{items[0]['claim_id']}/verdict").json()["rating"] == "false"


def test_bad_imports_are_problems_and_write_nothing(
    client: TestClient, auth: dict[str, str], read_auth: dict[str, str], app: FastAPI
) -> None:
    before = _counts(app)

    def without(*path: str) -> dict[str, Any]:
        document = copy.deepcopy(CLAIMREVIEW_EXAMPLE)
        node = document
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return document

    def changed(**fields: Any) -> dict[str, Any]:
        return {**copy.deepcopy(CLAIMREVIEW_EXAMPLE), **fields}

    cases: list[tuple[Any, str]] = [
        (without("claimReviewed"), "review.claimReviewed"),
        (without("reviewRating"), "review.reviewRating"),
        (without("author"), "review.author"),
        (changed(**{"@type": "Review"}), "review.@type"),
        (changed(claimReviewed="   "), "review.claimReviewed"),
        (changed(url="javascript:alert(1)"), "review.url"),
        (without("author", "name"), "review.author.0.name"),
        (changed(author=[]), "review.author"),
        (changed(datePublished="2024-12-06T10:00:00"), "review.datePublished"),
        (changed(datePublished="6 Dec 2024"), "review.datePublished"),
        ("a string", "review"),
        ([], "reviews"),
        ([CLAIMREVIEW_EXAMPLE] * 101, "reviews"),
        ([CLAIMREVIEW_EXAMPLE, without("claimReviewed")], "reviews.1.claimReviewed"),
    ]
    for body, field in cases:
        response = client.post("/imports/claimreview", headers=auth, json=body)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field], response.text
    assert client.post("/imports/claimreview", json=CLAIMREVIEW_EXAMPLE).status_code == 401
    forbidden = client.post("/imports/claimreview", headers=read_auth, json=CLAIMREVIEW_EXAMPLE)
    assert forbidden.status_code == 403
    assert _counts(app) == before


@pytest.mark.parametrize(
    ("value", "best", "worst", "words", "expected"),
    [
        (1, None, None, None, Rating.false),
        (5, None, None, "False", Rating.true),  # the number wins over the words
        ("3", "5", "1", None, Rating.mixed),
        (2, 10, 0, None, Rating.mostly_false),
        (9, 10, 0, None, Rating.true),
        (7, 10, 0, None, Rating.mostly_true),
        (11, 10, 0, "Mostly True", Rating.mostly_true),  # off the scale: the words decide
        (3, 3, 3, "Half True", Rating.mixed),
        ("n/a", None, None, "Pants on Fire", Rating.false),
        (None, None, None, "MISLEADING", Rating.mostly_false),
        (None, None, None, "False: the video is from 2015", Rating.false),
        (None, None, None, "Needs context", Rating.unproven),
        (None, None, None, None, Rating.unproven),
    ],
)
def test_publishers_ratings_map_onto_the_scale(
    value: Any, best: Any, worst: Any, words: str | None, expected: Rating
) -> None:
    assert (
        normalize_rating(
            rating_value=value, best_rating=best, worst_rating=worst, textual_rating=words
        )
        == expected
    )


@pytest.fixture
def other_client(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A second app over a second fresh database of the same engine."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "other.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        databases: Iterator[str] = iter([f"sqlite:///{path}"])
    else:
        databases = _postgres_database(template=request.getfixturevalue("postgres_template"))
    url = next(databases)
    application = create_app(Settings(database_url=url))
    key = create_key(engine=application.state.engine, scope=Scope.write)
    try:
        with TestClient(application, raise_server_exceptions=False) as test_client:
            yield test_client, {"Authorization": f"Bearer {key}"}
    finally:
        application.state.engine.dispose()
        next(databases, None)  # drops the PostgreSQL database


def test_export_then_import_into_a_fresh_database_gives_the_same_verdict(
    client: TestClient, auth: dict[str, str], other_client: tuple[TestClient, dict[str, str]]
) -> None:
    claim = _rated_claim(client, auth)
    exported = client.get(f"/claims/{claim['id']}", headers=LD).json()
    original = client.get(f"/claims/{claim['id']}").json()

    fresh, fresh_auth = other_client
    imported = fresh.post("/imports/claimreview", headers=fresh_auth, json=exported)
    assert imported.status_code == 200, imported.text
    [item] = imported.json()["items"]
    copy_of = fresh.get(f"/claims/{item['claim_id']}").json()

    assert (copy_of["text"], copy_of["language"]) == (original["text"], original["language"])
    keep = ("rating", "textual_rating", "explanation", "reviewed_at", "url")
    assert {k: copy_of["verdict"][k] for k in keep} == {k: original["verdict"][k] for k in keep}
    assert copy_of["verdict"]["source"]["name"] == original["verdict"]["source"]["name"]
    again = fresh.post("/imports/claimreview", headers=fresh_auth, json=exported).json()
    assert again["items"] == [
        {**item, "claim_created": False, "source_created": False, "verdict": "unchanged"}
    ]


def test_appearance_lists_the_reports_and_first_appearance_is_the_earliest_published(
    client: TestClient, auth: dict[str, str]
) -> None:
    hts = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition")
    sana = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    claim = make_claim(client, auth, "Syrian insurgents entered the city of Hama.")

    def report(url: str, **fields: Any) -> str:
        response = client.post("/reports", headers=auth, json={"url": url, **fields})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    later = report(
        "https://apnews.com/hama",
        title="Insurgents enter Hama",
        published_at="2024-12-05T11:21:00Z",
    )
    earlier = report("https://sana.sy/hama", published_at="2024-12-05T09:00:00Z")
    undated = report("https://t.me/hts/9")
    add_stance(
        client, auth, claim["id"], hts["id"], "asserts", report_id=later, url="https://t.me/hts/1"
    )
    add_stance(client, auth, claim["id"], sana["id"], "denies", report_id=earlier)
    other = make_source(client, auth, "SNA", "armed_group", "Syrian opposition")
    add_stance(client, auth, claim["id"], other["id"], "asserts", report_id=undated)

    document = client.get(f"/claims/{claim['id']}", headers=LD).json()
    _check_node(document, "Claim")
    assert document["firstAppearance"] == {
        "@type": "CreativeWork",
        "url": "https://sana.sy/hama",
        "datePublished": "2024-12-05T09:00:00Z",
    }
    assert document["appearance"] == [
        document["firstAppearance"],
        {
            "@type": "CreativeWork",
            "url": "https://apnews.com/hama",
            "name": "Insurgents enter Hama",
            "datePublished": "2024-12-05T11:21:00Z",
        },
        {"@type": "CreativeWork", "url": "https://t.me/hts/9"},
    ]
