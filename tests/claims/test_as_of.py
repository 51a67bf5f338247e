"""Status over time (contract v1.1): status_since, GET /claims/{id}?as_of=&known_at=,
GET /claims?as_of=, GET /claims/{id}/timeline, claim.timeline_changed, and bad times."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import add_stance, ids, make_claim, make_source, run_cli

MORNING = "2024-12-05T09:00:00Z"
DENIAL = "2024-12-05T11:21:00Z"
EVENING = "2024-12-05T18:00:00Z"


def _story(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    """Insurgents assert at 09:00; state media deny at 11:21; in the evening the army (same
    camp as state media) says its units redeployed: it asserts the city was entered."""
    rebels = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition")
    sana = make_source(client, auth, "SANA", "state_media", "Syrian government")
    army = make_source(client, auth, "Syrian Army", "government", "Syrian government")
    claim = make_claim(client, auth, "Insurgents entered Hama.", tags=["as-of-story"])
    first = add_stance(client, auth, claim["id"], rebels["id"], "asserts", stated_at=MORNING)
    denial = add_stance(client, auth, claim["id"], sana["id"], "denies", stated_at=DENIAL)
    evening = add_stance(client, auth, claim["id"], army["id"], "asserts", stated_at=EVENING)
    return {
        "claim": claim,
        "rebels": rebels,
        "sana": sana,
        "army": army,
        "stances": [first, denial, evening],
    }


def _derived(body: dict[str, Any]) -> tuple[Any, ...]:
    return (
        body["status"],
        body["asserting_sources"],
        body["denying_sources"],
        body["status_since"],
    )


def test_status_since_and_the_claim_as_of_a_stated_time(
    client: TestClient, auth: dict[str, str]
) -> None:
    story = _story(client, auth)
    claim_id = story["claim"]["id"]
    now = client.get(f"/claims/{claim_id}").json()
    assert _derived(now) == ("disputed", 2, 1, DENIAL)

    def at(as_of: str) -> dict[str, Any]:
        response = client.get(f"/claims/{claim_id}", params={"as_of": as_of})
        assert response.status_code == 200, response.text
        return response.json()

    before = at("2024-12-05T08:59:59Z")
    assert (_derived(before), before["stances"]) == (("unsourced", 0, 0, None), [])
    assert before["status_explanation"] == "unsourced: no source has taken a position on it"

    morning = at("2024-12-05T11:20:59+00:00")
    assert _derived(morning) == ("asserted", 1, 0, MORNING)
    assert [s["id"] for s in morning["stances"]] == [story["stances"][0]["id"]]

    # 12:21 in Damascus (+03:00) is 09:21 UTC: still only the insurgents.
    assert _derived(at("2024-12-05T12:20:00+03:00"))[0] == "asserted"

    denial = at(DENIAL)
    assert _derived(denial) == ("disputed", 1, 1, DENIAL)
    assert denial["status_explanation"] == (
        "disputed: asserted by 1 source (Syrian opposition), denied by 1 source (Syrian government)"
    )
    assert {s["id"] for s in denial["stances"]} == {
        story["stances"][0]["id"],
        story["stances"][1]["id"],
    }
    assert all(s["current"] for s in denial["stances"])
    # The counts moved in the evening, the status did not: status_since holds.
    assert _derived(at(EVENING)) == ("disputed", 2, 1, DENIAL)
    # Lists and detail agree on status_since now.
    listed = client.get("/claims", params={"tag": "as-of-story"}).json()["items"]
    assert [item["status_since"] for item in listed] == [DENIAL]


def test_known_at_counts_only_what_was_recorded_by_then(
    client: TestClient, auth: dict[str, str]
) -> None:
    story = _story(client, auth)
    claim_id = story["claim"]["id"]
    # What we knew once the denial was recorded, before the evening stance was.
    known_at = story["stances"][1]["created_at"]

    known = client.get(f"/claims/{claim_id}", params={"known_at": known_at}).json()
    assert _derived(known) == ("disputed", 1, 1, DENIAL)
    assert story["army"]["id"] not in {s["source_id"] for s in known["stances"]}

    both = client.get(
        f"/claims/{claim_id}", params={"known_at": known_at, "as_of": "2024-12-05T10:00:00Z"}
    ).json()
    assert _derived(both) == ("asserted", 1, 0, MORNING)

    timeline = client.get(f"/claims/{claim_id}/timeline", params={"known_at": known_at})
    assert [(p["status"], p["from"], p["to"]) for p in timeline.json()["items"]] == [
        ("asserted", MORNING, DENIAL),
        ("disputed", DENIAL, None),
    ]


def test_the_timeline_lists_periods_oldest_first_with_the_stance_that_began_each(
    client: TestClient, auth: dict[str, str]
) -> None:
    story = _story(client, auth)
    response = client.get(f"/claims/{story['claim']['id']}/timeline")
    assert response.status_code == 200, response.text
    assert response.headers["ETag"]
    items = response.json()["items"]
    assert [
        (p["status"], p["from"], p["to"], p["asserting_sources"], p["denying_sources"])
        for p in items
    ] == [
        ("asserted", MORNING, DENIAL, 1, 0),
        ("disputed", DENIAL, EVENING, 1, 1),
        ("disputed", EVENING, None, 2, 1),
    ]
    assert [p["changed_by"]["id"] for p in items] == [s["id"] for s in story["stances"]]
    assert [p["changed_by"]["source"]["name"] for p in items] == [
        "Hayat Tahrir al-Sham",
        "SANA",
        "Syrian Army",
    ]
    assert items[0]["explanation"] == (
        "asserted: asserted by 1 source (Syrian opposition), denied by none"
    )
    assert client.get("/claims/999999/timeline").status_code == 404
    empty = make_claim(client, auth, "Nothing said yet.")
    assert client.get(f"/claims/{empty['id']}/timeline").json() == {"items": []}


def test_a_back_dated_stance_rewrites_history_and_says_so(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    story = _story(client, auth)
    claim_id = story["claim"]["id"]
    with app.state.engine.connect() as conn:
        last_event = conn.execute(sa.text("SELECT max(id) FROM event")).scalar_one()
    # SANA had already denied it at 10:00: not its latest, so the present holds.
    early = add_stance(
        client, auth, claim_id, story["sana"]["id"], "denies", stated_at="2024-12-05T10:00:00Z"
    )
    assert early["current"] is False
    items = client.get(f"/claims/{claim_id}/timeline").json()["items"]
    assert [(p["status"], p["from"], p["changed_by"]["id"]) for p in items] == [
        ("asserted", MORNING, story["stances"][0]["id"]),
        ("disputed", "2024-12-05T10:00:00Z", early["id"]),
        ("disputed", EVENING, story["stances"][2]["id"]),
    ]
    body = client.get(f"/claims/{claim_id}").json()
    assert _derived(body) == ("disputed", 2, 1, "2024-12-05T10:00:00Z")
    with app.state.engine.connect() as conn:
        types = conn.execute(
            sa.text("SELECT type FROM event WHERE id > :id ORDER BY id"), {"id": last_event}
        ).scalars()
        assert list(types) == ["stance.created", "claim.timeline_changed"]

    # A stance of today that changes the present: status_changed, and no history rewritten.
    add_stance(client, auth, claim_id, story["sana"]["id"], "asserts")
    with app.state.engine.connect() as conn:
        types = conn.execute(
            sa.text("SELECT type FROM event WHERE id > :id ORDER BY id"), {"id": last_event}
        ).scalars()
        assert list(types)[2:] == ["stance.created", "claim.status_changed"]


def test_the_list_as_of_a_stated_time(client: TestClient, auth: dict[str, str]) -> None:
    story = _story(client, auth)
    other = make_claim(client, auth, "Clashes in eastern Hama.", tags=["as-of-story"])
    add_stance(client, auth, other["id"], story["sana"]["id"], "asserts", stated_at=EVENING)
    claim_id = story["claim"]["id"]

    def listed(**params: Any) -> dict[str, Any]:
        response = client.get("/claims", params={"tag": "as-of-story", **params})
        assert response.status_code == 200, response.text
        return response.json()

    ten = "2024-12-05T10:00:00Z"
    page = listed(as_of=ten)
    assert {i["id"]: _derived(i) for i in page["items"]} == {
        claim_id: ("asserted", 1, 0, MORNING),
        other["id"]: ("unsourced", 0, 0, None),
    }
    assert ids(listed(as_of=ten, status="asserted")) == [claim_id]
    assert ids(listed(as_of=ten, status="unsourced")) == [other["id"]]
    assert ids(listed(as_of=ten, status="disputed")) == []
    assert ids(listed(as_of=DENIAL, status="disputed")) == [claim_id]
    assert set(ids(listed(as_of=EVENING, status=["disputed", "asserted"]))) == {
        claim_id,
        other["id"],
    }
    # Stance-side filters as of T: what state media had denied by then.
    state_denies = {"stance": "denies", "source_kind": "state_media"}
    assert ids(listed(as_of=ten, **state_denies)) == []
    assert ids(listed(as_of=DENIAL, **state_denies)) == [claim_id]
    assert ids(listed(as_of=DENIAL, affiliation="syrian government", stance="asserts")) == []
    assert ids(listed(as_of=EVENING, source_id=story["army"]["id"])) == [claim_id]
    # SANA changes its mind on the claim later on: as of the evening it still denies.
    add_stance(client, auth, claim_id, story["sana"]["id"], "asserts")
    assert ids(listed(as_of=EVENING, **state_denies)) == [claim_id]
    assert ids(listed(**state_denies)) == []
    # Paging as of T walks every match once.
    first = listed(as_of=EVENING, limit=1)
    second = client.get(
        "/claims",
        params={"tag": "as-of-story", "as_of": EVENING, "limit": 1, "cursor": first["next_cursor"]},
    ).json()
    assert {*ids(first), *ids(second)} == {claim_id, other["id"]}
    assert second["next_cursor"] is None


def test_the_list_by_relevance_as_of_t_shows_the_fields_then(
    client: TestClient, auth: dict[str, str]
) -> None:
    """sort=relevance is a sort like the others: status, counts and status_since as of T,
    and the status filter as of T matches each claim once."""
    story = _story(client, auth)
    claim_id = story["claim"]["id"]

    def ranked(**params: Any) -> list[dict[str, Any]]:
        query = {"q": "insurgents", "sort": "relevance", **params}
        response = client.get("/claims", params=query)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    [present] = ranked()
    assert _derived(present) == ("disputed", 2, 1, DENIAL)
    [noon] = ranked(as_of="2024-12-05T12:00:00Z")  # before the army's assertion
    assert _derived(noon) == ("disputed", 1, 1, DENIAL)
    [before] = ranked(as_of="2024-12-05T08:00:00Z")
    assert _derived(before) == ("unsourced", 0, 0, None)
    [ten] = ranked(as_of="2024-12-05T10:00:00Z", status="asserted")
    assert (ten["id"], _derived(ten)) == (claim_id, ("asserted", 1, 0, MORNING))
    assert [i["id"] for i in ranked(as_of="2024-12-05T08:00:00Z", status="unsourced")] == [claim_id]
    assert ranked(as_of="2024-12-05T08:00:00Z", status="asserted") == []
    assert [_derived(i) for i in ranked(as_of=EVENING, status="disputed")] == [
        ("disputed", 2, 1, DENIAL)
    ]


@pytest.mark.parametrize(
    "value",
    [
        "2024-12-05T11:21:00",  # no offset
        "2024-12-05",
        "yesterday",
        "9999-12-31T23:59:59-23:59",  # past the calendar's end in UTC
        "0001-01-01T00:00:00+23:59",  # before its start
        "2024-13-05T11:21:00Z",
    ],
)
def test_bad_times_are_422_naming_the_parameter(
    client: TestClient, auth: dict[str, str], value: str
) -> None:
    claim = make_claim(client, auth)
    for path, name in [
        (f"/claims/{claim['id']}", "as_of"),
        (f"/claims/{claim['id']}", "known_at"),
        (f"/claims/{claim['id']}/timeline", "known_at"),
        ("/claims", "as_of"),
    ]:
        response = client.get(path, params={name: value})
        assert response.status_code == 422, (path, name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [name], response.text


def _check_finds_then_repairs(database_url: str, tmp_path: Path, mismatch: str) -> None:
    """`claims-api check` reports exactly this one mismatch, and `--repair` mends it."""
    found = run_cli(database_url, tmp_path, "check")
    assert (found.returncode, found.stdout) == (1, f"{mismatch}\n1 mismatch(es) found\n")
    repaired = run_cli(database_url, tmp_path, "check", "--repair")
    assert repaired.stdout.splitlines()[-1] == "0 mismatch(es) remain"


def test_check_verifies_and_repairs_the_periods(
    app: FastAPI, client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    story = _story(client, auth)
    claim_id = story["claim"]["id"]
    before = client.get(f"/claims/{claim_id}/timeline").json()
    assert run_cli(database_url, tmp_path, "check").stdout == "0 mismatch(es) found\n"
    with app.state.engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM claim_status_period WHERE claim_id = :id AND valid_to IS NULL"),
            {"id": int(claim_id)},
        )
    _check_finds_then_repairs(
        database_url,
        tmp_path,
        f"claim {claim_id}: status periods (or status_since) differ from the replay of its stances",
    )
    assert client.get(f"/claims/{claim_id}/timeline").json() == before
    listed = client.get("/claims", params={"as_of": EVENING, "status": "disputed"}).json()
    assert ids(listed) == [claim_id]


def test_an_affiliation_change_re_derives_the_whole_timeline(
    client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    story = _story(client, auth)
    claim_id = story["claim"]["id"]
    # Another claim, corroborated at 10:00 by two camps, then denied by SANA.
    other = make_claim(client, auth, "Insurgents took the airport.")["id"]
    add_stance(client, auth, other, story["rebels"]["id"], "asserts", stated_at=MORNING)
    add_stance(
        client, auth, other, story["army"]["id"], "asserts", stated_at="2024-12-05T10:00:00Z"
    )
    add_stance(client, auth, other, story["sana"]["id"], "denies", stated_at=EVENING)

    def listed(status: str) -> list[str]:
        params = {"as_of": "2024-12-05T10:30:00Z", "status": status}
        return ids(client.get("/claims", params=params).json())

    assert listed("corroborated") == [other]
    # The army joins the opposition's camp: at 10:30 one camp asserted it, in the stored
    # periods the list reads as well as in the replay.
    changed = client.patch(
        f"/sources/{story['army']['id']}", headers=auth, json={"affiliation": "Syrian opposition"}
    )
    assert changed.status_code == 200, changed.text
    assert (listed("corroborated"), listed("asserted")) == ([], [other, claim_id])
    # The army leaves every camp: in the evening two camps assert the first claim.
    changed = client.patch(
        f"/sources/{story['army']['id']}", headers=auth, json={"affiliation": None}
    )
    assert changed.status_code == 200, changed.text
    items = client.get(f"/claims/{claim_id}/timeline").json()["items"]
    assert [(p["status"], p["from"]) for p in items] == [
        ("asserted", MORNING),
        ("disputed", DENIAL),
        ("disputed", EVENING),
    ]
    assert items[2]["explanation"] == (
        "disputed: asserted by 2 sources (Syrian Army, unaffiliated; Syrian opposition), "
        "denied by 1 source (Syrian government)"
    )
    # A back-dated assertion of the army, now its own camp: corroborated before the denial,
    # and the evening stance no longer changes the counts (merged into one period).
    add_stance(
        client, auth, claim_id, story["army"]["id"], "asserts", stated_at="2024-12-05T09:30:00Z"
    )
    statuses = [p["status"] for p in client.get(f"/claims/{claim_id}/timeline").json()["items"]]
    assert statuses == ["asserted", "corroborated", "disputed"]
    assert run_cli(database_url, tmp_path, "check").stdout == "0 mismatch(es) found\n"


def test_csv_lists_as_of_and_json_ld_stays_the_present(
    client: TestClient, auth: dict[str, str]
) -> None:
    story = _story(client, auth)
    claim_id = story["claim"]["id"]
    response = client.get(
        "/claims",
        params={"tag": "as-of-story", "as_of": "2024-12-05T10:00:00Z"},
        headers={"Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    header, row = [line.split(",") for line in response.text.strip().split("\r\n")]
    fields = dict(zip(header, row, strict=True))
    assert (fields["id"], fields["status"], fields["asserting_sources"]) == (
        claim_id,
        "asserted",
        "1",
    )
    assert fields["status_since"] == MORNING
    linked = client.get(
        f"/claims/{claim_id}",
        params={"as_of": "2024-12-05T10:00:00Z"},
        headers={"Accept": "application/ld+json"},
    )
    present = client.get(f"/claims/{claim_id}", headers={"Accept": "application/ld+json"})
    assert (linked.status_code, linked.content) == (200, present.content)


def test_check_finds_and_repairs_a_stale_copy_of_the_claims_times_on_its_periods(
    app: FastAPI, client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """The as-of lists walk the periods in their claim's order: a period whose copy of the
    claim's updated_at is stale would list the claim out of place."""
    story = _story(client, auth)
    claim_id = story["claim"]["id"]
    listed = client.get("/claims", params={"as_of": EVENING, "status": "disputed"}).json()
    with app.state.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE claim_status_period SET claim_updated_at = :then WHERE claim_id = :id"),
            {"id": int(claim_id), "then": datetime(2001, 1, 1, tzinfo=UTC)},
        )
    _check_finds_then_repairs(
        database_url,
        tmp_path,
        f"claim {claim_id}: its status periods' copy of its created_at / updated_at is stale",
    )
    assert run_cli(database_url, tmp_path, "check").stdout == "0 mismatch(es) found\n"
    again = client.get("/claims", params={"as_of": EVENING, "status": "disputed"}).json()
    assert again["items"] == listed["items"]
