"""The hot write path derives the status and counts in SQL (app/stances/writes.py); the rule
lives in app/stances/rules.py. Every case of the rule's table, recorded through the API on
each engine, must give the claim the status and counts the pure function gives."""

import pytest
from fastapi.testclient import TestClient

from app.stances.rules import ClaimStatus, CurrentStance, derive_status
from tests.helpers import make_claim, make_source
from tests.rules.test_status_rules import CASES


@pytest.mark.parametrize(("stances", "status", "asserting", "denying"), CASES)
def test_the_write_path_agrees_with_the_rule(
    client: TestClient,
    auth: dict[str, str],
    stances: list[CurrentStance],
    status: ClaimStatus,
    asserting: int,
    denying: int,
) -> None:
    claim = make_claim(client, auth)
    for stance in stances:
        source = make_source(client, auth, stance.source_name, affiliation=stance.affiliation)
        response = client.post(
            f"/claims/{claim['id']}/stances",
            headers=auth,
            json={"source_id": source["id"], "stance": stance.stance.value},
        )
        assert response.status_code == 201, response.text
    stored = client.get(f"/claims/{claim['id']}").json()
    derived = derive_status(stances)
    assert (stored["status"], stored["asserting_sources"], stored["denying_sources"]) == (
        derived.status.value,
        derived.asserting_sources,
        derived.denying_sources,
    )
    assert (derived.status, derived.asserting_sources, derived.denying_sources) == (
        status,
        asserting,
        denying,
    )
    assert stored["status_explanation"].startswith(f"{status.value}: ")
