"""Sources over HTTP: create, read, list, update, delete, and what their affiliation decides."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import add_stance, error_fields, ids, make_claim, make_source, problem, walk

SOURCE_FIELDS = {
    "id",
    "name",
    "kind",
    "affiliation",
    "country",
    "url",
    "description",
    "created_at",
    "updated_at",
}
KINDS = (
    "state_media",
    "news_agency",
    "news_outlet",
    "armed_group",
    "government",
    "monitor",
    "ngo",
    "social_media",
    "individual",
    "other",
)


def everything(client: TestClient) -> dict[str, Any]:
    """All sources and claims as a client sees them: to show that a refusal changed nothing."""
    return {
        "sources": walk(client, "/sources", {"limit": 100}),
        "claims": [client.get(f"/claims/{c['id']}").json() for c in walk(client, "/claims")],
    }


def test_create_returns_201_location_and_every_field(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post(
        "/sources",
        headers=auth,
        json={
            "name": "  Syrian state media ",
            "kind": "state_media",
            "affiliation": " Syrian government ",
            "country": "sy",
            "url": "https://sana.sy/en/",
            "description": "Syria's official news agency.",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body.keys() == SOURCE_FIELDS
    assert response.headers["location"] == f"/sources/{body['id']}"
    assert {k: v for k, v in body.items() if k not in {"id", "created_at", "updated_at"}} == {
        "name": "Syrian state media",
        "kind": "state_media",
        "affiliation": "Syrian government",
        "country": "SY",
        "url": "https://sana.sy/en/",
        "description": "Syria's official news agency.",
    }
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")
    assert client.get(response.headers["location"]).json() == body


def test_optional_fields_default_to_null(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/sources", headers=auth, json={"name": "A monitor", "kind": "monitor"})
    assert response.status_code == 201
    body = response.json()
    assert (body["affiliation"], body["country"], body["url"], body["description"]) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_accepted(client: TestClient, auth: dict[str, str], kind: str) -> None:
    assert make_source(client, auth, f"Source {kind}", kind)["kind"] == kind


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "kind": "monitor"}, "name"),
        ({"name": "   ", "kind": "monitor"}, "name"),
        ({"name": "x" * 201, "kind": "monitor"}, "name"),
        ({"kind": "monitor"}, "name"),
        ({"name": "Monitor"}, "kind"),
        ({"name": "Monitor", "kind": "wire"}, "kind"),
        ({"name": "Monitor", "kind": "STATE_MEDIA"}, "kind"),
        ({"name": "Monitor", "kind": "monitor", "country": "SYR"}, "country"),
        ({"name": "Monitor", "kind": "monitor", "country": "S1"}, "country"),
        ({"name": "Monitor", "kind": "monitor", "url": "sana.sy"}, "url"),
        ({"name": "Monitor", "kind": "monitor", "url": "ftp://sana.sy"}, "url"),
        ({"name": "Monitor", "kind": "monitor", "url": "javascript:alert(1)"}, "url"),
        ({"name": "Monitor", "kind": "monitor", "affiliation": "x" * 201}, "affiliation"),
        ({"name": "Monitor", "kind": "monitor", "description": "x" * 5001}, "description"),
        ({"name": "Monitor", "kind": "monitor", "id": "7"}, "id"),
        (
            {"name": "Monitor", "kind": "monitor", "created_at": "2024-12-05T00:00:00Z"},
            "created_at",
        ),
    ],
)
def test_bad_source_is_422_naming_the_field_and_adds_nothing(
    client: TestClient, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = client.post("/sources", headers=auth, json=body)
    assert field in error_fields(response)
    assert client.get("/sources").json() == {"items": [], "next_cursor": None}


def test_name_of_200_characters_is_accepted(client: TestClient, auth: dict[str, str]) -> None:
    assert make_source(client, auth, "n" * 200)["name"] == "n" * 200


def test_names_are_unique_ignoring_case_and_spaces(
    client: TestClient, auth: dict[str, str]
) -> None:
    original = make_source(client, auth, "Syrian Observatory for Human Rights", "monitor")
    for name in ("syrian observatory for human rights", " SYRIAN OBSERVATORY FOR HUMAN RIGHTS "):
        response = client.post("/sources", headers=auth, json={"name": name, "kind": "ngo"})
        assert problem(response, 409)["type"] == "/problems/conflict"
    assert client.get("/sources").json()["items"] == [original]


def test_renaming_onto_another_name_is_409_but_recasing_ones_own_is_fine(
    client: TestClient, auth: dict[str, str]
) -> None:
    first = make_source(client, auth, "Wire agency", "news_agency")
    second = make_source(client, auth, "Monitor", "monitor")
    response = client.patch(f"/sources/{second['id']}", headers=auth, json={"name": "WIRE AGENCY"})
    problem(response, 409)
    assert client.get(f"/sources/{second['id']}").json() == second
    recased = client.patch(f"/sources/{first['id']}", headers=auth, json={"name": "WIRE Agency"})
    assert recased.status_code == 200
    assert recased.json()["name"] == "WIRE Agency"


def test_patch_changes_only_what_is_sent_and_null_clears(
    client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(
        client, auth, "Monitor", "monitor", "Syrian opposition", country="GB", url="https://a.org"
    )
    response = client.patch(
        f"/sources/{source['id']}", headers=auth, json={"country": "fr", "url": None}
    )
    assert response.status_code == 200
    body = response.json()
    assert body == source | {"country": "FR", "url": None, "updated_at": body["updated_at"]}
    assert body["updated_at"] > source["updated_at"]
    unchanged = client.patch(f"/sources/{source['id']}", headers=auth, json={"country": "FR"})
    assert unchanged.json() == body
    assert client.patch(f"/sources/{source['id']}", headers=auth, json={}).json() == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"kind": None}, "kind"),
        ({"kind": "wire"}, "kind"),
        ({"country": "Syria"}, "country"),
        ({"url": "not a url"}, "url"),
        ({"name": ""}, "name"),
        ({"id": "99"}, "id"),
    ],
)
def test_bad_patch_is_422_and_changes_nothing(
    client: TestClient, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    source = make_source(client, auth, "Monitor", "monitor", country="GB")
    assert field in error_fields(client.patch(f"/sources/{source['id']}", headers=auth, json=body))
    assert client.get(f"/sources/{source['id']}").json() == source


@pytest.mark.parametrize("source_id", ["424242", "abc", "-1", "0"])
def test_unknown_source_is_404_on_every_operation(
    client: TestClient, auth: dict[str, str], source_id: str
) -> None:
    assert problem(client.get(f"/sources/{source_id}"), 404)["type"] == "/problems/not-found"
    problem(client.patch(f"/sources/{source_id}", headers=auth, json={"kind": "ngo"}), 404)
    problem(client.delete(f"/sources/{source_id}", headers=auth), 404)
    problem(client.get(f"/sources/{source_id}/stances"), 404)


def test_list_is_ordered_by_name_ignoring_case(client: TestClient, auth: dict[str, str]) -> None:
    names = ["delta", "Alpha", "charlie", "Bravo", "échos"]
    made = {name: make_source(client, auth, name)["id"] for name in names}
    listed = client.get("/sources").json()
    assert [item["name"] for item in listed["items"]] == [
        "Alpha",
        "Bravo",
        "charlie",
        "delta",
        "échos",
    ]
    assert set(ids(listed)) == set(made.values())
    assert [s["name"] for s in walk(client, "/sources", {"limit": 2})] == [
        "Alpha",
        "Bravo",
        "charlie",
        "delta",
        "échos",
    ]


def test_kind_filter_is_exact_and_repeatable(client: TestClient, auth: dict[str, str]) -> None:
    state = make_source(client, auth, "Syrian state media", "state_media")["id"]
    hts = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group")["id"]
    sna = make_source(client, auth, "Syrian National Army", "armed_group")["id"]
    make_source(client, auth, "Wire agency", "news_agency")
    assert ids(client.get("/sources", params={"kind": "armed_group"}).json()) == [hts, sna]
    assert ids(client.get("/sources", params={"kind": ["state_media", "armed_group"]}).json()) == [
        hts,
        sna,
        state,
    ]
    assert ids(client.get("/sources", params={"kind": "ngo"}).json()) == []
    assert error_fields(client.get("/sources", params={"kind": ["ngo", "wire"]})) == {"kind.1"}


def test_q_matches_part_of_the_name_in_any_case_and_wildcards_are_text(
    client: TestClient, auth: dict[str, str]
) -> None:
    observatory = make_source(client, auth, "Syrian Observatory for Human Rights", "monitor")["id"]
    state = make_source(client, auth, "Syrian state media", "state_media")["id"]
    percent = make_source(client, auth, "100% Truth_Channel", "social_media")["id"]
    make_source(client, auth, "Wire agency", "news_agency")
    arabic = make_source(client, auth, "الوكالة العربية السورية للأنباء", "state_media")["id"]

    def q(text: str, **params: str) -> list[str]:
        return ids(client.get("/sources", params={"q": text, **params}).json())

    assert q("SYRIAN") == [observatory, state]
    assert q("observ") == [observatory]
    assert q("%") == [percent]
    assert q("_") == [percent]
    assert q("0% t") == [percent]
    assert q("s_a") == []  # `_` is a character, not a wildcard
    assert q("السورية") == [arabic]
    assert q("syrian", kind="state_media") == [state]
    assert q("nothing like it") == []
    assert "q" in error_fields(client.get("/sources", params={"q": ""}))


def test_delete_without_stances_is_204_and_the_name_is_free_again(
    client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(client, auth, "Monitor", "monitor")
    assert client.delete(f"/sources/{source['id']}", headers=auth).status_code == 204
    problem(client.get(f"/sources/{source['id']}"), 404)
    again = make_source(client, auth, "monitor", "monitor")
    assert again["id"] != source["id"]


def test_delete_with_stances_is_409_and_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    claim = make_claim(client, auth)
    add_stance(client, auth, claim["id"], source["id"], "denies")
    before = everything(client)
    body = problem(client.delete(f"/sources/{source['id']}", headers=auth), 409)
    assert body["type"] == "/problems/conflict"
    assert everything(client) == before
    assert len(client.get(f"/sources/{source['id']}/stances").json()["items"]) == 1


# Two sources of different camps, whose affiliation the tests below change.
HTS_AND_WIRE = [
    ("Hayat Tahrir al-Sham", "armed_group", "Syrian opposition"),
    ("Wire agency", "news_agency", "Wire services"),
]


def test_changing_affiliation_re_derives_the_status_of_its_claims(
    client: TestClient, auth: dict[str, str]
) -> None:
    hts, wire = (make_source(client, auth, *source) for source in HTS_AND_WIRE)
    claim = make_claim(client, auth)["id"]
    other = make_claim(client, auth, "Insurgents captured Aleppo.")["id"]
    add_stance(client, auth, claim, hts["id"], "asserts")
    add_stance(client, auth, claim, wire["id"], "asserts")
    add_stance(client, auth, other, hts["id"], "asserts")

    def state(claim_id: str) -> tuple[str, str, str]:
        body = client.get(f"/claims/{claim_id}").json()
        return body["status"], body["status_explanation"], body["updated_at"]

    status, explanation, updated = state(claim)
    assert (status, explanation) == (
        "corroborated",
        "corroborated: asserted by 2 sources (Syrian opposition; Wire services), denied by none",
    )
    other_before = client.get(f"/claims/{other}").json()

    # Sharing one camp, ignoring case and spaces: the two are no longer independent.
    response = client.patch(
        f"/sources/{wire['id']}", headers=auth, json={"affiliation": " syrian OPPOSITION "}
    )
    assert response.json()["affiliation"] == "syrian OPPOSITION"
    status, explanation, moved = state(claim)
    assert status == "asserted"
    assert explanation.startswith("asserted: asserted by 2 sources (")
    assert moved > updated
    assert client.get(f"/claims/{other}").json() == other_before  # wire said nothing on it
    assert ids(client.get("/claims", params={"status": "asserted"}).json()) == [claim, other]

    # No affiliation: a camp of its own again.
    client.patch(f"/sources/{wire['id']}", headers=auth, json={"affiliation": None})
    assert state(claim)[:2] == (
        "corroborated",
        "corroborated: asserted by 2 sources (Syrian opposition; Wire agency, unaffiliated), "
        "denied by none",
    )


def test_affiliation_change_counts_only_current_stances(
    client: TestClient, auth: dict[str, str]
) -> None:
    hts, wire = (make_source(client, auth, *source) for source in HTS_AND_WIRE)
    claim = make_claim(client, auth)["id"]
    add_stance(client, auth, claim, hts["id"], "asserts")
    add_stance(client, auth, claim, wire["id"], "asserts", stated_at="2024-12-05T09:00:00Z")
    add_stance(client, auth, claim, wire["id"], "denies", stated_at="2024-12-05T10:00:00Z")
    assert client.get(f"/claims/{claim}").json()["status"] == "disputed"
    client.patch(f"/sources/{wire['id']}", headers=auth, json={"affiliation": "Syrian opposition"})
    body = client.get(f"/claims/{claim}").json()
    assert (body["status"], body["asserting_sources"], body["denying_sources"]) == (
        "disputed",
        1,
        1,
    )


def test_source_stances_are_newest_first_across_claims(
    client: TestClient, auth: dict[str, str]
) -> None:
    state = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    other = make_source(client, auth, "Monitor", "monitor")
    hama = make_claim(client, auth)["id"]
    clashes = make_claim(client, auth, "Clashes in eastern Hama.")["id"]
    first = add_stance(client, auth, hama, state["id"], "denies", stated_at="2024-12-05T09:00:00Z")
    second = add_stance(
        client, auth, clashes, state["id"], "asserts", stated_at="2024-12-05T11:00:00Z"
    )
    backdated = add_stance(
        client, auth, hama, state["id"], "asserts", stated_at="2024-12-04T09:00:00Z"
    )
    tie = add_stance(client, auth, hama, state["id"], "asserts", stated_at="2024-12-05T11:00:00Z")
    add_stance(client, auth, hama, other["id"], "asserts")
    history = client.get(f"/sources/{state['id']}/stances").json()
    assert [(s["id"], s["claim_id"], s["current"]) for s in history["items"]] == [
        (tie["id"], hama, True),
        (second["id"], clashes, True),
        (first["id"], hama, False),
        (backdated["id"], hama, False),
    ]
    assert {s["source"]["name"] for s in history["items"]} == {"Syrian state media"}
    assert history["next_cursor"] is None
    paged = walk(client, f"/sources/{state['id']}/stances", {"limit": 1})
    assert [s["id"] for s in paged] == [tie["id"], second["id"], first["id"], backdated["id"]]
