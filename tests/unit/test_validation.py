"""The Great Expectations suites and runner on in-memory events (real GX, no services).

Nothing here reads the clock: the programme is pinned (`tests.worlds.PINNED_START`) and
each record's Kafka timestamp, its receipt, is derived from its event time.
"""

import dataclasses
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.simulator.events import generate
from governance.reference import ReferenceFile, ReferenceSets
from pipelines.decode import Event
from pipelines.validation.runner import Validator
from pipelines.validation.suites import TimeWindow
from schemas.topics import EventType, supplier_topic
from tests.worlds import validation_world

pytestmark = pytest.mark.unit

WORLD = validation_world()
# How long after its event time each record reached Kafka.
TRANSIT = timedelta(seconds=90)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes | None = None
    headers: tuple = ()


def reference_sets() -> ReferenceSets:
    data = ReferenceFile.model_validate(WORLD.reference())
    return ReferenceSets(
        suppliers=frozenset(o.org_id for o in data.organisations if o.role == "supplier"),
        sites=frozenset(f"{s.supplier_id}/{s.site_id}" for s in data.sites),
        lines=frozenset(f"{x.site_id}/{x.line_id}" for x in data.lines),
        parts=frozenset(f"{p.supplier_id}/{p.part_number}" for p in data.parts),
    )


VALIDATOR = Validator(reference_sets(), TimeWindow(future_seconds=300, horizon_seconds=30 * 86400))


def received(payload: dict[str, Any]) -> datetime:
    """When the (unbroken) record reached Kafka: its event time plus `TRANSIT`."""
    return payload["event_time"] + TRANSIT


def events_of(event_type: EventType, n: int = 20) -> list[Event]:
    out = []
    for i, e in enumerate(generate(WORLD, seed=3, bad_rate=0)):
        if e.event_type == event_type.value:
            payload = dict(e.record, event_id=str(e.record["event_id"]))
            received_ms = int(received(e.record).timestamp() * 1000)
            source = Record(supplier_topic(e.supplier_id, event_type), 0, i, received_ms)
            out.append(Event(source, event_type, e.supplier_id, payload))
        if len(out) == n:
            break
    return out


def broken(event_type: EventType, **changes: Any) -> tuple[list[Event], int]:
    events = events_of(event_type)
    row = len(events) // 2
    for key, value in changes.items():
        events[row].payload[key] = value(events[row].payload) if callable(value) else value
    return events, row


@pytest.mark.parametrize("event_type", list(EventType))
def test_clean_events_pass(event_type: EventType) -> None:
    events = events_of(event_type)
    outcome = VALIDATOR.validate(event_type, events)
    assert outcome.failed == {}
    assert outcome.passed == list(range(len(events)))
    assert outcome.results and all(r.success for r in outcome.results)


CASES = [
    (EventType.PRODUCTION, {"quantity_scrap": -1.0}, "quantity_scrap_not_negative", "-1.0"),
    (EventType.PRODUCTION, {"part_number": "X-1"}, "known_part", "/X-1"),
    (EventType.PRODUCTION, {"work_order_id": ""}, "work_order_id_required", ""),
    (
        EventType.PRODUCTION,
        {"end_time": lambda p: p["start_time"] - timedelta(seconds=1)},
        "end_time_not_before_start_time",
        None,
    ),
    (
        EventType.QUALITY,
        {"defect_quantity": lambda p: p["inspected_quantity"] + 1},
        "defect_quantity_not_above_inspected",
        None,
    ),
    (EventType.MACHINE_STATUS, {"line_id": "L42"}, "known_line", "/L42"),
    (EventType.MACHINE_STATUS, {"site_id": "ELSEWHERE"}, "known_site", "/ELSEWHERE"),
    (EventType.MACHINE_STATUS, {"supplier_id": "S9999"}, "supplier_id_matches_topic", "S9999"),
    (
        EventType.ENERGY,
        {"event_time": lambda p: received(p) + timedelta(hours=1)},
        "event_time_not_in_future",
        None,
    ),
    (
        EventType.ENERGY,
        {"event_time": lambda p: received(p) - timedelta(days=31)},
        "event_time_within_horizon",
        None,
    ),
    (EventType.ENERGY, {"energy_kwh": 1e12}, "energy_physical_bound", None),
    (
        EventType.ENERGY,
        {"period_end": lambda p: p["period_start"]},
        "period_end_after_period_start",
        None,
    ),
    (EventType.SHIPMENT, {"quantity": -3.0}, "quantity_not_negative", "-3.0"),
    (EventType.SHIPMENT, {"ordered_quantity": -5.0}, "ordered_quantity_not_negative", "-5.0"),
    # NaN passes `between` in GX (a missing value); as values they fail, optional ones too.
    (EventType.PRODUCTION, {"quantity_good": math.nan}, "finite_numbers", "nan"),
    (EventType.PRODUCTION, {"planned_quantity": math.nan}, "finite_numbers", "nan"),
    (EventType.SHIPMENT, {"quantity": math.inf}, "finite_numbers", "inf"),
    (EventType.ENERGY, {"energy_kwh": -math.inf}, "finite_numbers", "-inf"),
    (
        EventType.QUALITY,
        {"measurements": lambda p: [dict(m, usl=math.inf) for m in p["measurements"]]},
        "finite_numbers",
        "inf",
    ),
    (EventType.PRODUCTION, {"lot_id": "LOT\x00"}, "no_nul_characters", "LOT\\x00"),
    (EventType.MACHINE_STATUS, {"reason_code": "\x00"}, "no_nul_characters", "\\x00"),
]


@pytest.mark.parametrize(("event_type", "changes", "rule", "value"), CASES)
def test_a_broken_row_fails_its_rule_only(
    event_type: EventType, changes: dict, rule: str, value: str | None
) -> None:
    events, row = broken(event_type, **changes)
    outcome = VALIDATOR.validate(event_type, events)
    assert set(outcome.failed) == {row}, outcome.failed
    reasons = outcome.failed[row]
    assert rule in {r.rule for r in reasons}
    reason = next(r for r in reasons if r.rule == rule)
    assert reason.message.startswith(rule + ": ")
    if value is not None:
        assert value in (reason.value or "")
    assert row not in outcome.passed and len(outcome.passed) == len(events) - 1
    assert outcome.failed_rules[rule] == 1


def test_duplicate_event_ids_in_one_batch_fail_uniqueness() -> None:
    events = events_of(EventType.MACHINE_STATUS, 5)
    events[3].payload["event_id"] = events[1].payload["event_id"]
    outcome = VALIDATOR.validate(EventType.MACHINE_STATUS, events)
    assert set(outcome.failed) == {1, 3}
    assert {r.rule for r in outcome.failed[3]} == {"event_id_unique"}


def test_unknown_supplier_fails_even_with_a_consistent_payload() -> None:
    events = events_of(EventType.MACHINE_STATUS, 4)
    stranger = Event(
        Record("sup.Z0001.machine_status", 0, 99, events[0].source.timestamp),
        EventType.MACHINE_STATUS,
        "Z0001",
        dict(events[0].payload, supplier_id="Z0001", event_id=str(uuid.uuid4())),
    )
    outcome = VALIDATOR.validate(EventType.MACHINE_STATUS, [*events, stranger])
    assert {r.rule for r in outcome.failed[4]} >= {"known_supplier", "known_site"}
    assert set(outcome.failed) == {4}


def test_an_empty_batch_is_not_validated() -> None:
    outcome = VALIDATOR.validate(EventType.ENERGY, [])
    assert (outcome.checked, outcome.passed, outcome.failed, outcome.results) == (0, [], {}, [])


def test_a_non_finite_or_nul_value_is_named_with_its_path() -> None:
    events = events_of(EventType.QUALITY, 6)
    events[2].payload["measurements"] = [
        {"characteristic": "bore", "value": 1.0, "lsl": None, "usl": None, "unit": "MMT"},
        {"characteristic": "b\x00", "value": math.nan, "lsl": None, "usl": None, "unit": "MMT"},
    ]
    outcome = VALIDATOR.validate(EventType.QUALITY, events)
    assert set(outcome.failed) == {2}
    reasons = {r.rule: r for r in outcome.failed[2]}
    assert reasons["finite_numbers"].field == "measurements[1].value"
    assert reasons["finite_numbers"].message == "finite_numbers: measurements[1].value=nan"
    assert reasons["no_nul_characters"].field == "measurements[1].characteristic"
    assert "\x00" not in reasons["no_nul_characters"].message  # shown as \\x00, storable


def test_missing_optional_numbers_pass() -> None:
    events = events_of(EventType.PRODUCTION, 6)
    for e in events:
        e.payload["planned_quantity"] = None
    assert VALIDATOR.validate(EventType.PRODUCTION, events).failed == {}


@pytest.mark.parametrize("timestamp", [-(2**63), -1, 2**62, 2**63 - 1])
def test_any_kafka_timestamp_is_measured_and_refused_when_far(timestamp: int) -> None:
    # A producer sets the record's timestamp: pandas' datetimes end in 2262, and NaT
    # would have passed both windows.
    events = events_of(EventType.PRODUCTION, 4)
    events[1].source = dataclasses.replace(events[1].source, timestamp=timestamp)
    outcome = VALIDATOR.validate(EventType.PRODUCTION, events)
    assert set(outcome.failed) == {1}
    assert {r.rule for r in outcome.failed[1]} <= {
        "event_time_not_in_future",
        "event_time_within_horizon",
    }
