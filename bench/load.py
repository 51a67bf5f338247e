"""The bench's own fast loader: generated rows straight into the app's tables with
SQLAlchemy Core executemany, a chunk per transaction.

It writes what the service would have written: each source's latest stance (by stated_at,
then id) is current, and each claim's status and counts come from app.status.derive_status,
the function the service itself calls. `claims-api check` verifies it (0 mismatches).
"""

import time
from dataclasses import dataclass

from sqlalchemy import Engine, text

from app.models import Claim, ClaimTag, Source, Stance
from app.status import CurrentStance, StanceKind, derive_status
from bench.generate import ClaimRow, SourceRow, claims, sources


@dataclass
class LoadStats:
    claims: int
    stances: int
    seconds: float

    @property
    def stances_per_second(self) -> float:
        return self.stances / self.seconds if self.seconds else 0.0


def _claim_rows(chunk: list[ClaimRow], by_id: dict[int, SourceRow]) -> tuple[list, list, list]:
    claim_rows, stance_rows, tag_rows = [], [], []
    for claim in chunk:
        latest: dict[int, tuple] = {}
        for s in claim.stances:
            held = latest.get(s.source_id)
            if held is None or (s.stated_at, s.id) > held:
                latest[s.source_id] = (s.stated_at, s.id)
        current_ids = {key[1] for key in latest.values()}
        current = []
        for s in claim.stances:
            is_current = s.id in current_ids
            if is_current:
                source = by_id[s.source_id]
                kind = StanceKind(s.stance)
                current.append(CurrentStance(kind, s.source_id, source.name, source.affiliation))
            stance_rows.append(
                {
                    "id": s.id,
                    "claim_id": claim.id,
                    "source_id": s.source_id,
                    "stance": s.stance,
                    "stated_at": s.stated_at,
                    "url": s.url,
                    "quote": s.quote,
                    "reported_via": s.reported_via,
                    "note": None,
                    "is_current": is_current,
                    "created_at": s.created_at,
                }
            )
        derived = derive_status(current)
        updated = max([claim.created_at, *(s.created_at for s in claim.stances)])
        claim_rows.append(
            {
                "id": claim.id,
                "text": claim.text,
                "language": claim.language,
                "place": claim.place,
                "occurred_at": claim.occurred_at,
                "tags": claim.tags,
                "status": derived.status.value,
                "asserting_sources": derived.asserting_sources,
                "denying_sources": derived.denying_sources,
                "created_at": claim.created_at,
                "updated_at": updated,
            }
        )
        tag_rows.extend({"claim_id": claim.id, "tag": tag} for tag in claim.tags)
    return claim_rows, stance_rows, tag_rows


def load(engine: Engine, count: int) -> LoadStats:
    """Fill a freshly migrated, empty database with the generated archive of `count` claims."""
    started = time.perf_counter()
    source_rows = sources()
    by_id = {s.id: s for s in source_rows}
    stance_total = 0
    with engine.begin() as conn:
        conn.execute(Source.__table__.insert(), [s.row() for s in source_rows])  # type: ignore[attr-defined]
    for chunk in claims(count, source_rows):
        claim_rows, stance_rows, tag_rows = _claim_rows(chunk, by_id)
        with engine.begin() as conn:
            conn.execute(Claim.__table__.insert(), claim_rows)  # type: ignore[attr-defined]
            if stance_rows:
                conn.execute(Stance.__table__.insert(), stance_rows)  # type: ignore[attr-defined]
            if tag_rows:
                conn.execute(ClaimTag.__table__.insert(), tag_rows)  # type: ignore[attr-defined]
        stance_total += len(stance_rows)
    if engine.dialect.name == "postgresql":
        # Explicit ids leave the sequences behind: the next POST would collide.
        with engine.begin() as conn:
            for table in ("source", "claim", "stance"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            # What autovacuum would do soon after a real load.
            conn.execute(text("ANALYZE"))
    else:
        # No ANALYZE: the service never runs it on SQLite, so neither does the bench.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return LoadStats(count, stance_total, time.perf_counter() - started)
