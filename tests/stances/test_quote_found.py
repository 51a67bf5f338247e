"""quote_found: the pure rule on its table of cases, the SQL the stance write path asks
the database over the same table on both engines, reported_via from the report, the
recomputation when a report's text changes, and the refusals."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.reports.quotes import normalise, quote_found
from tests.helpers import add_stance, error_fields, make_claim, make_source

TEXT = (
    "On Thursday, Syrian insurgents claimed to have entered parts of the central city of "
    "Hama.\n\nWhile Syrian state media confirmed violent clashes, they denied that insurgents "
    "had breached the city itself. The city\u2019s \u201cfull control\u201d 100% under_score a/b.\n"
    "قال المتمرِّدون إنَّهم دخلوا مدينة حماة"
)
# (quote, found in TEXT)
CASES = [
    ("Syrian insurgents claimed to have entered", True),
    ("syrian INSURGENTS claimed", True),
    ("Hama.  While Syrian state media", True),  # a paragraph break is whitespace
    ("Hama. While\tSyrian", True),
    ("  entered parts  ", True),  # surrounding whitespace does not count
    ('The city\'s "full control"', True),  # straight quotes for curly ones
    ("The city\u2018s \u201ffull control\u201d", True),  # any curly form
    ("قال المتمردون إنهم دخلوا", True),  # without the harakat of the text
    ("دَخَلُوا مَدِينَةَ حَمَاة", True),  # with harakat the text lacks
    ("دخلـــوا مدينة", True),  # a tatweel
    ("100% under_score a/b", True),  # LIKE's special characters are plain text
    ("100 under_score", False),
    ("%under", False),  # unescaped, LIKE would take % for any text
    ("a_b", False),
    ("under_scorX", False),
    ("insurgents claimed to have entered Hama", False),  # not verbatim
    ("Syrian insurgents entered the city", False),
    ("Thé city", False),  # Latin accents count
    ("دخلوا مدينة دمشق", False),
    ("x" * 5000, False),
    ("", None),  # nothing to look for
    ("   ", None),
    (None, None),
]


@pytest.mark.parametrize(("quote", "found"), CASES)
def test_the_rule(quote: str | None, found: bool | None) -> None:
    assert quote_found(quote, TEXT) == found


def test_no_text_means_no_verdict() -> None:
    assert quote_found("anything", None) is None
    assert normalise(" A\u00a0 B\n") == "a b"


def _setup(client: TestClient, auth: dict[str, str], **report: Any) -> tuple[str, str, str]:
    response = client.post(
        "/reports", headers=auth, json={"url": "https://apnews.com/hama", **report}
    )
    assert response.status_code == 201, response.text
    claim = make_claim(client, auth)
    source = make_source(client, auth, "Syrian state media", "state_media", "Syrian government")
    return response.json()["id"], claim["id"], source["id"]


def test_the_write_path_agrees_with_the_rule(client: TestClient, auth: dict[str, str]) -> None:
    report_id, claim_id, source_id = _setup(client, auth, text=TEXT)
    got = []
    for quote, _ in CASES:
        body = (
            {"report_id": report_id} if quote is None else {"report_id": report_id, "quote": quote}
        )
        stance = add_stance(client, auth, claim_id, source_id, "denies", **body)
        got.append(stance["quote_found"])
        read = client.get(f"/claims/{claim_id}/stances/{stance['id']}").json()
        assert read["quote_found"] == stance["quote_found"]
    assert got == [found for _, found in CASES]


def test_reported_via_is_the_reports_url_unless_given(
    client: TestClient, auth: dict[str, str]
) -> None:
    report_id, claim_id, source_id = _setup(client, auth)
    filled = add_stance(client, auth, claim_id, source_id, "denies", report_id=report_id)
    assert (filled["report_id"], filled["reported_via"], filled["quote_found"]) == (
        report_id,
        "https://apnews.com/hama",
        None,  # the report has no text
    )
    given = add_stance(
        client,
        auth,
        claim_id,
        source_id,
        "denies",
        report_id=report_id,
        reported_via="https://kvia.com/hama",
        quote="anything",
    )
    assert (given["reported_via"], given["quote_found"]) == ("https://kvia.com/hama", None)
    plain = add_stance(client, auth, claim_id, source_id, "asserts", quote="q")
    assert (plain["report_id"], plain["reported_via"], plain["quote_found"]) == (None, None, None)


def test_a_new_text_rechecks_every_citing_quote(client: TestClient, auth: dict[str, str]) -> None:
    report_id, claim_id, source_id = _setup(client, auth, text="they denied it")
    other_claim = make_claim(client, auth, "Insurgents breached Hama.")
    first = add_stance(
        client, auth, claim_id, source_id, "denies", report_id=report_id, quote="Denied it"
    )
    second = add_stance(
        client, auth, other_claim["id"], source_id, "denies", report_id=report_id, quote="breached"
    )
    bare = add_stance(client, auth, other_claim["id"], source_id, "denies", report_id=report_id)
    assert (first["quote_found"], second["quote_found"]) == (True, False)

    def found() -> list[bool | None]:
        stances = client.get(f"/reports/{report_id}/stances").json()["items"]
        by_id = {s["id"]: s["quote_found"] for s in stances}
        return [by_id[first["id"]], by_id[second["id"]], by_id[bare["id"]]]

    patched = client.patch(
        f"/reports/{report_id}", headers=auth, json={"text": "Insurgents BREACHED the city"}
    )
    assert patched.status_code == 200, patched.text
    assert found() == [False, True, None]
    claim = client.get(f"/claims/{other_claim['id']}").json()
    assert [s["quote_found"] for s in claim["stances"]] == [None]  # the current one: bare
    client.patch(f"/reports/{report_id}", headers=auth, json={"text": None})
    assert found() == [None, None, None]
    client.patch(f"/reports/{report_id}", headers=auth, json={"text": "denied it; breached"})
    assert found() == [True, True, None]
    # A change of anything but the text keeps the verdicts.
    client.patch(f"/reports/{report_id}", headers=auth, json={"title": "Hama"})
    assert found() == [True, True, None]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # No such report; nor is a number (5) a report id: ids are strings.
        *[("report_id", report_id) for report_id in ["999999", "abc", "0", "-1", "1" * 40, 5]],
        # quote_found is read-only: the service decides it.
        ("quote_found", True),
    ],
)
def test_a_refused_field_is_422_naming_it_and_writes_nothing(
    client: TestClient, auth: dict[str, str], field: str, value: Any
) -> None:
    _, claim_id, source_id = _setup(client, auth)
    response = client.post(
        f"/claims/{claim_id}/stances",
        headers=auth,
        json={"source_id": source_id, "stance": "denies", field: value},
    )
    assert error_fields(response) == {field}
    assert client.get(f"/claims/{claim_id}/stances").json()["items"] == []
    assert client.get(f"/claims/{claim_id}").json()["status"] == "unsourced"
