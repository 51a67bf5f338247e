"""The timeline strip on its own: one <rect> per period, widths in stated time, all text
escaped, well-formed SVG."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from app.desk.timeline_svg import MIN_SHARE, WIDTH, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2024, 12, 5, 8, 0, tzinfo=UTC)


def _item(
    status: str, start: datetime, end: datetime | None, source: str, stance: str
) -> dict[str, Any]:
    return {
        "status": status,
        "from": start,
        "to": end,
        "asserting_sources": 1,
        "denying_sources": 0 if status == "asserted" else 1,
        "explanation": f"{status}: because",
        "changed_by": {"stance": stance, "source_id": "1", "source": {"id": "1", "name": source}},
    }


def _story() -> list[dict[str, Any]]:
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=4)
    return [
        _item("asserted", T0, t1, "Hayat Tahrir al-Sham", "asserts"),
        _item("disputed", t1, t2, "Syrian state media", "denies"),
        _item("denied", t2, None, "Hayat Tahrir al-Sham", "retracts"),
    ]


def _rects(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}rect"))


def test_one_rect_per_period_in_order() -> None:
    svg = timeline_svg(_story(), until=T0 + timedelta(hours=6))
    assert [r.get("data-status") for r in _rects(svg)] == ["asserted", "disputed", "denied"]


def test_widths_follow_stated_time_with_a_floor() -> None:
    # 1 h, 3 h, and the open period up to `until`: 2 h. Each gets MIN_SHARE, the rest shares.
    svg = timeline_svg(_story(), until=T0 + timedelta(hours=6))
    spare = 1 - 3 * MIN_SHARE
    expected = [WIDTH * (MIN_SHARE + spare * hours / 6) for hours in (1, 3, 2)]
    assert [float(r.get("width", "0")) for r in _rects(svg)] == [round(w, 1) for w in expected]


def test_a_period_of_no_length_is_still_drawn() -> None:
    story = [_item("disputed", T0, None, "Syrian state media", "denies")]
    svg = timeline_svg(story, until=T0)
    assert [float(r.get("width", "0")) for r in _rects(svg)] == [float(WIDTH)]


def test_rfc3339_strings_as_the_json_api_gives_them() -> None:
    story = [
        {**item, "from": item["from"].isoformat().replace("+00:00", "Z"), "to": None}
        for item in _story()[:1]
    ]
    svg = timeline_svg(story, until=T0 + timedelta(hours=1))
    assert [r.get("data-status") for r in _rects(svg)] == ["asserted"]
    assert "5 Dec 08:00" in svg


def test_the_stance_that_began_each_period_is_named() -> None:
    svg = timeline_svg(_story(), until=T0 + timedelta(hours=6))
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert texts[2::3] == [
        "Hayat Tahrir al-Sham asserts",
        "Syrian state media denies",
        "Hayat Tahrir al-Sham retracts",
    ]


def test_user_text_is_escaped() -> None:
    hostile = '<script>alert(1)</script>" onload="alert(2)'
    story = [_item("disputed", T0, None, hostile, "denies")]
    story[0]["explanation"] = "<b>bold</b> & more"
    svg = str(timeline_svg(story, until=T0 + timedelta(hours=1)))
    assert "<script" not in svg
    assert "<b>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34; onload=&#34;alert(2)" in svg
    root = ET.fromstring(svg)  # still well-formed, with only our own elements
    assert {e.tag.removeprefix(SVG) for e in root.iter()} == {"svg", "rect", "title", "text"}


def test_no_periods_no_strip() -> None:
    assert timeline_svg([], until=T0) == ""
