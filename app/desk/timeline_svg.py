"""A claim's status periods drawn as one horizontal strip of inline SVG (pure, no I/O).

The input is the contract's timeline items (`GET /claims/{id}/timeline`, v1.1): dicts with
`status`, `from`, `to` (None for the current period), `asserting_sources`,
`denying_sources`, `explanation` and `changed_by` (the stance that began the period, its
source embedded). Times may be datetimes or RFC 3339 strings. Every period is one <rect>,
wide in proportion to its stated-time length but never too thin to see or point at; every
piece of text is escaped, since source names and explanations are user data.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from app.desk.palette import colours_of

WIDTH = 1000
BAR_TOP = 8
BAR_HEIGHT = 44
HEIGHT = BAR_TOP + BAR_HEIGHT + 34
# The share of the strip every period gets whatever its length, so a period of a minute
# beside one of a week is still a visible, labelled block.
MIN_SHARE = 0.12


@dataclass(frozen=True)
class Period:
    status: str
    start: datetime
    end: datetime | None
    explanation: str
    began_with: str


def as_datetime(value: datetime | str) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def began_with(changed_by: Mapping[str, Any] | None) -> str:
    """'Syrian state media denies': who took which position to begin the period."""
    if not changed_by:
        return ""
    source = changed_by.get("source") or {}
    name = source.get("name") or f"source {changed_by.get('source_id', '?')}"
    return f"{name} {changed_by.get('stance', '')}".strip()


def periods_of(items: Sequence[Mapping[str, Any]]) -> list[Period]:
    return [
        Period(
            status=str(item["status"]),
            start=as_datetime(item["from"]),
            end=None if item.get("to") is None else as_datetime(item["to"]),
            explanation=str(item.get("explanation") or item["status"]),
            began_with=began_with(item.get("changed_by")),
        )
        for item in items
    ]


def _widths(periods: list[Period], until: datetime) -> list[float]:
    lengths = [
        max(((p.end or until) - p.start).total_seconds(), 0.0) for p in periods
    ]  # a period of zero length still gets its minimum share
    total = sum(lengths)
    floor = min(MIN_SHARE, 1 / len(periods))
    spare = 1 - floor * len(periods)
    return [
        WIDTH * (floor + (spare * length / total if total else spare / len(periods)))
        for length in lengths
    ]


def _when(moment: datetime) -> str:
    return moment.strftime("%-d %b %Y %H:%M UTC")


def _period(period: Period, x: float, width: float) -> str:
    """One period: a nested <svg>, which clips its labels to the period's own width."""
    fill, ink = colours_of(period.status)
    end = "now" if period.end is None else _when(period.end)
    title = f"{period.status} from {_when(period.start)} to {end}: {period.explanation}"
    if period.began_with:
        title += f" (began when {period.began_with})"
    return (
        f'<svg class="period" x="{x:.1f}" y="0" width="{width:.1f}" height="{HEIGHT}">'
        f'<rect x="0" y="{BAR_TOP}" width="{width:.1f}" height="{BAR_HEIGHT}" '
        f'fill="{fill}" stroke="#ffffff" stroke-width="2" data-status="{escape(period.status)}">'
        f"<title>{escape(title)}</title></rect>"
        f'<text x="8" y="{BAR_TOP + 29}" fill="{ink}" font-weight="700" font-size="18">'
        f"{escape(period.status)}</text>"
        f'<text x="4" y="{BAR_TOP + BAR_HEIGHT + 15}" font-size="13" fill="#111827">'
        f"{escape(period.start.strftime('%-d %b %H:%M'))}</text>"
        f'<text x="4" y="{BAR_TOP + BAR_HEIGHT + 30}" font-size="13" fill="#374151">'
        f"{escape(period.began_with)}</text>"
        f"</svg>"
    )


def timeline_svg(items: Sequence[Mapping[str, Any]], *, until: datetime) -> Markup:
    """The strip for `items` (oldest first); the open period is drawn up to `until`.
    Empty markup when there are no periods (an unsourced claim has no story yet)."""
    periods = periods_of(items)
    if not periods:
        return Markup("")
    until = max(as_datetime(until), max(p.end or p.start for p in periods))
    x, parts = 0.0, []
    for period, width in zip(periods, _widths(periods, until), strict=True):
        parts.append(_period(period, x, width))
        x += width
    summary = "; ".join(f"{p.status} from {_when(p.start)}" for p in periods)
    # Each piece above is escaped where it is built, so the whole is markup, not text.
    return Markup(
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" '
        f'aria-label="{escape("Status over stated time: " + summary)}">'
        f"{''.join(parts)}</svg>"
    )
