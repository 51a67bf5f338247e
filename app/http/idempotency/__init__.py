"""Safe retries of POST: the Idempotency-Key header (docs/retries.md)."""
