"""Load seeds/*.json through the service layer, idempotently."""

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.claims.models import Claim, ClaimCreate
from app.claims.service import create_claim
from app.core.db import write_engine
from app.sources.models import Source, SourceCreate, name_key
from app.sources.service import create_source
from app.stances.models import Stance, StanceCreate
from app.stances.writes import record_stance


def load_seeds(*, engine: Engine, seeds_dir: Path) -> dict[str, int]:
    """Add what the seed files hold and the database lacks; return how much was added."""
    added = {"sources": 0, "claims": 0, "stances": 0}
    for path in sorted(seeds_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        with Session(write_engine(engine), expire_on_commit=False) as session:
            sources = {name_key(s["name"]): _source(session, s, added) for s in document["sources"]}
            for entry in document["claims"]:
                claim = _claim(session, entry, added)
                for stance in entry["stances"]:
                    _stance(session, claim, sources[name_key(stance["source"])], stance, added)
    return added


def _source(session: Session, entry: dict[str, Any], added: dict[str, int]) -> Source:
    found = session.exec(select(Source).where(Source.name_key == name_key(entry["name"]))).first()
    if found is not None:
        return found
    added["sources"] += 1
    return create_source(session=session, data=SourceCreate.model_validate(entry))


def _claim(session: Session, entry: dict[str, Any], added: dict[str, int]) -> Claim:
    data = ClaimCreate.model_validate({k: v for k, v in entry.items() if k != "stances"})
    found = session.exec(select(Claim).where(Claim.text == data.text)).first()
    if found is not None:
        return found
    added["claims"] += 1
    return create_claim(session=session, data=data)


def _stance(
    session: Session, claim: Claim, source: Source, entry: dict[str, Any], added: dict[str, int]
) -> None:
    data = StanceCreate.model_validate(
        {**{k: v for k, v in entry.items() if k != "source"}, "source_id": str(source.id)}
    )
    found = session.exec(
        select(Stance.id).where(
            Stance.claim_id == claim.id,
            Stance.source_id == source.id,
            Stance.stance == data.stance.value,
            Stance.stated_at == data.stated_at,
        )
    ).first()
    if found is None:
        session.flush()  # the Core statements below do not autoflush what the session holds
        record_stance(session.connection(), claim_id=str(claim.id), data=data)
        session.commit()
        session.expire_all()  # the claim changed behind the ORM's back: reload it when read
        added["stances"] += 1
