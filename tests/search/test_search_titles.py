"""GET /claims?q=... finds a claim by the titles of the reports its stances cite, on both
engines, and every writer keeps those titles in the search column: a stance citing a
report, a report's new title, the bulk importer."""

import json
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.claims.models import Claim
from app.reports.models import Report
from app.search import column
from app.stances.models import Stance
from app.sync.bulk.importer import import_lines
from tests.helpers import add_stance, ids, make_claim, make_source

TITLE = "Insurgents overrun Qalaat al-Madiq"


def found(client: TestClient, q: str) -> set[str]:
    response = client.get("/claims", params={"q": q, "limit": 100})
    assert response.status_code == 200, response.text
    return set(ids(response.json()))


def make_report(client: TestClient, auth: dict[str, str], url: str, **fields: Any) -> str:
    response = client.post("/reports", headers=auth, json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def rebuilt_columns(app: FastAPI) -> dict[int, tuple[str, str]]:
    """Each claim's (stored, rebuilt) column, the rebuild read here on its own: the text,
    then each stance's quote and, at a report's first citation, its title."""
    with Session(app.state.engine) as session:
        result = {}
        for claim in session.exec(select(Claim)).all():
            rows = session.exec(
                select(Stance.quote, Stance.report_id, Report.title)
                .join(Report, col(Report.id) == col(Stance.report_id), isouter=True)
                .where(Stance.claim_id == claim.id)
                .order_by(col(Stance.id))
            ).all()
            texts = column.stance_texts(column.StanceText(*row) for row in rows)
            rebuilt = column.search_text(text=claim.text, language=claim.language, quotes=texts)
            result[claim.id] = (claim.search_text.strip(), rebuilt)  # type: ignore[index]
    return result


def test_q_finds_the_claims_whose_stances_cite_a_report_by_its_title(
    client: TestClient, auth: dict[str, str]
) -> None:
    wire = make_source(client, auth, "Wire agency", "news_agency")["id"]
    state = make_source(client, auth, "State media", "state_media")["id"]
    report = make_report(client, auth, "https://example.com/madiq", title=TITLE)
    asserted = make_claim(client, auth, "Insurgents took a hilltop fortress.")["id"]
    denied = make_claim(client, auth, "The army withdrew from the castle.")["id"]
    elsewhere = make_claim(client, auth, "Clashes near a castle in Hama.")["id"]
    add_stance(client, auth, asserted, wire, "asserts", report_id=report)
    add_stance(client, auth, denied, state, "denies", report_id=report, quote="Lies.")
    add_stance(client, auth, elsewhere, wire, "asserts", quote="The fortress held.")
    assert found(client, "madiq") == {asserted, denied}
    assert found(client, "Qalaat al-Madiq overrun") == {asserted, denied}
    assert found(client, '"overrun qalaat"') == {asserted, denied}
    # A stance of any kind: a retraction cites the report as well.
    add_stance(client, auth, elsewhere, wire, "retracts", report_id=report)
    assert found(client, "madiq") == {asserted, denied, elsewhere}
    assert found(client, "fortress madiq") == {asserted, elsewhere}


def test_a_new_title_rewrites_the_columns_of_the_claims_citing_it(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    wire = make_source(client, auth, "Wire agency", "news_agency")["id"]
    report = make_report(client, auth, "https://example.com/madiq", title=TITLE)
    other = make_report(client, auth, "https://example.com/other", title="Kafr Nabudah shelled")
    citing = make_claim(client, auth, "Insurgents took a hilltop fortress.")["id"]
    twice = make_claim(client, auth, "A fortress fell.")["id"]
    not_citing = make_claim(client, auth, "Insurgents entered Hama.")["id"]
    add_stance(client, auth, citing, wire, "asserts", report_id=report, quote="It fell.")
    add_stance(client, auth, twice, wire, "asserts", report_id=report)
    add_stance(client, auth, twice, wire, "denies", report_id=report, quote="It held.")
    add_stance(client, auth, not_citing, wire, "asserts", report_id=other)
    assert found(client, "madiq") == {citing, twice}

    response = client.patch(f"/reports/{report}", headers=auth, json={"title": "Latamneh taken"})
    assert response.status_code == 200, response.text
    assert found(client, "madiq") == set()
    assert found(client, "latamneh") == {citing, twice}
    # The rest of each column stays: text, quotes, the other report's title.
    assert found(client, "latamneh held") == {twice}
    assert found(client, "nabudah") == {not_citing}

    client.patch(f"/reports/{report}", headers=auth, json={"title": None})
    assert found(client, "latamneh") == set()
    client.patch(f"/reports/{report}", headers=auth, json={"title": TITLE})
    assert found(client, "madiq") == {citing, twice}
    # Other fields leave the columns alone; every column is what a rebuild makes.
    client.patch(f"/reports/{report}", headers=auth, json={"language": "fr"})
    assert found(client, "madiq") == {citing, twice}
    columns = rebuilt_columns(app)
    assert {pk: stored for pk, (stored, _) in columns.items()} == {
        pk: rebuilt for pk, (_, rebuilt) in columns.items()
    }
    # A report cited twice by one claim is in its column once.
    assert columns[int(twice)][0] == "fortress fell insurg overrun qalaat al madiq held"


def test_the_importer_writes_the_titles_of_the_reports_cited(
    app: FastAPI, client: TestClient, auth: dict[str, str]
) -> None:
    """Claims of the batch, of an earlier batch and stored before the import: each gets
    the title of a report once, however many of its stances cite it."""
    wire = make_source(client, auth, "Wire agency", "news_agency")["id"]
    stored_report = make_report(client, auth, "https://example.com/stored", title="Souran held")
    posted = make_claim(client, auth, "Troops held the line.")["id"]
    add_stance(client, auth, posted, wire, "asserts", report_id=stored_report)

    def stance(label: str, claim: str, report: str | None, quote: str | None = None) -> Any:
        return {
            "type": "stance",
            "id": label,
            "claim_id": claim,
            "source_id": "s",
            "stance": "asserts",
            **({"report_id": report} if report else {}),
            **({"quote": quote} if quote else {}),
        }

    lines = [
        {"type": "source", "id": "s", "name": "Wire agency", "kind": "news_agency"},
        {"type": "report", "id": "r", "url": "https://example.com/madiq", "title": TITLE},
        {"type": "report", "id": "old", "url": "https://example.com/stored"},  # matched
        {"type": "claim", "id": "c", "text": "A fortress fell.", "language": "en"},
        {"type": "claim", "id": "d", "text": "Aleppo fell.", "language": "en"},
        stance("t1", "c", "r", "Gone."),
        stance("t2", "c", "r"),
        # A later batch (batch_size=6): claims c and d are of the earlier one.
        stance("t3", "d", "r"),
        stance("t4", "d", "r", "Not so."),
        stance("t5", "d", "old"),
    ]
    with Session(app.state.engine) as session:
        for _ in import_lines(session=session, lines=map(json.dumps, lines), batch_size=6):
            pass
    claims = {claim["text"]: claim["id"] for claim in client.get("/claims").json()["items"]}
    fortress, aleppo = claims["A fortress fell."], claims["Aleppo fell."]
    assert found(client, "madiq") == {fortress, aleppo}
    assert found(client, "souran") == {posted, aleppo}
    columns = rebuilt_columns(app)
    assert {pk: stored for pk, (stored, _) in columns.items()} == {
        pk: rebuilt for pk, (_, rebuilt) in columns.items()
    }
    assert columns[int(aleppo)][0] == "aleppo fell insurg overrun qalaat al madiq so souran held"
