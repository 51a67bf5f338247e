"""Every module that defines tables, imported once so the metadata is complete
(Alembic's env.py and the consistency tests rely on it)."""

import app.claims.models
import app.core.auth
import app.events.models
import app.http.change_log
import app.http.idempotency.models
import app.reports.models
import app.sources.models
import app.stances.models
import app.stances.periods_model
import app.sync.changes
import app.verdicts.models
import app.webhooks.models  # noqa: F401
