"""Every module that defines tables, imported once so the metadata is complete
(Alembic's env.py and the consistency tests rely on it)."""

import app.changes
import app.idempotency.models
import app.models
import app.verdicts
import app.webhooks.models  # noqa: F401
