"""GET /claims?report_id= and the explanation's "known through N reports", on both engines."""

from fastapi.testclient import TestClient

from tests.helpers import add_stance, error_fields, ids, make_claim, make_source


def _report(client: TestClient, auth: dict[str, str], url: str) -> str:
    response = client.post("/reports", headers=auth, json={"url": url})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_claims_with_a_current_stance_known_through_a_report(
    client: TestClient, auth: dict[str, str]
) -> None:
    ap = _report(client, auth, "https://apnews.com/hama")
    sana_report = _report(client, auth, "https://sana.sy/hama")
    hts = make_source(client, auth, "HTS", "armed_group", "Syrian opposition")
    sana = make_source(client, auth, "SANA", "state_media", "Syrian government")
    entered = make_claim(client, auth, "Insurgents entered Hama.")
    breached = make_claim(client, auth, "Insurgents breached Hama.")
    aleppo = make_claim(client, auth, "Aleppo fell.")
    add_stance(client, auth, entered["id"], hts["id"], "asserts", report_id=ap)
    add_stance(client, auth, entered["id"], sana["id"], "denies", report_id=sana_report)
    # Known through ap once, but that stance is superseded by one without a report.
    add_stance(
        client,
        auth,
        breached["id"],
        hts["id"],
        "asserts",
        report_id=ap,
        stated_at="2024-12-05T08:00:00Z",
    )
    add_stance(client, auth, breached["id"], hts["id"], "asserts", stated_at="2024-12-05T09:00:00Z")
    add_stance(client, auth, aleppo["id"], sana["id"], "retracts", report_id=ap)

    def listed(**params: str | list[str]) -> list[str]:
        return ids(client.get("/claims", params=params).json())

    assert listed(report_id=ap) == [aleppo["id"], entered["id"]]
    assert listed(report_id=sana_report) == [entered["id"]]
    assert listed(report_id=[sana_report, ap]) == [aleppo["id"], entered["id"]]
    # One current stance must match all the stance-side filters together.
    assert listed(report_id=ap, source_kind="state_media") == [aleppo["id"]]
    assert listed(report_id=ap, stance="denies") == []
    assert listed(report_id=sana_report, stance="denies") == [entered["id"]]
    assert listed(report_id=ap, status="disputed") == [entered["id"]]
    assert listed(report_id="nope") == []
    assert error_fields(client.get("/claims", params={"report_id": "x" * 41})) == {"report_id.0"}

    assert client.get(f"/claims/{entered['id']}").json()["status_explanation"] == (
        "disputed: asserted by 1 source (Syrian opposition), denied by 1 source "
        "(Syrian government); known through 2 reports"
    )
    assert client.get(f"/claims/{breached['id']}").json()["status_explanation"] == (
        "asserted: asserted by 1 source (Syrian opposition), denied by none"
    )
    assert client.get(f"/claims/{aleppo['id']}").json()["status_explanation"] == (
        "unsourced: no source holds a position on it; withdrawn by 1 source "
        "(Syrian government); known through 1 report"
    )


def test_the_explanation_over_time_counts_reports_as_the_present_does(
    client: TestClient, auth: dict[str, str]
) -> None:
    """as_of and the timeline explain a period with the reports its stances came through,
    as status_explanation does now (contract v1.1: "known through N reports")."""
    report = client.post(
        "/reports", headers=auth, json={"url": "https://example.org/hama-over-time"}
    ).json()
    claim = make_claim(client, auth)
    rebels = make_source(client, auth, "Rebels over time", affiliation="Syrian opposition")
    state = make_source(client, auth, "State over time", affiliation="Syrian government")
    add_stance(
        client, auth, claim["id"], rebels["id"], "asserts",
        stated_at="2024-12-05T09:00:00Z", report_id=report["id"],
    )  # fmt: skip
    add_stance(client, auth, claim["id"], state["id"], "denies", stated_at="2024-12-05T11:21:00Z")
    now = client.get(f"/claims/{claim['id']}").json()["status_explanation"]
    at_ten = client.get(f"/claims/{claim['id']}", params={"as_of": "2024-12-05T10:00:00Z"})
    periods = client.get(f"/claims/{claim['id']}/timeline").json()["items"]
    assert now.endswith("; known through 1 report")
    assert at_ten.json()["status_explanation"] == (
        "asserted: asserted by 1 source (Syrian opposition), denied by none; known through 1 report"
    )
    assert [p["explanation"] for p in periods] == [
        at_ten.json()["status_explanation"],
        now,
    ]
