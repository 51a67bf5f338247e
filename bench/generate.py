"""A deterministic, realistic archive: 2,000 sources of every kind, N claims in English and
Arabic, about four stances per claim, and a status mix like a conflict desk's.

Everything about claim i depends only on (seed, i // CHUNK), so an archive is generated
chunk by chunk in constant memory, and the 10k archive is the first 10k claims of the 1M.
Stance ids follow generation order; `current` and the status are derived later with the
service's own rules (bench/load.py), never guessed here.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.sources.models import SourceKind, name_key

SEED = 20241205
SOURCES = 2000
CHUNK = 5000
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=700)

PLACES = [
    "Hama", "Homs", "Aleppo", "Idlib", "Damascus", "Daraa", "Deir ez-Zor", "Raqqa",
    "Latakia", "Tartus", "Gaza City", "Khan Younis", "Rafah", "Jabalia", "Beirut",
    "Tyre", "Sidon", "Baalbek", "Mosul", "Kirkuk", "Sanaa", "Aden", "Hodeidah", "Marib",
    "Khartoum", "Omdurman", "El Fasher", "Nyala", "Tripoli", "Benghazi", "Misrata",
    "Sirte", "Kharkiv", "Donetsk", "Bakhmut", "Avdiivka", "Kherson", "Zaporizhzhia",
    "Mariupol", "Pokrovsk", "Goma", "Bunia", "Mogadishu", "Kismayo", "Tigray", "Mekelle",
    "Gondar", "Bamako", "Gao", "Timbuktu",
]  # fmt: skip
PLACES_AR = [
    "حماة", "حمص", "حلب", "إدلب", "دمشق", "درعا", "دير الزور", "الرقة", "اللاذقية",
    "طرطوس", "غزة", "خان يونس", "رفح", "جباليا", "بيروت", "صور", "صيدا", "بعلبك", "الموصل",
    "كركوك", "صنعاء", "عدن", "الحديدة", "مأرب", "الخرطوم",
]  # fmt: skip
ACTORS = [
    "insurgents", "government forces", "the army", "militia fighters", "rebel units",
    "security forces", "drones", "artillery units", "air strikes", "special forces",
    "tribal fighters", "police", "naval forces", "paramilitary forces",
]  # fmt: skip
ACTIONS = [
    "entered", "captured", "shelled", "withdrew from", "encircled", "bombed",
    "recaptured", "attacked", "evacuated", "blockaded", "struck a convoy near",
    "seized the airport of", "cut the road to", "reached the outskirts of",
]  # fmt: skip
DETAILS = [
    "after intense clashes", "overnight", "at dawn", "killing at least {n} civilians",
    "according to residents", "with heavy losses on both sides", "without resistance",
    "under cover of air strikes", "displacing {n} families", "in a surprise offensive",
    "taking {n} prisoners", "destroying a hospital", "near a market",
]  # fmt: skip
ACTORS_AR = [
    "المسلحون", "القوات الحكومية", "الجيش", "مقاتلو الفصائل", "قوات الأمن",
    "الطائرات المسيرة", "المدفعية", "الغارات الجوية", "القوات الخاصة", "مقاتلو العشائر",
]  # fmt: skip
ACTIONS_AR = [
    "دخلوا", "سيطروا على", "قصفوا", "انسحبوا من", "حاصروا", "استعادوا", "هاجموا",
    "قطعوا الطريق إلى", "وصلوا إلى أطراف",
]  # fmt: skip
DETAILS_AR = [
    "بعد اشتباكات عنيفة", "خلال الليل", "فجر اليوم", "ما أسفر عن مقتل {n} مدنيين",
    "بحسب السكان", "وسط خسائر كبيرة", "دون مقاومة", "تحت غطاء جوي", "في هجوم مفاجئ",
]  # fmt: skip
TAGS = [
    "syria", "gaza", "lebanon", "iraq", "yemen", "sudan", "libya", "ukraine", "drc",
    "somalia", "ethiopia", "mali", "casualties", "displacement", "airstrike", "ceasefire",
    "hostages", "aid", "offensive", "withdrawal", "hospital", "chemical-weapons",
]  # fmt: skip
AFFILIATIONS = [f"Affiliation {i:03d}" for i in range(150)]
COUNTRIES = ["SY", "IQ", "LB", "YE", "SD", "LY", "UA", "RU", "US", "GB", "FR", "QA", "TR", "IR"]
# Who tends to deny: state media and governments deny far more than monitors or agencies.
DENIERS = {SourceKind.state_media, SourceKind.government, SourceKind.armed_group}


@dataclass
class SourceRow:
    id: int
    name: str
    kind: str
    affiliation: str | None
    country: str | None
    url: str | None
    description: str | None
    created_at: datetime

    def row(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "name_key": name_key(self.name),
            "kind": self.kind,
            "affiliation": self.affiliation,
            "affiliation_key": self.affiliation.casefold() if self.affiliation else None,
            "country": self.country,
            "url": self.url,
            "description": self.description,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


@dataclass
class StanceRow:
    id: int
    source_id: int
    stance: str
    stated_at: datetime
    created_at: datetime
    url: str | None
    quote: str | None
    reported_via: str | None


@dataclass
class ClaimRow:
    id: int
    text: str
    language: str
    place: str | None
    occurred_at: datetime | None
    tags: list[str]
    created_at: datetime
    stances: list[StanceRow] = field(default_factory=list)


def sources() -> list[SourceRow]:
    rng = random.Random(f"{SEED}:sources")
    kinds = list(SourceKind)
    rows = []
    for i in range(1, SOURCES + 1):
        kind = kinds[(i - 1) % len(kinds)]
        arabic = rng.random() < 0.3
        name = f"مصدر {kind.value} {i}" if arabic else f"{kind.value.replace('_', ' ')} {i}"
        affiliated = kind in DENIERS or rng.random() < 0.4
        rows.append(
            SourceRow(
                id=i,
                name=name,
                kind=kind.value,
                affiliation=rng.choice(AFFILIATIONS) if affiliated else None,
                country=rng.choice(COUNTRIES) if rng.random() < 0.8 else None,
                url=f"https://source{i}.example.org/" if rng.random() < 0.7 else None,
                description=None,
                created_at=START,
            )
        )
    return rows


def _text(rng: random.Random, arabic: bool, place: str) -> str:
    n = rng.randint(2, 400)
    if arabic:
        detail = rng.choice(DETAILS_AR).format(n=n)
        return f"{rng.choice(ACTORS_AR)} {rng.choice(ACTIONS_AR)} {place} {detail}."
    detail = rng.choice(DETAILS).format(n=n)
    return f"{rng.choice(ACTORS).capitalize()} {rng.choice(ACTIONS)} {place} {detail}."


def _profile(rng: random.Random) -> tuple[int, float]:
    """How many stances a claim gets and how likely each one is a denial."""
    roll = rng.random()
    if roll < 0.05:
        return 0, 0.0  # unsourced
    if roll < 0.55:
        return rng.choice((1, 2, 3, 3, 4, 5, 6)), 0.0  # asserted or corroborated
    if roll < 0.65:
        return rng.choice((1, 2, 3)), 1.0  # denied
    return rng.choice((2, 3, 4, 5, 6, 8)), 0.4  # disputed


def claims(count: int, source_rows: list[SourceRow]) -> Iterator[list[ClaimRow]]:
    """Claims 1..count in chunks; each chunk from its own seeded generator."""
    deniers = [s.id for s in source_rows if s.kind in DENIERS]
    others = [s.id for s in source_rows if s.kind not in DENIERS]
    everyone = [s.id for s in source_rows]
    step = SPAN / max(count, 1)
    for start in range(0, count, CHUNK):
        rng = random.Random(f"{SEED}:claims:{start // CHUNK}")
        chunk = []
        for i in range(start + 1, min(start + CHUNK, count) + 1):
            arabic = rng.random() < 0.25
            place = rng.choice(PLACES_AR if arabic else PLACES)
            created = START + step * i
            claim = ClaimRow(
                id=i,
                text=_text(rng, arabic, place),
                language="ar" if arabic else "en",
                place=place if rng.random() < 0.9 else None,
                occurred_at=created - timedelta(hours=rng.randint(1, 72)),
                tags=sorted(set(rng.sample(TAGS, rng.randint(0, 3)))),
                created_at=created,
            )
            n, p_deny = _profile(rng)
            for k in range(n):
                denies = rng.random() < p_deny
                # Restate sometimes: a source changes or repeats its position later.
                if k and rng.random() < 0.1:
                    source_id = rng.choice(claim.stances).source_id
                else:
                    source_id = rng.choice(deniers if denies else (others if k % 2 else everyone))
                stated = created + timedelta(minutes=rng.randint(0, 60 * 24 * 3))
                claim.stances.append(
                    StanceRow(
                        id=i * 10 + k,  # at most 8 stances a claim: ids never collide
                        source_id=source_id,
                        stance="denies" if denies else "asserts",
                        stated_at=stated,
                        created_at=stated + timedelta(minutes=rng.randint(1, 600)),
                        url=f"https://source{source_id}.example.org/{i}/{k}",
                        quote=claim.text if rng.random() < 0.5 else None,
                        reported_via="https://wire.example.org/" if rng.random() < 0.3 else None,
                    )
                )
            chunk.append(claim)
        yield chunk
