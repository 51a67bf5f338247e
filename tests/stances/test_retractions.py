"""`retracts` over HTTP on both engines: current like any stance, counted neither way,
filterable, explained."""

from fastapi.testclient import TestClient

from tests.helpers import add_stance, ids, make_claim, make_source

# An armed group of the opposition and the government's state media: two camps.
HTS_AND_SANA = [
    ("HTS", "armed_group", "Syrian opposition"),
    ("SANA", "state_media", "Syrian government"),
]


def test_a_retraction_withdraws_the_sources_position(
    client: TestClient, auth: dict[str, str]
) -> None:
    hts, sana = (make_source(client, auth, *source) for source in HTS_AND_SANA)
    claim = make_claim(client, auth)
    add_stance(client, auth, claim["id"], hts["id"], "asserts", stated_at="2024-12-05T08:00:00Z")
    add_stance(client, auth, claim["id"], sana["id"], "denies", stated_at="2024-12-05T11:21:00Z")
    assert client.get(f"/claims/{claim['id']}").json()["status"] == "disputed"

    # With a quote: a retraction may say what is withdrawn.
    withdrawn = add_stance(
        client,
        auth,
        claim["id"],
        sana["id"],
        "retracts",
        stated_at="2024-12-05T18:00:00Z",
        quote="Army units have redeployed outside the city.",
    )
    assert (withdrawn["stance"], withdrawn["current"]) == ("retracts", True)
    detail = client.get(f"/claims/{claim['id']}").json()
    assert (detail["status"], detail["asserting_sources"], detail["denying_sources"]) == (
        "asserted",
        1,
        0,
    )
    assert detail["status_explanation"] == (
        "asserted: asserted by 1 source (Syrian opposition), denied by none; "
        "withdrawn by 1 source (Syrian government)"
    )
    assert [(s["source"]["name"], s["stance"]) for s in detail["stances"]] == [
        ("SANA", "retracts"),
        ("HTS", "asserts"),
    ]
    history = client.get(f"/claims/{claim['id']}/stances").json()["items"]
    assert [(s["stance"], s["current"]) for s in history] == [
        ("retracts", True),
        ("denies", False),
        ("asserts", True),
    ]

    add_stance(client, auth, claim["id"], hts["id"], "retracts", stated_at="2024-12-06T00:00:00Z")
    detail = client.get(f"/claims/{claim['id']}").json()
    assert (detail["status"], detail["asserting_sources"], detail["denying_sources"]) == (
        "unsourced",
        0,
        0,
    )
    assert detail["status_explanation"] == (
        "unsourced: no source holds a position on it; "
        "withdrawn by 2 sources (Syrian government; Syrian opposition)"
    )
    # An older stance does not undo the retraction.
    add_stance(client, auth, claim["id"], hts["id"], "asserts", stated_at="2024-12-05T09:00:00Z")
    assert client.get(f"/claims/{claim['id']}").json()["status"] == "unsourced"


def test_the_stance_filter_finds_current_retractions(
    client: TestClient, auth: dict[str, str]
) -> None:
    hts, sana = (make_source(client, auth, *source) for source in HTS_AND_SANA)
    withdrawn = make_claim(client, auth, "Insurgents breached Hama.")
    superseded = make_claim(client, auth, "Insurgents hold Sawaaeq.")
    other = make_claim(client, auth, "Aleppo fell.")
    for claim, source, stance, at in [
        (withdrawn, sana, "denies", "2024-12-05T08:00:00Z"),
        (withdrawn, sana, "retracts", "2024-12-05T18:00:00Z"),
        (superseded, hts, "retracts", "2024-12-05T08:00:00Z"),
        (superseded, hts, "asserts", "2024-12-05T18:00:00Z"),
    ]:
        add_stance(client, auth, claim["id"], source["id"], stance, stated_at=at)
    add_stance(client, auth, other["id"], hts["id"], "asserts")

    def listed(**params: str) -> list[str]:
        return ids(client.get("/claims", params=params).json())

    assert listed(stance="retracts") == [withdrawn["id"]]
    assert listed(stance="retracts", source_kind="state_media") == [withdrawn["id"]]
    assert listed(stance="retracts", source_kind="armed_group") == []
    assert listed(status="unsourced") == [withdrawn["id"]]
    assert set(listed(stance="asserts")) == {superseded["id"], other["id"]}
