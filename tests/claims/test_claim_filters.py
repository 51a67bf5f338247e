"""Every filter of GET /claims, alone and combined, with the exact claims each returns.

One small world is built through the API; claims are made in order c1..c6, then stances
are recorded claim by claim, so that the `updated_at` order is known: c5 (no stance),
c1, c2, c3, c4, c6.
"""

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import add_stance, error_fields, ids, make_claim, make_source


@dataclass
class World:
    client: TestClient
    claims: dict[str, str]  # c1..c6 -> id
    sources: dict[str, str]  # hts, sna, state, army, wire -> id
    updated_at: dict[str, str]

    def get(self, **params: Any) -> list[str]:
        """The claims a query returns, named c1..c6, in the order returned."""
        response = self.client.get("/claims", params={"limit": 100, **params})
        assert response.status_code == 200, response.text
        names = {claim_id: name for name, claim_id in self.claims.items()}
        return [names[claim_id] for claim_id in ids(response.json())]


@pytest.fixture
def world(client: TestClient, auth: dict[str, str]) -> World:
    sources = {
        "hts": make_source(
            client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition"
        ),
        "sna": make_source(
            client, auth, "Syrian National Army", "armed_group", "Syrian opposition"
        ),
        "state": make_source(
            client, auth, "Syrian state media", "state_media", "Syrian government"
        ),
        "army": make_source(client, auth, "Syrian army", "government", "Syrian government"),
        "wire": make_source(client, auth, "Wire agency", "news_agency"),
    }
    s = {name: source["id"] for name, source in sources.items()}
    claims = {
        "c1": make_claim(
            client,
            auth,
            "Syrian insurgents entered the city of Hama.",
            place="Hama",
            tags=["syria", "hama"],
            occurred_at="2024-12-05T08:00:00Z",
        ),
        "c2": make_claim(
            client,
            auth,
            "Violent clashes broke out in the eastern areas of Hama.",
            place="Hama",
            tags=["syria"],
            occurred_at="2024-12-04T00:00:00Z",
        ),
        "c3": make_claim(
            client,
            auth,
            "دخلت فصائل المعارضة مدينة حماة بعد اشتباكات عنيفة",
            language="ar",
            place="حماة",
            tags=["سوريا"],
            occurred_at="2024-12-05T12:00:00Z",
        ),
        "c4": make_claim(
            client, auth, "The army withdrew its troops from Hama.", place="Hama", tags=["hama"]
        ),
        "c5": make_claim(
            client,
            auth,
            "Insurgents captured Aleppo, Syria's largest city.",
            place="Aleppo",
            tags=["aleppo"],
            occurred_at="2024-11-30T00:00:00Z",
        ),
        "c6": make_claim(client, auth, "Hama remained under government control."),
    }
    c = {name: claim["id"] for name, claim in claims.items()}
    add_stance(client, auth, c["c1"], s["hts"], "asserts")
    add_stance(client, auth, c["c1"], s["sna"], "asserts")
    add_stance(client, auth, c["c1"], s["state"], "denies")  # c1 disputed
    add_stance(client, auth, c["c2"], s["state"], "asserts")  # c2 asserted
    add_stance(client, auth, c["c3"], s["hts"], "asserts")
    add_stance(client, auth, c["c3"], s["wire"], "asserts")  # c3 corroborated
    # State media denied c4, then changed its mind: that denial is history, not current.
    add_stance(client, auth, c["c4"], s["state"], "denies", stated_at="2024-12-05T09:00:00Z")
    add_stance(client, auth, c["c4"], s["state"], "asserts", stated_at="2024-12-05T10:00:00Z")
    add_stance(client, auth, c["c4"], s["army"], "denies")  # c4 disputed
    add_stance(client, auth, c["c6"], s["wire"], "denies")  # c6 denied; c5 unsourced
    updated = {name: client.get(f"/claims/{cid}").json()["updated_at"] for name, cid in c.items()}
    return World(client, c, s, updated)


Cases = list[tuple[dict[str, Any], list[str]]]


def check(world: World, cases: Cases) -> None:
    """Each query's answer, compared all at once so that a failure shows every mismatch."""
    assert [(params, world.get(**params)) for params, _ in cases] == cases


def test_the_world_is_as_described(world: World) -> None:
    statuses = {
        name: world.client.get(f"/claims/{cid}").json()["status"]
        for name, cid in world.claims.items()
    }
    assert statuses == {
        "c1": "disputed",
        "c2": "asserted",
        "c3": "corroborated",
        "c4": "disputed",
        "c5": "unsourced",
        "c6": "denied",
    }
    order = sorted(world.updated_at, key=lambda name: world.updated_at[name])
    assert order == ["c5", "c1", "c2", "c3", "c4", "c6"]


def test_the_four_sort_orders(world: World) -> None:
    check(
        world,
        [
            ({}, ["c6", "c4", "c3", "c2", "c1", "c5"]),
            ({"sort": "-updated_at"}, ["c6", "c4", "c3", "c2", "c1", "c5"]),
            ({"sort": "updated_at"}, ["c5", "c1", "c2", "c3", "c4", "c6"]),
            ({"sort": "-created_at"}, ["c6", "c5", "c4", "c3", "c2", "c1"]),
            ({"sort": "created_at"}, ["c1", "c2", "c3", "c4", "c5", "c6"]),
        ],
    )


def test_status_filter_repeated_is_or(world: World) -> None:
    check(
        world,
        [
            ({"status": "disputed"}, ["c4", "c1"]),
            ({"status": "asserted"}, ["c2"]),
            ({"status": "corroborated"}, ["c3"]),
            ({"status": "denied"}, ["c6"]),
            ({"status": "unsourced"}, ["c5"]),
            ({"status": ["disputed", "denied"]}, ["c6", "c4", "c1"]),
            ({"status": ["disputed", "disputed"]}, ["c4", "c1"]),
            ({"status": "disputed", "sort": "created_at"}, ["c1", "c4"]),
        ],
    )


def test_current_stance_filters_match_one_current_stance_together(world: World) -> None:
    check(
        world,
        [
            # Alone: any current stance of that kind, each claim once however many match.
            ({"stance": "asserts"}, ["c4", "c3", "c2", "c1"]),
            ({"stance": "denies"}, ["c6", "c4", "c1"]),
            ({"stance": ["asserts", "denies"]}, ["c6", "c4", "c3", "c2", "c1"]),
            ({"source_kind": "armed_group"}, ["c3", "c1"]),
            ({"source_kind": "state_media"}, ["c4", "c2", "c1"]),
            ({"source_kind": ["news_agency", "government"]}, ["c6", "c4", "c3"]),
            ({"source_kind": "ngo"}, []),
            ({"affiliation": "Syrian opposition"}, ["c3", "c1"]),
            ({"affiliation": "  SYRIAN Opposition "}, ["c3", "c1"]),
            ({"affiliation": ["Syrian government", "nobody"]}, ["c4", "c2", "c1"]),
            # Together they must hold for ONE current stance.
            ({"stance": "denies", "source_kind": "state_media"}, ["c1"]),  # c4's is superseded
            ({"stance": "asserts", "source_kind": "state_media"}, ["c4", "c2"]),
            ({"stance": "denies", "source_kind": "armed_group"}, []),
            ({"stance": "denies", "affiliation": "Syrian opposition"}, []),
            ({"stance": "asserts", "affiliation": "syrian government"}, ["c4", "c2"]),
            ({"stance": "denies", "source_kind": ["state_media", "government"]}, ["c4", "c1"]),
            ({"stance": "asserts", "source_kind": "news_agency"}, ["c3"]),
            ({"source_kind": "armed_group", "affiliation": "Syrian government"}, []),
            (
                {
                    "stance": "denies",
                    "source_kind": "state_media",
                    "affiliation": "Syrian government",
                },
                ["c1"],
            ),
        ],
    )


def test_source_id_filter(world: World) -> None:
    s = world.sources
    check(
        world,
        [
            ({"source_id": s["state"]}, ["c4", "c2", "c1"]),
            ({"source_id": s["state"], "stance": "denies"}, ["c1"]),
            ({"source_id": s["state"], "stance": "asserts"}, ["c4", "c2"]),
            ({"source_id": [s["hts"], s["wire"]]}, ["c6", "c3", "c1"]),
            ({"source_id": [s["hts"], s["wire"]], "stance": "denies"}, ["c6"]),
            ({"source_id": s["wire"], "source_kind": "armed_group"}, []),
            ({"source_id": s["army"], "affiliation": "Syrian government"}, ["c4"]),
            ({"source_id": "999999"}, []),
            ({"source_id": "abc"}, []),
            ({"source_id": "-1"}, []),
            ({"source_id": "9" * 30}, []),
        ],
    )


HAMA = ["c6", "c4", "c2", "c1"]


def test_full_text_search_in_english_and_arabic(world: World) -> None:
    check(
        world,
        [
            ({"q": "hama"}, HAMA),
            ({"q": "HAMA"}, HAMA),
            ({"q": "Hama insurgents"}, ["c1"]),
            ({"q": "insurgents"}, ["c1", "c5"]),
            ({"q": "insurgents hama aleppo"}, []),
            ({"q": "troops army"}, ["c4"]),
            ({"q": "largest"}, ["c5"]),
            ({"q": "Syria's largest"}, ["c5"]),
            ({"q": "Syria's"}, ["c1", "c5"]),  # the last word is a prefix: Syrian too
            ({"q": "حماة"}, ["c3"]),
            ({"q": "مدينة حماة"}, ["c3"]),
            ({"q": "اشتباكات عنيفة"}, ["c3"]),
            ({"q": "حما"}, ["c3"]),  # the last word is a prefix
            ({"q": "Ham"}, HAMA),
            ({"q": "Ham "}, []),  # unless the query ends in a space
            ({"q": "hama", "status": "disputed"}, ["c4", "c1"]),
        ],
    )


def test_full_text_query_syntax_is_text(world: World) -> None:
    """Neither FTS5 nor tsquery syntax is honoured: never an error, never an operator."""
    check(
        world,
        [
            ({"q": "hama OR aleppo"}, []),
            ({"q": "hama AND"}, HAMA),  # the stopwords `and` and `not`, not operators
            ({"q": "NOT hama"}, HAMA),
            ({"q": '"hama'}, HAMA),
            ({"q": "hama*"}, HAMA),
            ({"q": "-hama"}, HAMA),
            ({"q": "hama:*"}, HAMA),
            ({"q": "^hama"}, HAMA),
            ({"q": "NEAR(hama army)"}, []),
            ({"q": "text:hama"}, []),
            ({"q": "army & !hama"}, ["c4"]),
            ({"q": "army | aleppo"}, []),
            ({"q": "("}, []),
            ({"q": '"'}, []),
            ({"q": "*"}, []),
            ({"q": "'; DROP TABLE claim; --"}, []),
        ],
    )
    assert world.get() == ["c6", "c4", "c3", "c2", "c1", "c5"]


def test_full_text_search_ignores_arabic_marks(client: TestClient, auth: dict[str, str]) -> None:
    voweled = make_claim(client, auth, "قَالَ المُتَحَدِّث إِنَّ القُوَّات انسحبت", language="ar")["id"]
    plain = make_claim(client, auth, "قال المتحدث إن القوات انسحبت", language="ar")["id"]
    for q in ("المُتَحَدِّث", "المتحدث"):
        assert ids(client.get("/claims", params={"q": q}).json()) == [plain, voweled]


def test_full_text_search_follows_text_changes_and_deletes(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth, "Insurgents entered Hama.")["id"]
    client.patch(f"/claims/{claim}", headers=auth, json={"text": "Insurgents entered Homs."})
    assert ids(client.get("/claims", params={"q": "hama"}).json()) == []
    assert ids(client.get("/claims", params={"q": "homs"}).json()) == [claim]
    client.delete(f"/claims/{claim}", headers=auth)
    assert ids(client.get("/claims", params={"q": "homs"}).json()) == []


def test_tag_place_and_language_are_exact(world: World) -> None:
    check(
        world,
        [
            ({"tag": "hama"}, ["c4", "c1"]),
            ({"tag": "syria"}, ["c2", "c1"]),
            ({"tag": ["hama", "aleppo"]}, ["c4", "c1", "c5"]),
            ({"tag": ["hama", "syria"]}, ["c4", "c2", "c1"]),
            ({"tag": "سوريا"}, ["c3"]),
            ({"tag": "Hama"}, []),
            ({"tag": "ham"}, []),
            ({"place": "Hama"}, ["c4", "c2", "c1"]),
            ({"place": "hama"}, []),
            ({"place": ["Hama", "Aleppo"]}, ["c4", "c2", "c1", "c5"]),
            ({"place": "حماة"}, ["c3"]),
            ({"language": "ar"}, ["c3"]),
            ({"language": "en"}, ["c6", "c4", "c2", "c1", "c5"]),
            ({"language": ["ar", "en"]}, ["c6", "c4", "c3", "c2", "c1", "c5"]),
            ({"language": "fr"}, []),
        ],
    )


def test_occurred_range_is_inclusive_and_skips_undated(world: World) -> None:
    check(
        world,
        [
            ({"occurred_from": "2024-12-05T08:00:00Z"}, ["c3", "c1"]),
            ({"occurred_from": "2024-12-05T08:00:00.000001Z"}, ["c3"]),
            ({"occurred_from": "2024-12-05T10:00:00+02:00"}, ["c3", "c1"]),
            ({"occurred_to": "2024-12-05T08:00:00Z"}, ["c2", "c1", "c5"]),
            ({"occurred_to": "2024-12-03T23:59:59Z"}, ["c5"]),
            (
                {"occurred_from": "2024-12-04T00:00:00Z", "occurred_to": "2024-12-05T08:00:00Z"},
                ["c2", "c1"],
            ),
            (
                {"occurred_from": "2024-12-06T00:00:00Z", "occurred_to": "2024-12-01T00:00:00Z"},
                [],
            ),
        ],
    )


def test_updated_since_is_at_or_after(world: World) -> None:
    at = world.updated_at
    check(
        world,
        [
            ({"updated_since": at["c3"]}, ["c6", "c4", "c3"]),
            ({"updated_since": at["c6"]}, ["c6"]),
            (
                {"updated_since": at["c5"], "sort": "updated_at"},
                ["c5", "c1", "c2", "c3", "c4", "c6"],
            ),
            ({"updated_since": "2999-01-01T00:00:00Z"}, []),
        ],
    )


def test_filters_combine_with_and(world: World) -> None:
    check(
        world,
        [
            ({"status": "disputed", "tag": "hama", "place": "Hama", "q": "army"}, ["c4"]),
            ({"status": ["disputed", "asserted"], "tag": "syria"}, ["c2", "c1"]),
            ({"status": "disputed", "stance": "denies", "source_kind": "state_media"}, ["c1"]),
            (
                {
                    "status": "corroborated",
                    "language": "ar",
                    "q": "حماة",
                    "source_kind": "news_agency",
                },
                ["c3"],
            ),
            (
                {"q": "hama", "occurred_from": "2024-12-04T00:00:00Z", "sort": "created_at"},
                ["c1", "c2"],
            ),
            ({"source_kind": "armed_group", "updated_since": world.updated_at["c2"]}, ["c3"]),
            ({"status": "denied", "tag": "hama"}, []),
        ],
    )


def test_a_new_stance_moves_a_claim_in_and_out_of_the_filters(
    world: World, auth: dict[str, str]
) -> None:
    client, c, s = world.client, world.claims, world.sources
    add_stance(client, auth, c["c1"], s["state"], "asserts")  # state media concedes
    assert world.get(stance="denies", source_kind="state_media") == []
    assert world.get(status="disputed") == ["c4"]
    assert world.get(status="corroborated") == ["c1", "c3"]
    assert world.get() == ["c1", "c6", "c4", "c3", "c2", "c5"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "contested"}, "status.0"),
        ({"status": ["disputed", "maybe"]}, "status.1"),
        ({"stance": "doubts"}, "stance.0"),
        ({"source_kind": "wire"}, "source_kind.0"),
        ({"sort": "text"}, "sort"),
        ({"sort": "-id"}, "sort"),
        ({"occurred_from": "yesterday"}, "occurred_from"),
        ({"occurred_to": "2024-12-05T08:00:00"}, "occurred_to"),  # naive: which zone?
        ({"updated_since": "2024-12-05"}, "updated_since"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "hama\x00"}, "q"),
        ({"status": ["disputed"] * 21}, "status"),
    ],
)
def test_bad_filters_are_422_naming_the_parameter(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/claims", params=params)
    assert error_fields(response) == {field}
    assert {e["location"] for e in response.json()["errors"]} == {"query"}
