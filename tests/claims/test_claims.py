"""Claims over HTTP: create, read, update, delete, and status kept on write."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import add_stance, captured_sql, make_claim, make_source


def test_create_claim_returns_201_location_and_defaults(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post("/claims", headers=auth, json={"text": "Insurgents entered Hama."})
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/claims/{body['id']}"
    assert isinstance(body["id"], str)
    defaults = {
        "text": "Insurgents entered Hama.",
        "language": "en",
        "place": None,
        "occurred_at": None,
        "tags": [],
        "status": "unsourced",
        "asserting_sources": 0,
        "denying_sources": 0,
        "stances": [],
    }
    assert {k: body[k] for k in defaults} == defaults
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")
    assert client.get(response.headers["location"]).json() == body


def test_arabic_text_round_trips_exactly(client: TestClient, auth: dict[str, str]) -> None:
    text = "دخلت فصائل المعارضة السورية مدينة حماة\u200f — «بيان»"
    claim = make_claim(client, auth, text, language="AR", place="حماة", tags=["سوريا"])
    fetched = client.get(f"/claims/{claim['id']}").json()
    assert (fetched["text"], fetched["language"], fetched["place"], fetched["tags"]) == (
        text,
        "ar",
        "حماة",
        ["سوريا"],
    )


def test_status_follows_current_stances(client: TestClient, auth: dict[str, str]) -> None:
    hts = make_source(client, auth, "Hayat Tahrir al-Sham", "armed_group", "Syrian opposition")
    sna = make_source(client, auth, "Syrian National Army", "armed_group", "Syrian opposition")
    state = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    wire = make_source(client, auth, "Wire agency", "news_agency")
    claim = make_claim(client, auth)
    cid = claim["id"]

    def status() -> tuple[str, int, int]:
        body = client.get(f"/claims/{cid}").json()
        return body["status"], body["asserting_sources"], body["denying_sources"]

    add_stance(client, auth, cid, hts["id"], "asserts")
    assert status() == ("asserted", 1, 0)
    add_stance(client, auth, cid, sna["id"], "asserts")
    assert status() == ("asserted", 2, 0)
    add_stance(client, auth, cid, wire["id"], "asserts")
    assert status() == ("corroborated", 3, 0)
    add_stance(client, auth, cid, state["id"], "denies")
    assert status() == ("disputed", 3, 1)
    body = client.get(f"/claims/{cid}").json()
    assert body["status_explanation"] == (
        "disputed: asserted by 3 sources (Syrian opposition; Wire agency, unaffiliated), "
        "denied by 1 source (Syrian government)"
    )
    assert {(s["source"]["name"], s["stance"], s["current"]) for s in body["stances"]} == {
        ("Hayat Tahrir al-Sham", "asserts", True),
        ("Syrian National Army", "asserts", True),
        ("Wire agency", "asserts", True),
        ("Syrian state media", "denies", True),
    }
    assert body["stances"][0]["source"] == {
        "id": body["stances"][0]["source_id"],
        "name": body["stances"][0]["source"]["name"],
        "kind": body["stances"][0]["source"]["kind"],
        "affiliation": body["stances"][0]["source"]["affiliation"],
    }


def test_a_newer_stance_supersedes_and_history_is_kept(
    client: TestClient, auth: dict[str, str]
) -> None:
    state = make_source(client, auth, "Syrian army", "government", "Syrian government")
    claim = make_claim(client, auth)
    cid = claim["id"]
    denial = add_stance(client, auth, cid, state["id"], "denies", stated_at="2024-12-05T09:00:00Z")
    assert client.get(f"/claims/{cid}").json()["status"] == "denied"
    admission = add_stance(
        client, auth, cid, state["id"], "asserts", stated_at="2024-12-05T17:00:00Z"
    )
    assert admission["current"] is True
    body = client.get(f"/claims/{cid}").json()
    assert (body["status"], body["asserting_sources"], body["denying_sources"]) == (
        "asserted",
        1,
        0,
    )
    history = client.get(f"/claims/{cid}/stances").json()
    assert [(s["id"], s["current"]) for s in history["items"]] == [
        (admission["id"], True),
        (denial["id"], False),
    ]


def test_a_backdated_stance_is_history_not_current(
    client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(client, auth, "Monitor", "monitor")
    cid = make_claim(client, auth)["id"]
    add_stance(client, auth, cid, source["id"], "asserts", stated_at="2024-12-05T12:00:00Z")
    late_report = add_stance(
        client, auth, cid, source["id"], "denies", stated_at="2024-12-04T12:00:00Z"
    )
    assert late_report["current"] is False
    assert client.get(f"/claims/{cid}").json()["status"] == "asserted"


def test_equal_stated_at_goes_to_the_later_created(
    client: TestClient, auth: dict[str, str]
) -> None:
    source = make_source(client, auth, "Monitor", "monitor")
    cid = make_claim(client, auth)["id"]
    at = "2024-12-05T12:00:00Z"
    first = add_stance(client, auth, cid, source["id"], "asserts", stated_at=at)
    second = add_stance(client, auth, cid, source["id"], "denies", stated_at=at)
    assert (first["current"], second["current"]) == (True, True)
    history = client.get(f"/claims/{cid}/stances").json()["items"]
    assert [(s["id"], s["current"]) for s in history] == [
        (second["id"], True),
        (first["id"], False),
    ]
    assert client.get(f"/claims/{cid}").json()["status"] == "denied"


def test_stance_defaults_and_fields(client: TestClient, auth: dict[str, str]) -> None:
    source = make_source(client, auth, "Monitor", "monitor")
    cid = make_claim(client, auth)["id"]
    response = client.post(
        f"/claims/{cid}/stances",
        headers=auth,
        json={
            "source_id": source["id"],
            "stance": "asserts",
            "url": "https://t.me/x/1",
            "quote": "Our forces are taking positions inside the city.",
            "reported_via": "https://apnews.com/article/x",
            "note": "via Telegram",
        },
    )
    assert response.status_code == 201
    stance = response.json()
    assert response.headers["location"] == f"/claims/{cid}/stances/{stance['id']}"
    assert stance["stated_at"] == stance["created_at"]
    assert (
        stance["claim_id"],
        stance["source_id"],
        stance["url"],
        stance["reported_via"],
        stance["note"],
    ) == (cid, source["id"], "https://t.me/x/1", "https://apnews.com/article/x", "via Telegram")
    assert client.get(response.headers["location"]).json() == stance


def test_new_stance_moves_updated_at(client: TestClient, auth: dict[str, str]) -> None:
    source = make_source(client, auth, "Monitor", "monitor")
    claim = make_claim(client, auth)
    add_stance(client, auth, claim["id"], source["id"], "asserts")
    updated = client.get(f"/claims/{claim['id']}").json()["updated_at"]
    assert updated > claim["updated_at"]
    add_stance(client, auth, claim["id"], source["id"], "asserts")  # same status, still a change
    assert client.get(f"/claims/{claim['id']}").json()["updated_at"] > updated


def test_patch_changes_only_what_is_sent(client: TestClient, auth: dict[str, str]) -> None:
    claim = make_claim(client, auth, place="Hama", tags=["syria"])
    response = client.patch(
        f"/claims/{claim['id']}",
        headers=auth,
        json={"tags": ["syria", "hama", "syria"], "occurred_at": None},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["text"], body["place"], body["tags"]) == (claim["text"], "Hama", ["syria", "hama"])
    assert body["updated_at"] > claim["updated_at"]
    unchanged = client.patch(f"/claims/{claim['id']}", headers=auth, json={"place": "Hama"})
    assert unchanged.json()["updated_at"] == body["updated_at"]
    assert client.get("/claims", params={"tag": "hama"}).json()["items"][0]["id"] == claim["id"]


def test_patch_cannot_null_required_or_set_read_only(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth)
    for body, field in (
        ({"text": None}, "text"),
        ({"status": "disputed"}, "status"),
        ({"asserting_sources": 9}, "asserting_sources"),
    ):
        response = client.patch(f"/claims/{claim['id']}", headers=auth, json=body)
        assert response.status_code == 422, body
        assert field in response.text
    assert client.get(f"/claims/{claim['id']}").json()["status"] == "unsourced"


def test_delete_claim_takes_its_stances(client: TestClient, auth: dict[str, str]) -> None:
    source = make_source(client, auth, "Monitor", "monitor")
    cid = make_claim(client, auth)["id"]
    add_stance(client, auth, cid, source["id"], "asserts")
    assert client.delete(f"/claims/{cid}", headers=auth).status_code == 204
    assert client.get(f"/claims/{cid}").status_code == 404
    assert client.get(f"/claims/{cid}/stances").status_code == 404
    assert client.get(f"/sources/{source['id']}/stances").json()["items"] == []
    assert client.delete(f"/sources/{source['id']}", headers=auth).status_code == 204
    assert client.delete(f"/claims/{cid}", headers=auth).status_code == 404


def test_ids_are_never_reused(client: TestClient, auth: dict[str, str]) -> None:
    first = make_claim(client, auth)["id"]
    client.delete(f"/claims/{first}", headers=auth)
    assert make_claim(client, auth)["id"] != first


def test_stance_on_unknown_source_is_422_and_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    claim = make_claim(client, auth)
    for source_id in ("999999", "abc", "-1"):
        response = client.post(
            f"/claims/{claim['id']}/stances",
            headers=auth,
            json={"source_id": source_id, "stance": "asserts"},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "source_id"
    assert client.get(f"/claims/{claim['id']}").json() == client.get(
        f"/claims/{claim['id']}"
    ).json() | {"updated_at": claim["updated_at"]}
    assert client.get(f"/claims/{claim['id']}/stances").json()["items"] == []


def test_stance_on_unknown_claim_is_404(client: TestClient, auth: dict[str, str]) -> None:
    source = make_source(client, auth, "Monitor", "monitor")
    response = client.post(
        "/claims/424242/stances",
        headers=auth,
        json={"source_id": source["id"], "stance": "asserts"},
    )
    assert response.status_code == 404


def test_a_claim_is_read_in_one_statement_with_its_stances_and_verdict(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    """GET /claims/{id} reads the claim, its current stances with their sources and its
    verdict with the reviewer in one statement (one snapshot, one round trip), and shows
    what the writes answered: the same body and ETag as the verdict's claim after PATCH."""
    insurgents = make_source(client, auth, "Insurgent command", affiliation="Opposition")
    state_media = make_source(client, auth, "SANA", kind="state_media")
    checker = make_source(client, auth, "Desk", kind="other")
    claim = make_claim(client, auth, "Insurgents entered Hama.")
    add_stance(
        client, auth, claim["id"], insurgents["id"], "asserts", stated_at="2024-12-05T08:00:00Z"
    )
    add_stance(
        client, auth, claim["id"], state_media["id"], "asserts", stated_at="2024-12-05T09:00:00Z"
    )
    add_stance(
        client,
        auth,
        claim["id"],
        state_media["id"],
        "denies",
        stated_at="2024-12-05T11:21:00+02:00",
    )
    verdict = {
        "rating": "mostly_false",
        "source_id": checker["id"],
        "reviewed_at": "2024-12-06T12:00:00Z",
    }
    assert client.put(f"/claims/{claim['id']}/verdict", headers=auth, json=verdict).is_success
    patched = client.patch(f"/claims/{claim['id']}", headers=auth, json={"place": "Hama"})
    assert patched.status_code == 200
    with captured_sql(app.state.engine) as ran:
        read = client.get(f"/claims/{claim['id']}")
    selects = [statement for statement, _ in ran if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects
    assert read.json() == patched.json()
    assert read.headers["etag"] == patched.headers["etag"]
    body = read.json()
    assert [(s["source"]["name"], s["stance"]) for s in body["stances"]] == [
        ("SANA", "denies"),
        ("Insurgent command", "asserts"),
    ]
    assert body["status"] == "disputed"
    assert body["verdict"]["source"] == {
        "id": checker["id"],
        "name": "Desk",
        "kind": "other",
        "affiliation": None,
    }


def test_a_claim_without_stances_or_verdict_reads_as_written(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = client.post("/claims", headers=auth, json={"text": "The army redeployed."})
    read = client.get(created.headers["location"])
    assert read.json() == created.json()
    assert read.json()["stances"] == [] and read.json()["verdict"] is None
    assert client.get("/claims/99999999").status_code == 404
    assert client.get("/claims/007x").status_code == 404
