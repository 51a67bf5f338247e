"""The desk's pages over HTTP, on both engines: order, filters, pagination, escaping,
headers, closed reads, 404s, the claim page's history, timeline and as_of."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.desk.rendering import DESK_CSP
from app.main import create_app
from app.ops.seeds import load_seeds
from tests.helpers import add_stance, make_claim, make_source

CENTRAL = "Syrian insurgents entered the city of Hama."
_CLAIM_LINK = re.compile(r'<h3 class="claim-text"[^>]*><a href="/desk/claims/(\d+)"')
_SECTION = re.compile(r'<section class="desk-section section-(\w+)">')


def desk_ids(html: str) -> list[str]:
    return _CLAIM_LINK.findall(html)


def next_link(html: str) -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def card(html: str, claim_id: str) -> str:
    """The desk's <article> for one claim."""
    for chunk in html.split("<article ")[1:]:
        if f'href="/desk/claims/{claim_id}"' in chunk:
            return chunk.split("</article>")[0]
    raise AssertionError(f"claim {claim_id} is not on the page")


def _position(chunk: str, position: str) -> str:
    found = re.search(rf'class="position position-{position}">(.*?)</div>', chunk, re.S)
    return found.group(1) if found else ""


@pytest.fixture
def seeded(app: FastAPI, settings: Settings) -> dict[str, int]:
    return load_seeds(engine=app.state.engine, seeds_dir=settings.seeds_dir)


def _id_of(client: TestClient, text: str) -> str:
    found = [c["id"] for c in client.get("/claims", params={"limit": 100}).json()["items"]]
    return next(i for i in found if client.get(f"/claims/{i}").json()["text"] == text)


def test_seeded_desk_shows_the_central_claim_disputed_first(
    client: TestClient, seeded: dict[str, int]
) -> None:
    page = client.get("/", params={"limit": 100})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    central = _id_of(client, CENTRAL)
    ids = desk_ids(page.text)
    assert ids[0] == central
    assert len(ids) == seeded["claims"]
    assert _SECTION.findall(page.text) == ["disputed", "rest"]
    chunk = card(page.text, central)
    assert '<span class="badge badge-disputed">disputed</span>' in chunk
    denies = _position(chunk, "denies")
    assert ">Syrian government</a>:" in denies
    assert ">Syrian state media</a>" in denies
    asserts = _position(chunk, "asserts")
    assert re.findall(r'class="source"[^>]*>([^<]+)</a>', asserts) == [
        "Hayat Tahrir al-Sham",
        "Syrian National Army",
    ]
    # The report it comes through, a page of the desk now that reports are records.
    [report] = client.get("/reports").json()["items"]
    assert re.findall(r'<a class="report" href="([^"]+)">', chunk) == [
        f"/desk/reports/{report['id']}"
    ]
    report_page = client.get(f"/desk/reports/{report['id']}")
    assert report_page.status_code == 200
    assert report_page.text.count('<span class="quote-found">found</span>') == 24


@pytest.fixture
def story(client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    """Claims of each kind: two disputed, one denied, one asserted, one unsourced."""
    rebels = make_source(client, auth, "Rebels", "armed_group", "Opposition")
    state = make_source(client, auth, "State TV", "state_media", "Government")
    monitor = make_source(client, auth, "Monitor", "monitor")
    made = {}
    for name, text in [
        ("old_disputed", "The bridge at Rastan was destroyed."),
        ("denied", "The airport at Hama was captured."),
        ("asserted", "Fighting reached the northern districts."),
        ("unsourced", "A curfew was declared."),
        ("new_disputed", "The governor left the city."),
    ]:
        made[name] = make_claim(
            client,
            auth,
            text,
            tags=[name.split("_")[-1]],
            language="ar" if name == "denied" else "en",
        )["id"]
    add_stance(client, auth, made["old_disputed"], rebels["id"], "asserts")
    add_stance(client, auth, made["old_disputed"], state["id"], "denies")
    add_stance(client, auth, made["denied"], state["id"], "denies")
    add_stance(client, auth, made["asserted"], monitor["id"], "asserts")
    add_stance(client, auth, made["new_disputed"], monitor["id"], "asserts")
    add_stance(client, auth, made["new_disputed"], state["id"], "denies")
    return made


def test_contested_first_newest_change_first(client: TestClient, story: dict[str, str]) -> None:
    page = client.get("/")
    assert desk_ids(page.text) == [
        story["new_disputed"],
        story["old_disputed"],
        story["denied"],
        story["asserted"],  # its stance came after the unsourced claim was made
        story["unsourced"],
    ]
    assert _SECTION.findall(page.text) == ["disputed", "denied", "rest"]
    assert next_link(page.text) is None


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_walking_the_pages_lists_each_claim_once_in_order(
    client: TestClient, story: dict[str, str], limit: int
) -> None:
    walked: list[str] = []
    url: str | None = f"/?limit={limit}"
    for _ in range(10):
        assert url is not None
        page = client.get(url)
        assert page.status_code == 200
        walked += desk_ids(page.text)
        url = next_link(page.text)
        if url is None:
            break
    assert walked == desk_ids(client.get("/").text)
    assert len(walked) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"status": "disputed"},
        {"status": ["denied", "asserted"]},
        {"source_kind": "state_media"},
        {"affiliation": "opposition"},
        {"tag": "disputed"},
        {"language": "ar"},
        {"q": "airport"},
        {"source_kind": "monitor", "status": "disputed"},
    ],
)
def test_filters_mean_what_they_mean_on_get_claims(
    client: TestClient, story: dict[str, str], params: dict[str, Any]
) -> None:
    api = {c["id"] for c in client.get("/claims", params=params).json()["items"]}
    page = client.get("/", params=params)
    assert page.status_code == 200
    assert set(desk_ids(page.text)) == api
    assert api != set()


def test_the_form_s_empty_fields_are_no_filter(client: TestClient, story: dict[str, str]) -> None:
    empty = {"q": "", "status": "", "source_kind": "", "affiliation": "", "tag": "", "language": ""}
    page = client.get("/", params=empty)
    assert page.status_code == 200
    assert desk_ids(page.text) == desk_ids(client.get("/").text)


def test_filter_links_keep_the_other_filters(client: TestClient, story: dict[str, str]) -> None:
    page = client.get("/", params={"q": "airport"}).text
    assert 'href="/?status=denied&amp;q=airport"' in page
    assert 'href="/?language=ar&amp;q=airport"' in page


@pytest.mark.parametrize(
    "params", [{"status": "bogus"}, {"limit": "0"}, {"cursor": "not a cursor"}, {"q": "a\x00b"}]
)
def test_bad_query_is_a_problem_not_a_500(client: TestClient, params: dict[str, str]) -> None:
    page = client.get("/", params=params)
    assert page.status_code == 422
    assert page.headers["content-type"] == "application/problem+json"


def test_a_cursor_from_another_list_is_refused(client: TestClient, story: dict[str, str]) -> None:
    claims_cursor = client.get("/claims", params={"limit": 1, "sort": "created_at"}).json()
    page = client.get("/", params={"cursor": claims_cursor["next_cursor"]})
    assert page.status_code == 422
    assert page.headers["content-type"] == "application/problem+json"


HOSTILE = "<script>alert(1)</script>"


def test_user_text_renders_as_text(client: TestClient, auth: dict[str, str]) -> None:
    source = make_source(client, auth, '<img src=x onerror="alert(2)">', affiliation="<b>camp</b>")
    claim = make_claim(client, auth, HOSTILE, place="<i>x</i>", tags=["<u>t</u>"])
    add_stance(client, auth, claim["id"], source["id"], "denies", quote="</q><script>q</script>")
    for path in ("/", f"/desk/claims/{claim['id']}", f"/desk/sources/{source['id']}"):
        page = client.get(path).text
        assert "<script" not in page, path
        assert "<img" not in page, path
        assert "<b>" not in page and "<i>" not in page and "<u>" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page, path


def test_arabic_text_is_shown_right_to_left(client: TestClient, auth: dict[str, str]) -> None:
    text = "دخلت فصائل المعارضة مدينة حماة"
    claim = make_claim(client, auth, text, language="ar")
    card = f'<h3 class="claim-text" dir="auto" lang="ar"><a href="/desk/claims/{claim["id"]}">'
    assert card + f"{text}</a></h3>" in client.get("/").text
    page = client.get(f"/desk/claims/{claim['id']}").text
    assert f'<h1 class="claim-text" dir="auto" lang="ar">{text}</h1>' in page


def test_pages_send_a_strict_policy(client: TestClient, story: dict[str, str]) -> None:
    source_id = client.get("/sources").json()["items"][0]["id"]
    for path in (
        "/",
        f"/desk/claims/{story['denied']}",
        f"/desk/sources/{source_id}",
        "/desk/claims/0",
    ):
        page = client.get(path)
        assert page.headers["content-security-policy"] == DESK_CSP, path
        assert page.headers["cache-control"] == "no-store", path
        assert (
            "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
        )
    assert "script-src 'none'" in DESK_CSP and "style-src 'self'" in DESK_CSP
    css = client.get("/desk/static/desk.css")
    assert (css.status_code, css.headers["content-type"]) == (200, "text/css; charset=utf-8")
    assert client.get("/desk/static/..%2Fviews.py").status_code == 404


@pytest.fixture
def closed_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"require_key_for_reads": True}))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


def test_closed_reads_turn_the_desk_off(closed_client: TestClient) -> None:
    for path in ("/", "/desk/claims/1", "/desk/sources/1", "/desk/static/desk.css"):
        page = closed_client.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"] == "application/problem+json", path
    assert closed_client.get("/claims").status_code == 401  # the API is closed, not gone


@pytest.mark.parametrize(
    "path", ["/desk/claims/999999", "/desk/claims/abc", "/desk/sources/999999", "/desk/reports/1"]
)
def test_unknown_ids_are_an_html_404(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 404
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Not found</h1>" in page.text


def _rects(html: str) -> list[str]:
    svg = re.search(r'<svg class="timeline".*?</svg>\s*<figcaption', html, re.S)
    return re.findall(r'<rect [^>]*data-status="(\w+)"', svg.group(0)) if svg else []


@pytest.fixture
def changing(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    """A claim asserted at 08:00, disputed at 11:21, asserted by two camps at 18:00."""
    rebels = make_source(client, auth, "Rebels", "armed_group", "Opposition")
    state = make_source(client, auth, "State TV", "state_media", "Government")
    claim = make_claim(client, auth, "Insurgents entered Hama.")
    add_stance(client, auth, claim["id"], rebels["id"], "asserts", stated_at="2024-12-05T08:00:00Z")
    add_stance(
        client,
        auth,
        claim["id"],
        state["id"],
        "denies",
        stated_at="2024-12-05T11:21:00Z",
        quote="they denied that insurgents had breached the city itself",
        reported_via="https://example.org/wire/hama",
    )
    add_stance(client, auth, claim["id"], state["id"], "asserts", stated_at="2024-12-05T18:00:00Z")
    return {"claim": claim, "rebels": rebels, "state": state}


def test_claim_page_history_timeline_and_links(
    client: TestClient, changing: dict[str, Any]
) -> None:
    claim_id = changing["claim"]["id"]
    page = client.get(f"/desk/claims/{claim_id}")
    assert page.status_code == 200
    html = page.text
    assert '<span class="badge badge-corroborated">corroborated</span>' in html
    assert client.get(f"/claims/{claim_id}").json()["status_explanation"] in html
    assert _rects(html) == ["asserted", "disputed", "corroborated"]
    rows = re.findall(r'<tr class="stance-(\w+)( current)?">', html)
    assert rows == [("asserts", " current"), ("denies", ""), ("asserts", " current")]
    assert '<q dir="auto">they denied that insurgents had breached the city itself</q>' in html
    assert '<a class="report external" href="https://example.org/wire/hama"' in html
    for href in (
        f"/claims/{claim_id}",
        f"/desk/claims/{claim_id}.csv",
        f"/desk/claims/{claim_id}.jsonld",
    ):
        assert f'href="{href}"' in html


@pytest.mark.parametrize("as_of", ["2024-12-05T12:00:00Z", "2024-12-05T12:00"])
def test_as_of_shows_the_claim_as_it_stood(
    client: TestClient, changing: dict[str, Any], as_of: str
) -> None:
    claim_id = changing["claim"]["id"]
    html = client.get(f"/desk/claims/{claim_id}", params={"as_of": as_of}).text
    assert '<span class="badge badge-disputed">disputed</span>' in html.split("<h1")[0]
    assert "disputed: asserted by 1 source (Opposition), denied by 1 source (Government)" in html
    assert _rects(html) == ["asserted", "disputed"]
    rows = re.findall(r'<tr class="stance-(\w+)( current)?">', html)
    assert rows == [("denies", " current"), ("asserts", " current")]  # both current then
    assert 'value="2024-12-05T12:00"' in html  # the control shows the moment asked for
    assert '<time datetime="2024-12-05T11:21:00Z">' in html.split("<h1")[0]  # since then


def test_as_of_before_any_stance_is_unsourced(client: TestClient, changing: dict[str, Any]) -> None:
    html = client.get(
        f"/desk/claims/{changing['claim']['id']}", params={"as_of": "2024-12-01T00:00:00Z"}
    ).text
    assert '<span class="badge badge-unsourced">unsourced</span>' in html
    assert _rects(html) == []


def test_bad_as_of_is_a_problem(client: TestClient, changing: dict[str, Any]) -> None:
    page = client.get(f"/desk/claims/{changing['claim']['id']}", params={"as_of": "yesterday"})
    assert page.status_code == 422
    assert page.headers["content-type"] == "application/problem+json"


def test_source_page_lists_what_it_said_newest_first(
    client: TestClient, changing: dict[str, Any]
) -> None:
    state = changing["state"]
    html = client.get(f"/desk/sources/{state['id']}").text
    assert re.findall(r'<li class="said-item stance-(\w+)">', html) == ["asserts", "denies"]
    assert html.count('<span class="badge badge-corroborated">corroborated</span>') == 2
    assert "(superseded)" in html.split("stance-denies")[1]
    assert 'href="/?affiliation=Government"' in html


def test_claim_downloads(client: TestClient, changing: dict[str, Any]) -> None:
    claim_id = changing["claim"]["id"]
    csv = client.get(f"/desk/claims/{claim_id}.csv")
    assert csv.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    lines = csv.text.splitlines()
    assert lines[0].startswith("id,text,language")
    assert len(lines) == 2 and lines[1].startswith(f"{claim_id},Insurgents entered Hama.,en")
    jsonld = client.get(f"/desk/claims/{claim_id}.jsonld")
    assert jsonld.headers["content-type"] == "application/ld+json"
    assert (
        jsonld.json()
        == client.get(f"/claims/{claim_id}", headers={"Accept": "application/ld+json"}).json()
    )
    assert client.get("/desk/claims/999999.csv").status_code == 404


def test_the_openapi_document_does_not_list_the_desk(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert [p for p in paths if p == "/" or p.startswith("/desk")] == []
