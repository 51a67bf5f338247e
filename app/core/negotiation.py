"""Content negotiation: what the Accept header asks for."""


def quality(accept: str, media_type: str) -> float:
    """The q-value the Accept header gives one media type by name (0 when not named)."""
    best = 0.0
    for part in accept.split(","):
        name, *params = (piece.strip() for piece in part.split(";"))
        if name.lower() != media_type:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best
