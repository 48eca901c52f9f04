"""Property: whatever is produced into the supplier topics, ingest never fails, and every
record read is landed, a duplicate or quarantined, exactly once, on both databases.

Hypothesis mixes valid events (some sent twice) with arbitrary bytes, bytes behind a
real schema id, tombstones and contract-shaped records holding extreme values (NaN,
±Inf, huge and tiny floats, any int64, NUL, long unicode, empty strings, timestamps
past year 9999 or before year 1), written by fastavro alone and produced straight into
Kafka. Each example is ingested until caught up by the same pieces the `ingest` job
uses (`build_ingestor` with the dead-letter producer, the supplier topic reader).
"""

import math
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from connectors.kafka.consumer import SupplierTopicReader
from connectors.kafka.dlq import DeadLetterProducer
from pipelines.ingest import BatchOutcome, Ingestor, build_ingestor, ingest_once
from pipelines.validation.suites import TimeWindow
from sangsaeng.db import make_engine
from schemas.contracts import contract
from schemas.registry.client import RegistryClient
from schemas.topics import EventType, supplier_topic
from tests.integration.ingest_state import read_state
from tests.integration.ingest_world import IngestWorld, Sent
from tests.integration.test_ingest import dead_letters, end_offsets

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

EXAMPLES = 40  # per database; each produces and ingests a few records (about a second)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1.7976931348623157e308, -1e308, 5e-324, -0.0, 0.0, 1e-300]
) | st.floats(allow_nan=True, allow_infinity=True)
STRINGS = (
    st.sampled_from(["", "\x00", "LOT\x00-1", " ", "\u200b", "\U0001f3ed" * 3000])
    | st.text(max_size=40)
    | st.text(min_size=2000, max_size=5000)
)
# Milliseconds since 1970: past year 9999 or before year 1 (the reader cannot represent
# them), any moment in between (validation judges it), or any int64.
TIMESTAMPS = (
    st.sampled_from([253_402_300_800_000, -62_135_596_800_001, 0, -1, 2**63 - 1, -(2**63)])
    | st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999)
    | INT64
)


def values(avro: Any) -> st.SearchStrategy[Any]:
    """Values fastavro will write for an Avro type, extreme ones first."""
    if isinstance(avro, list):
        return st.one_of([values(option) for option in avro])
    if isinstance(avro, str):
        return {
            "null": st.none(),
            "double": FLOATS,
            "float": FLOATS,
            "long": st.sampled_from([2**63 - 1, -(2**63), 0, -1]) | INT64,
            "int": st.integers(min_value=-(2**31), max_value=2**31 - 1),
            "string": STRINGS,
            "boolean": st.booleans(),
        }[avro]
    logical = avro.get("logicalType")
    if logical == "uuid":
        return st.uuids().map(str) | st.uuids().map(str) | st.text(max_size=40)
    if logical in ("timestamp-millis", "timestamp-micros"):
        return TIMESTAMPS
    if logical == "date":
        return st.integers(min_value=-(2**31), max_value=2**31 - 1)
    kind = avro["type"]
    if kind == "enum":
        return st.sampled_from(avro["symbols"])
    if kind == "array":
        return st.lists(values(avro["items"]), max_size=3)
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: values(f["type"]) for f in avro["fields"]})
    return values(kind)


# Per event type, one to three of its fields replaced by extreme values (the rest clean).
FIELDS = {e: {f["name"]: values(f["type"]) for f in contract(e)["fields"]} for e in EventType}
OVERRIDES = {
    e: st.sets(st.sampled_from(sorted(FIELDS[e])), min_size=1, max_size=3).flatmap(
        lambda names, e=e: st.fixed_dictionaries({n: FIELDS[e][n] for n in sorted(names)})
    )
    for e in EventType
}

# What one produced record is: (kind, event type, supplier index, detail).
records = st.one_of(
    st.tuples(st.just("valid"), st.sampled_from(EventType), st.integers(0, 2), st.booleans()),
    st.sampled_from(EventType).flatmap(
        lambda e: st.tuples(st.just("extreme"), st.just(e), st.integers(0, 2), OVERRIDES[e])
    ),
    st.tuples(
        st.just("bytes"), st.sampled_from(EventType), st.integers(0, 2), st.binary(max_size=200)
    ),
    st.tuples(
        st.just("framed"), st.sampled_from(EventType), st.integers(0, 2), st.binary(max_size=200)
    ),
    st.tuples(st.just("tombstone"), st.sampled_from(EventType), st.integers(0, 2), st.none()),
)


class Producer:
    """Sends what Hypothesis drew into `world`'s topics; clean events from its programme."""

    def __init__(self, world: IngestWorld) -> None:
        self.world = world
        self.pool: dict[EventType, list[tuple[str, dict[str, Any]]]] = {}
        for event_type, supplier_id, record in world.events():
            self.pool.setdefault(event_type, []).append((supplier_id, record))
        self.suppliers = [s.supplier_id for s in world.world.suppliers]

    def send(self, kind: str, event_type: EventType, supplier: int, detail: Any) -> list[Sent]:
        world = self.world
        topic = supplier_topic(self.suppliers[supplier % len(self.suppliers)], event_type)
        if kind == "bytes":
            return [world.send_raw(topic, detail, None, "quarantine")]
        if kind == "framed":
            header = world.serializers[event_type].header
            return [world.send_raw(topic, header + detail, None, "any")]
        if kind == "tombstone":
            return [world.send_raw(topic, None, None, "quarantine")]
        pool = self.pool[event_type]  # a clean record of the programme, as a new event
        supplier_id, record = pool[len(self.world.sent) % len(pool)]
        record = dict(record, event_id=uuid.uuid4())
        if kind == "valid":
            sent = world.send(event_type, supplier_id, record, "land")
            if not detail:
                return [sent]
            return [sent, world.send_raw(sent.topic, sent.value, sent.event_id, "duplicate")]
        broken = {**record, **detail}
        value = world.encode_unchecked(event_type, broken)
        return [world.send_raw(supplier_topic(supplier_id, event_type), value, None, "any")]


def _ingest_until_caught_up(ingestor: Ingestor, reader: SupplierTopicReader) -> list[BatchOutcome]:
    outcomes = []
    while (outcome := ingest_once(reader, ingestor, max_records=200, max_seconds=20)).read:
        outcomes.append(outcome)
    return outcomes


@pytest.fixture
def ingest(world: IngestWorld, db_url: str) -> Iterator[tuple[Ingestor, SupplierTopicReader]]:
    world.load_reference(db_url)
    engine = make_engine(db_url)
    dlq = DeadLetterProducer(world.bootstrap)
    reader = SupplierTopicReader(world.bootstrap, topics=world.setting_values("")["ingest_topics"])
    ingestor = build_ingestor(
        engine,
        RegistryClient(world.registry_url, world.registry_auth),
        TimeWindow(),
        dead_letters=dlq,
    )
    try:
        yield ingestor, reader
    finally:
        reader.close()
        dlq.close()
        engine.dispose()


def test_no_record_stops_ingest_and_every_record_is_accounted_once(
    world: IngestWorld, db_url: str, ingest: tuple[Ingestor, SupplierTopicReader]
) -> None:
    ingestor, reader = ingest
    producer = Producer(world)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # no example files in the worktree
        phases=[Phase.generate],  # shrinking replays against the same topics: misleading
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(records, min_size=1, max_size=8))
    def ingest_whatever_arrives(drawn: list[tuple[str, EventType, int, Any]]) -> None:
        sent = [s for item in drawn for s in producer.send(*item)]
        world.flush()

        outcomes = _ingest_until_caught_up(ingestor, reader)  # raises if ingest failed

        assert sum(o.read for o in outcomes) == len(sent), (drawn, outcomes)
        for o in outcomes:
            accounted = sum(o.landed.values()) + sum(o.duplicates.values())
            assert o.read == accounted + sum(o.quarantined.values())
        state = read_state(db_url)
        landed = {(t, p, o) for _, _, t, p, o in state.landed}
        duplicates = {(t, p, o) for t, p, o, _ in state.duplicates}
        quarantined = set(state.quarantined)
        for s in sent:
            where = s.where
            assert [where in landed, where in duplicates, where in quarantined].count(True) == 1
            if s.expect == "land":
                assert where in landed, (s, state.quarantined.get(where))
            elif s.expect == "duplicate":
                assert where in duplicates
            elif s.expect == "quarantine":
                assert where in quarantined
        assert state.landed_rows == len(state.landed), "an event_id landed twice"

    ingest_whatever_arrives()

    state = read_state(db_url)
    assert sum(state.offsets.values()) == (
        len(state.landed) + len(state.duplicates) + state.quarantine_rows
    )
    assert state.offsets == {tp: end for tp, end in end_offsets(world).items() if end > 0}
    assert dead_letters(world) == Counter({where: 1 for where in state.quarantined})
