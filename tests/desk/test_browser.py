"""The desk in a real headless Chromium, against the real server with the seeded data.

Each page must show what a fact-checker looks for, request nothing but 127.0.0.1, log no
error (a CSP violation is one), and fit a 375 px wide phone. Screenshots of every visit are
saved under the test's tmp dir, for a person to look at when one fails.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import Chromium, PageVisit
from tests.desk.test_pages import CENTRAL, card, desk_ids
from tests.http.test_docs_offline import _off_machine, chromium  # noqa: F401  (the fixture)
from tests.server import Server, run_cli, write_key

LOADED = "document.readyState === 'complete'"
PHONE = 375
# True once the page is laid out and nothing is wider than the phone's screen.
FITS = LOADED + f" && document.documentElement.scrollWidth <= {PHONE}"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('desk-db') / 'claims.db'}"
    seeded = run_cli(["seed"], url)
    assert seeded.returncode == 0, seeded.stderr
    return url


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(database_url, tmp_path_factory.mktemp("desk-server") / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def seeded(server: Server, database_url: str) -> dict[str, Any]:
    """Ids of the seeded central claim and of the sources, and a claim of our own whose
    status changed twice (three periods) and is no longer contested."""
    with server.client() as client:
        claims = client.get("/claims", params={"status": "disputed"}).json()["items"]
        central = next(c["id"] for c in claims if c["text"] == CENTRAL)
        sources = {s["name"]: s["id"] for s in client.get("/sources").json()["items"]}
        changing = _changing_claim(client, sources, write_key(database_url))
    return {"central": central, "sources": sources, "changing": changing}


def _changing_claim(client: httpx.Client, sources: dict[str, str], auth: dict[str, str]) -> str:
    made = client.post("/claims", headers=auth, json={"text": "The army redeployed outside Hama."})
    claim_id = str(made.json()["id"])
    for source, stance, stated_at in [
        ("Syrian state media", "denies", "2024-12-05T14:00:00Z"),
        ("Hayat Tahrir al-Sham", "asserts", "2024-12-05T15:00:00Z"),
        ("Syrian state media", "asserts", "2024-12-05T19:00:00Z"),
    ]:
        answer = client.post(
            f"/claims/{claim_id}/stances",
            headers=auth,
            json={"source_id": sources[source], "stance": stance, "stated_at": stated_at},
        )
        assert answer.status_code == 201, answer.text
    return claim_id


def _visit(
    browser: Chromium, server: Server, path: str, shot: Path, ready: str = LOADED, **kw: Any
) -> PageVisit:
    visit = browser.visit(server.base_url + path, ready_js=ready, screenshot=shot, **kw)
    assert visit.ready, path
    assert _off_machine(visit.requests) == [], path
    assert visit.errors == [], path
    # The stylesheet loaded and applied (the CSP let it): badges are uppercased by CSS.
    assert f"{server.base_url}/desk/static/desk.css" in visit.requests, path
    return visit


def _timeline_rects(html: str) -> int:
    svg = re.search(r'<svg class="timeline".*?</svg>\s*<figcaption', html, re.S)
    return len(re.findall(r"<rect ", svg.group(0))) if svg else 0


def test_desk_lists_the_central_claim_disputed(
    chromium: Chromium,  # noqa: F811
    server: Server,
    seeded: dict[str, Any],
    tmp_path: Path,
) -> None:
    visit = _visit(chromium, server, "/", tmp_path / "desk.png")
    assert desk_ids(visit.html)[0] == seeded["central"]
    chunk = card(visit.html, seeded["central"])
    assert 'class="badge badge-disputed">disputed</span>' in chunk
    denies = chunk.split('class="position position-denies"')[1].split("</div>")[0]
    assert ">Syrian state media</a>" in denies
    assert "DISPUTED\n" in visit.text  # text-transform from desk.css
    assert (tmp_path / "desk.png").read_bytes().startswith(b"\x89PNG")


def test_claim_page_draws_one_rect_per_period(
    chromium: Chromium,  # noqa: F811
    server: Server,
    seeded: dict[str, Any],
    tmp_path: Path,
) -> None:
    for claim_id, periods in (
        (seeded["central"], ["disputed"]),
        (seeded["changing"], ["denied", "disputed", "corroborated"]),
    ):
        visit = _visit(chromium, server, f"/desk/claims/{claim_id}", tmp_path / f"{claim_id}.png")
        with httpx.Client(base_url=server.base_url) as client:
            explanation = client.get(f"/claims/{claim_id}").json()["status_explanation"]
        assert explanation in visit.text
        assert _timeline_rects(visit.html) == len(periods)
        assert re.findall(r'<rect [^>]*data-status="(\w+)"', visit.html) == periods
        assert visit.html.count('<li><span class="badge') == len(periods)  # listed below it


def test_source_page_shows_what_state_media_said(
    chromium: Chromium,  # noqa: F811
    server: Server,
    seeded: dict[str, Any],
    tmp_path: Path,
) -> None:
    source_id = seeded["sources"]["Syrian state media"]
    visit = _visit(chromium, server, f"/desk/sources/{source_id}", tmp_path / "source.png")
    assert "Syrian state media" in visit.text
    central = visit.html.split(f'href="/desk/claims/{seeded["central"]}"')[0].rsplit("<li", 1)[1]
    assert 'class="badge badge-disputed">disputed</span>' in central
    assert '<span class="stance">denies</span>' in central


@pytest.mark.parametrize("page", ["/", "/desk/claims/{central}", "/desk/sources/{source}"])
def test_pages_fit_a_phone(
    chromium: Chromium,  # noqa: F811
    server: Server,
    seeded: dict[str, Any],
    tmp_path: Path,
    page: str,
) -> None:
    path = page.format(central=seeded["central"], source=seeded["sources"]["Syrian state media"])
    _visit(chromium, server, path, tmp_path / "phone.png", ready=FITS, width=PHONE, timeout=10)
