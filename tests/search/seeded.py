"""The seeded Hama claims (seeds/), as the search tests use them."""

from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
# The seeded central claim: what a desk's rewordings must find first.
CENTRAL = "Syrian insurgents entered the city of Hama."
