"""No record stops ingest: what a producer's own client can write, on both databases.

Each reproduction once stopped every later ingest run for every supplier: a timestamp
past year 9999 (the Avro reader raised), NaN (passed the suites, then SQLite's NOT
NULL refused the batch) and ±Infinity (landed as infinity), a NUL character (PostgreSQL
refused the batch). Now each is quarantined with its reason, sent to its dead-letter
topic, and the records around it land. The records are written by fastavro alone (our
serializer and the supplier edge refuse them) and produced straight into Kafka.
"""

import math
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from orchestration.run import run_ingest
from schemas.topics import EventType
from tests.integration.ingest_state import read_state
from tests.integration.ingest_world import IngestWorld, Sent
from tests.integration.test_ingest import dead_letters, end_offsets

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

YEAR_10000_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z, one past datetime.max

# (event type, how to break a clean record, rule, words the reason must hold)
Breaker = Callable[[dict[str, Any]], None]
Poison = tuple[EventType, Breaker, str, str]


def _measurement(value: float) -> dict[str, Any]:
    return {"characteristic": "bore_mm", "value": value, "lsl": None, "usl": None, "unit": "MMT"}


REPRODUCTIONS: dict[str, list[Poison]] = {
    "year_10000": [
        (
            EventType.PRODUCTION,
            lambda r: r.update(event_time=YEAR_10000_MS),
            "undecodable_avro",
            "OverflowError: date value out of range",
        ),
        (
            EventType.SHIPMENT,
            lambda r: r.update(delivered_at=YEAR_10000_MS),  # an optional timestamp
            "undecodable_avro",
            "OverflowError",
        ),
    ],
    "nan_and_infinity": [
        (
            EventType.PRODUCTION,
            lambda r: r.update(quantity_good=math.nan),
            "finite_numbers",
            "quantity_good=nan",
        ),
        (
            EventType.PRODUCTION,
            lambda r: r.update(planned_quantity=math.nan),  # optional: NaN is not null
            "finite_numbers",
            "planned_quantity=nan",
        ),
        (
            EventType.ENERGY,
            lambda r: r.update(energy_kwh=math.inf),
            "finite_numbers",
            "energy_kwh=inf",
        ),
        (
            EventType.SHIPMENT,
            lambda r: r.update(quantity=-math.inf),
            "finite_numbers",
            "quantity=-inf",
        ),
        (
            EventType.QUALITY,
            lambda r: r.update(measurements=[_measurement(1.0), _measurement(math.nan)]),
            "finite_numbers",
            "measurements[1].value=nan",
        ),
    ],
    "nul_character": [
        (
            EventType.PRODUCTION,
            lambda r: r.update(lot_id="LOT\x00-7"),
            "no_nul_characters",
            "lot_id=LOT\\x00-7",
        ),
        (
            EventType.MACHINE_STATUS,
            lambda r: r.update(reason_code="\x00"),  # optional
            "no_nul_characters",
            "reason_code=\\x00",
        ),
        (
            EventType.QUALITY,
            lambda r: r.update(defects=[{"code": "D\x00", "count": 1, "severity": "MINOR"}]),
            "no_nul_characters",
            "defects[0].code=D\\x00",
        ),
    ],
}


def _poisoned(world: IngestWorld, poisons: list[Poison]) -> list[tuple[Sent, str]]:
    """Clean events, each poison record among them; returns each poison and its words."""
    events = world.events()
    clean = events[:30]
    spare: dict[EventType, list[tuple[str, dict[str, Any]]]] = {}
    for event_type, supplier_id, record in events[30:]:
        spare.setdefault(event_type, []).append((supplier_id, record))
    poisoned = []
    for i, (event_type, supplier_id, record) in enumerate(clean):
        world.send(event_type, supplier_id, record, "land")
        if i % 10 == 5 and poisons:
            kind, breaker, rule, words = poisons.pop(0)
            supplier, original = spare[kind].pop(0)
            broken = dict(original, event_id=str(uuid.uuid4()))
            breaker(broken)
            poisoned.append((world.send_unchecked(kind, supplier, broken, rule), words))
    for kind, breaker, rule, words in poisons:  # the rest after the clean ones
        supplier, original = spare[kind].pop(0)
        broken = dict(original, event_id=str(uuid.uuid4()))
        breaker(broken)
        poisoned.append((world.send_unchecked(kind, supplier, broken, rule), words))
    world.flush()
    return poisoned


@pytest.mark.parametrize("reproduction", sorted(REPRODUCTIONS))
def test_a_poison_record_is_quarantined_and_the_others_land(
    world: IngestWorld, db_url: str, reproduction: str
) -> None:
    world.load_reference(db_url)
    poisoned = _poisoned(world, list(REPRODUCTIONS[reproduction]))

    report = run_ingest(world.settings(db_url), until_caught_up=True)
    state = read_state(db_url)

    good = {s.event_id for s in world.sent if s.expect == "land"}
    assert state.landed_ids == good and state.landed_rows == len(good)
    assert set(state.quarantined) == {s.where for s, _ in poisoned}
    engine_rows = _quarantine_reasons(db_url)
    for sent, words in poisoned:
        assert sent.expect in state.quarantined[sent.where], state.quarantined[sent.where]
        messages = [r["message"] for r in engine_rows[sent.where] if r["rule"] == sent.expect]
        assert any(words in m for m in messages), (words, messages)
    assert report.read == len(world.sent)
    assert sum(report.landed.values()) + sum(report.quarantined.values()) == report.read
    assert state.offsets == {tp: end for tp, end in end_offsets(world).items() if end > 0}
    assert dead_letters(world) == Counter({s.where: 1 for s, _ in poisoned})

    again = run_ingest(world.settings(db_url), until_caught_up=True)
    assert again.read == 0
    assert read_state(db_url) == state


def _quarantine_reasons(db_url: str) -> dict[tuple[str, int, int], list[dict[str, Any]]]:
    from sqlalchemy import select

    from pipelines.landing.models import quarantine
    from sangsaeng.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            q = quarantine.c
            return {
                (t, p, o): reasons
                for t, p, o, reasons in conn.execute(
                    select(q.kafka_topic, q.kafka_partition, q.kafka_offset, q.reasons)
                )
            }
    finally:
        engine.dispose()
