"""The status colours, one table for the badges (desk.css mirrors it) and the timeline."""

# (fill, text) per status: every pair meets WCAG AA contrast for normal text (>= 4.5:1), so
# a badge reads from across a newsroom; contested statuses are the warm ones.
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "disputed": ("#b45309", "#ffffff"),
    "denied": ("#b91c1c", "#ffffff"),
    "asserted": ("#1d4ed8", "#ffffff"),
    "corroborated": ("#15803d", "#ffffff"),
    "unsourced": ("#4b5563", "#ffffff"),
}
UNKNOWN_COLOURS = ("#374151", "#ffffff")


def colours_of(status: str) -> tuple[str, str]:
    return STATUS_COLOURS.get(status, UNKNOWN_COLOURS)
