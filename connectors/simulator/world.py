"""The simulated programme: sponsors, their suppliers, sites, lines, machines and parts.

Deterministic by seed. Names are fictional. Each supplier has a smart-factory go-live
date inside the simulated window and a productivity uplift after it: its sector's gain
as the programme reported it (`REPORTED_GAINS`, see DOMAIN.md) with a small spread.

Each supplier also has a data tier, what its systems send (DOMAIN.md, "Levels of a smart
factory"): basic suppliers send lot-tracked production and shipments; intermediate 1 add
machine states and lot-linked inspections; intermediate 2 add measurements against spec
limits, energy metering and holds when a measurement is out of control. Tiers follow the
national distribution (80 % / 18.7 % / 1.5 %) exactly, by largest remainder, and are
shuffled over the suppliers by the world seed, so a world of 300 suppliers holds 240 / 56
/ 4. A world of 3 or more suppliers holds at least one of each tier (taken from basic), so
the small worlds of the demo and the tests show a mix; a world of 1 is intermediate 2 and
one of 2 holds an intermediate 2 and a basic supplier, so every world sends every event type.
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

SECTORS: dict[str, dict[str, Any]] = {
    # sector: parts made, good units per line-hour before go-live, spec of a key measure
    "masks": {
        "parts": ["KF94-MASK", "KF80-MASK"],
        "rate": 9000,
        "measure": ("ear_loop_n", 12.0, 0.4),
    },
    "diagnostic kits": {"parts": ["RAT-KIT-25"], "rate": 1200, "measure": ("fill_ul", 100.0, 1.5)},
    "syringes": {
        "parts": ["LDS-SYR-1ML", "LDS-SYR-3ML"],
        "rate": 5000,
        "measure": ("dead_space_ul", 4.0, 0.5),
    },
    "auto parts": {
        "parts": ["BRKT-220", "HOUS-118"],
        "rate": 240,
        "measure": ("bore_mm", 22.0, 0.02),
    },
    "plating": {
        "parts": ["ZN-PLT-BOLT", "NI-PLT-PIN"],
        "rate": 1800,
        "measure": ("coat_um", 8.0, 0.6),
    },
    "food": {"parts": ["KIMCHI-500G", "GOCHU-1KG"], "rate": 1500, "measure": ("net_g", 500.0, 3.0)},
}
SPONSOR_NAMES = [
    "Hanbit Motors",
    "Daeyang Electronics",
    "Seorim Steel",
    "Mirae Foods Group",
    "Cheongun Heavy Industries",
]
SYLLABLES = [
    "Dae",
    "Han",
    "Seo",
    "Mi",
    "Jin",
    "Sung",
    "Woo",
    "Gwang",
    "Hye",
    "Bo",
    "Na",
    "Ri",
    "Yeon",
    "Cheon",
    "Il",
    "Dong",
]
SUFFIXES = ["Precision", "Tech", "Industrial", "Medical", "Chemical", "Foods", "Works"]
# The gain in good output per run hour after go-live, per sector, from the programme's
# reported results (DOMAIN.md): masks' daily output +51 % (920,000 -> 1.39 million),
# diagnostic kits' productivity +73 %, food +33 %, auto parts +52 % (the tractor-cabin
# maker's). Syringes went from 4 to 10 million a month (+150 %), with new moulds and lines
# as well as faster ones: the simulator's fixed two-shift lines cap it at a doubling of
# their rate (+100 %). Plating has no reported figure: +30 %, below food's +33 %, as bath
# and drying times bound a plating line's rate whatever the mentoring.
REPORTED_GAINS: dict[str, float] = {
    "masks": 0.51,
    "diagnostic kits": 0.73,
    "syringes": 1.00,
    "food": 0.33,
    "auto parts": 0.52,
    "plating": 0.30,
}
# Each supplier's gain is its sector's plus a deterministic spread of up to this much.
GAIN_SPREAD = 0.03
# After go-live the simulated lines also stop less often (a stop in 15 % of shifts, not
# 35 %; 0.6 h on average in an 8 h shift) and scrap less (1.25 %, not 2.5 %), which alone
# lifts good output per run hour by (1 - 0.15 * 0.6/8) / (1 - 0.35 * 0.6/8) x
# 0.9875 / 0.975 = 1.0284 (events.py). The line-rate uplift is what remains of the gain.
STOPS_AND_SCRAP_GAIN = 1.0284


class DataTier(StrEnum):
    """What a simulated supplier's systems send (the level the platform should derive)."""

    BASIC = "basic"
    INTERMEDIATE_1 = "intermediate 1"
    INTERMEDIATE_2 = "intermediate 2"


# Government-supported SME smart factories by level, a 2024 institute report (DOMAIN.md);
# the published shares add up to 100.2 % and are used in proportion.
NATIONAL_SHARES: dict[DataTier, float] = {
    DataTier.BASIC: 0.80,
    DataTier.INTERMEDIATE_1: 0.187,
    DataTier.INTERMEDIATE_2: 0.015,
}


def tier_counts(suppliers: int) -> dict[DataTier, int]:
    """How many suppliers of each tier a world of `suppliers` holds (see the module)."""
    if suppliers <= 0:
        return dict.fromkeys(DataTier, 0)
    if suppliers < len(DataTier):
        small = [DataTier.INTERMEDIATE_2, DataTier.BASIC][:suppliers]
        return {tier: small.count(tier) for tier in DataTier}
    total = sum(NATIONAL_SHARES.values())
    quotas = {tier: suppliers * share / total for tier, share in NATIONAL_SHARES.items()}
    counts = {tier: int(quota) for tier, quota in quotas.items()}
    by_remainder = sorted(DataTier, key=lambda tier: (counts[tier] - quotas[tier], tier))
    for tier in by_remainder[: suppliers - sum(counts.values())]:
        counts[tier] += 1
    for tier in DataTier:  # at least one of each, taken from the largest (basic)
        if counts[tier] == 0:
            counts[tier] = 1
            counts[DataTier.BASIC] -= 1
    return counts


def assign_tiers(seed: int, suppliers: int) -> list[DataTier]:
    """The tier of each of `suppliers` suppliers, in order: `tier_counts`, shuffled by `seed`."""
    tiers = [tier for tier, n in tier_counts(suppliers).items() for _ in range(n)]
    random.Random(f"tiers-{seed}").shuffle(tiers)
    return tiers


@dataclass(frozen=True)
class Line:
    line_id: str
    machines: tuple[str, ...]
    part_number: str
    meter_id: str


@dataclass(frozen=True)
class Supplier:
    supplier_id: str
    name: str
    sector: str
    sponsor_id: str
    site_id: str
    lines: tuple[Line, ...]
    go_live: date
    uplift: float  # relative productivity gain after go-live, e.g. 0.51
    tier: DataTier = DataTier.INTERMEDIATE_2  # what it sends (the default: everything)
    second_sponsor_id: str | None = None  # a second sponsor, supplied on alternate days

    @property
    def sponsor_ids(self) -> tuple[str, ...]:
        return (
            (self.sponsor_id,)
            if self.second_sponsor_id is None
            else (
                self.sponsor_id,
                self.second_sponsor_id,
            )
        )

    def buyer_on(self, day: date) -> str:
        """The sponsor a day's work is for: with two sponsors, each gets every other day
        (orders, production and the shipment of that day)."""
        ids = self.sponsor_ids
        return ids[day.toordinal() % len(ids)]

    @property
    def base_rate(self) -> float:
        return float(SECTORS[self.sector]["rate"])


@dataclass(frozen=True)
class Sponsor:
    sponsor_id: str
    name: str


@dataclass
class World:
    sponsors: list[Sponsor]
    suppliers: list[Supplier]
    start: date
    days: int
    parts: dict[str, list[str]] = field(default_factory=dict)

    def reference(self) -> dict[str, Any]:
        """Reference data (organisations, sites, lines, parts, cycle times) as the YAML file
        holds it."""
        return {
            "organisations": [
                {"org_id": s.sponsor_id, "name": s.name, "role": "buyer"} for s in self.sponsors
            ]
            + [
                {
                    "org_id": s.supplier_id,
                    "name": s.name,
                    "role": "supplier",
                    "sector": s.sector,
                    "sponsor_id": s.sponsor_id,
                    "go_live": s.go_live.isoformat(),
                    "timezone": "Asia/Seoul",
                }
                for s in self.suppliers
            ],
            "sites": [
                {"site_id": s.site_id, "supplier_id": s.supplier_id, "timezone": "Asia/Seoul"}
                for s in self.suppliers
            ],
            "lines": [
                {
                    "line_id": line.line_id,
                    "site_id": s.site_id,
                    "supplier_id": s.supplier_id,
                    "machines": list(line.machines),
                    "meter_id": line.meter_id,
                }
                for s in self.suppliers
                for line in s.lines
            ],
            "parts": [
                {"part_number": p, "supplier_id": s.supplier_id}
                for s in self.suppliers
                for p in SECTORS[s.sector]["parts"]
            ],
            "cycle_times": [
                {
                    "site_id": s.site_id,
                    "line_id": line.line_id,
                    "part_number": line.part_number,
                    "supplier_id": s.supplier_id,
                    "ideal_cycle_seconds": ideal_cycle_seconds(s),
                }
                for s in self.suppliers
                for line in s.lines
            ],
        }


def sponsorships_of(world: World) -> list[tuple[str, str, date]]:
    """(buyer, supplier, go-live) of the programme: each supplier's sponsors (every fourth
    supplier has a second one, see `build_world`)."""
    return [(b, s.supplier_id, s.go_live) for s in world.suppliers for b in s.sponsor_ids]


def ideal_cycle_seconds(supplier: Supplier) -> float:
    """The rated seconds per unit of a supplier's lines: 15 % faster than the best rate
    the simulator ever runs them at (base rate x (1 + uplift), up to 5 % above on a good
    report), so a simulated line's OEE effectiveness stays below 1."""
    return round(3600 / (supplier.base_rate * (1 + supplier.uplift) * 1.15), 6)


def monday_on_or_before(day: date) -> date:
    """The Monday of `day`'s week: `day` itself when it is a Monday."""
    return day - timedelta(days=day.weekday())


def recent_start(today: date, days: int) -> date:
    """First day of a `days`-day window in the recent past: the Monday on or before
    `today - days`.

    The window lies before `today` (its last day is at most yesterday) and starts on a
    Monday, so for any `days >= 1` and any weekday of `today` it holds shifts (the
    simulator's factories work on weekdays only). Pass the UTC date as `today` when the
    events go to Kafka with the broker's current timestamps: validation refuses event
    times ahead of their receipt. Raises `ValueError` when `days < 1`.
    """
    if days < 1:
        raise ValueError(f"a simulated window needs at least one day, not {days=}")
    return monday_on_or_before(today - timedelta(days=days))


def build_world(
    seed: int, suppliers: int, start: date, days: int, *, id_prefix: str = "S"
) -> World:
    """The programme for `suppliers` suppliers (ids `<id_prefix>0001`, …), deterministic
    by `seed`."""
    rng = random.Random(f"world-{seed}")
    sponsors = [
        Sponsor(f"B{i + 1:02d}", name)
        for i, name in enumerate(SPONSOR_NAMES[: max(1, min(5, suppliers // 6 + 1))])
    ]
    sectors = sorted(SECTORS)
    # A random stream of their own: the tiers leave names, lines and go-lives as they were.
    tiers = assign_tiers(seed, suppliers)
    made: list[Supplier] = []
    used_names: set[str] = set()
    for i in range(suppliers):
        sector = sectors[i % len(sectors)]
        while True:
            name = f"{rng.choice(SYLLABLES)}{rng.choice(SYLLABLES).lower()} {rng.choice(SUFFIXES)}"
            if name not in used_names:
                used_names.add(name)
                break
        supplier_id = f"{id_prefix}{i + 1:04d}"
        lines = tuple(
            Line(
                line_id=f"L{n + 1}",
                machines=tuple(f"M{n + 1}{m + 1}" for m in range(2)),
                part_number=SECTORS[sector]["parts"][n % len(SECTORS[sector]["parts"])],
                meter_id=f"EM-{n + 1}",
            )
            for n in range(rng.randint(1, 3))
        )
        # Go-live in the middle half of the window, so both sides have data.
        go_live = start + timedelta(days=rng.randint(days // 4, max(days // 4, 3 * days // 4)))
        made.append(
            Supplier(
                supplier_id=supplier_id,
                name=name,
                sector=sector,
                sponsor_id=sponsors[i % len(sponsors)].sponsor_id,
                # every fourth supplier also works for the next sponsor
                second_sponsor_id=sponsors[(i + 1) % len(sponsors)].sponsor_id
                if len(sponsors) > 1 and i % 4 == 3
                else None,
                site_id=f"{supplier_id}-P1",
                lines=lines,
                go_live=go_live,
                # one draw, as the uniform range it replaces: the rest of the world is the same
                uplift=round(
                    (1 + REPORTED_GAINS[sector] + rng.uniform(-GAIN_SPREAD, GAIN_SPREAD))
                    / STOPS_AND_SCRAP_GAIN
                    - 1,
                    3,
                ),
                tier=tiers[i],
            )
        )
    return World(sponsors, made, start, days)
