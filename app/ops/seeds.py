"""Load seeds/*.json through the service layer, idempotently."""

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.claims.models import Claim, ClaimCreate
from app.claims.service import create_claim
from app.core.db import write_engine
from app.reports.models import Report, ReportCreate, url_key
from app.reports.quotes import quote_found
from app.reports.service import create_report
from app.search.stored import rewrite_columns
from app.sources.models import Source, SourceCreate, name_key
from app.sources.service import create_source
from app.stances.models import Stance, StanceCreate
from app.stances.writes import record_stance


def load_seeds(*, engine: Engine, seeds_dir: Path) -> dict[str, int]:
    """Add what the seed files hold and the database lacks; return how much was added."""
    added = {"sources": 0, "reports": 0, "claims": 0, "stances": 0}
    for path in sorted(seeds_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        with Session(write_engine(engine), expire_on_commit=False) as session:
            sources = {name_key(s["name"]): _source(session, s, added) for s in document["sources"]}
            report = _report(session, document.get("report", {}), sources, seeds_dir, added)
            for entry in document["claims"]:
                claim = _claim(session, entry, added)
                for stance in entry["stances"]:
                    source = sources[name_key(stance["source"])]
                    _stance(session, claim, source, stance, report, added)
    return added


def _report(
    session: Session,
    entry: dict[str, Any],
    sources: dict[str, Source],
    seeds_dir: Path,
    added: dict[str, int],
) -> Report | None:
    """The report every stance of the document cites, when the document gives its url; its
    text is the document's copy in seeds/."""
    if "url" not in entry:
        return None
    found = session.exec(select(Report).where(Report.url_key == url_key(entry["url"]))).first()
    if found is not None:
        return found
    text = (seeds_dir / Path(entry["document"]).name).read_text(encoding="utf-8")
    publisher = sources[name_key(entry["publisher"])] if entry.get("publisher") else None
    data = ReportCreate.model_validate(
        {
            "url": entry["url"],
            "title": entry.get("title"),
            "publisher_id": None if publisher is None else str(publisher.id),
            "published_at": entry.get("published_at"),
            "language": entry.get("language", "en"),
            "text": text,
        }
    )
    added["reports"] += 1
    return create_report(session=session, data=data)


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
    session: Session,
    claim: Claim,
    source: Source,
    entry: dict[str, Any],
    report: Report | None,
    added: dict[str, int],
) -> None:
    fields = {k: v for k, v in entry.items() if k != "source"}
    if report is not None:
        fields["report_id"] = str(report.id)
    data = StanceCreate.model_validate({**fields, "source_id": str(source.id)})
    found = session.exec(
        select(Stance).where(
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
    elif report is not None and found.report_id is None:
        # Seeded before stances cited reports: cite it now (adds nothing).
        found.report_id = report.id
        found.quote_found = quote_found(found.quote, report.text)
        session.flush()
        # Search finds the claim by the report's title from now on.
        rewrite_columns(session.connection(), [claim.id], lock=True)  # type: ignore[list-item]
        session.commit()
