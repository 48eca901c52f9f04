"""A simulated programme of 300 suppliers, landed and refreshed, shows the national
maturity distribution (DOMAIN.md: 80 % basic, 18.7 % intermediate 1, 1.5 % intermediate
2, advanced virtually absent), each supplier at the level its data tier sends.

Two weekdays only (the 2-core budget): enough for every level but advanced, which needs
8 weeks and is virtually absent nationally. The events land straight in the landing
tables as ingest lands them (`views_support.land`: Kafka timestamp = event time), and
only the views maturity reads are refreshed. SQLite only: the two databases' agreement
is the views' own tests' business; this one is about the simulator and the rules.

Tolerance: each level's share within 1.5 percentage points of the national one (1 point
for intermediate 2), and no supplier above its tier. A supplier can fall one level short
by chance: an intermediate 2 line whose two days hold no out-of-control measurement has
shown no control yet (about 1 in 16 for a one-line supplier).
"""

from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.simulator.events import generate
from connectors.simulator.world import NATIONAL_SHARES, build_world
from pipelines.views.read import view_rows
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.support import upgraded_engine
from tests.views_support import land, reference

pytestmark = pytest.mark.integration

SUPPLIERS, DAYS, SEED = 300, 2, 2024
START = date(2026, 1, 5)  # a Monday: two weekdays
TOLERANCE = {"basic": 0.015, "intermediate 1": 0.015, "intermediate 2": 0.01}
RANK = {"none": 0, "basic": 1, "intermediate 1": 2, "intermediate 2": 3, "advanced": 4}


def test_a_simulated_programme_of_300_shows_the_national_distribution(tmp_path: Path) -> None:
    engine = upgraded_engine(f"sqlite:///{tmp_path / 'programme.db'}")
    world = build_world(SEED, SUPPLIERS, START, DAYS)
    reference(engine, world.reference())
    rows: dict[EventType, list[dict[str, Any]]] = defaultdict(list)
    for event in generate(world, seed=SEED, bad_rate=0.0):
        rows[EventType(event.event_type)].append(event.record)
    for event_type, landed in rows.items():
        land(engine, event_type, landed)
    refresh(engine, load_settings(), ["data_readiness", "capability_weekly", "supplier_maturity"])

    levels = {r["supplier_id"]: r["level"] for r in view_rows(engine, "supplier_maturity")}
    assert len(levels) == SUPPLIERS  # one week, one row each
    shares = {level: n / SUPPLIERS for level, n in Counter(levels.values()).items()}
    total = sum(NATIONAL_SHARES.values())
    for tier, national in NATIONAL_SHARES.items():
        assert abs(shares.get(tier.value, 0.0) - national / total) <= TOLERANCE[tier.value], shares
    assert shares.get("none", 0.0) == shares.get("advanced", 0.0) == 0.0
    tiers = {s.supplier_id: s.tier.value for s in world.suppliers}
    assert all(RANK[levels[s]] <= RANK[t] for s, t in tiers.items())  # never above its tier
    assert sum(levels[s] == t for s, t in tiers.items()) >= SUPPLIERS - 3
