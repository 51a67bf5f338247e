"""claims-api: track contested claims, who asserts and who denies them."""
