"""A small simulated programme on the session broker, for the ingest tests.

Each `IngestWorld` has its own supplier id prefix, so its topics are its own on the
shared broker, and knows exactly what it produced: the valid events, the invalid ones
(with the rule each must be quarantined for), the duplicates and the poison records.
Records are produced raw (KafkaProducer + our serializer) because the supplier edge
refuses most of these before they reach Kafka.

Kafka stamps each record with the producer's clock when it is sent (CreateTime), and
validation measures `event_time` against that receipt. So the programme lies in the
recent past (`today` is the injected clock, the UTC date by default), and the events
broken for their time are set relative to the moment they are sent.
"""

import io
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastavro import schemaless_writer
from kafka import KafkaProducer

from connectors.kafka.admin import ensure_topics
from connectors.simulator.events import generate
from connectors.simulator.world import World
from governance.reference import ReferenceFile, load_reference
from sangsaeng.settings import Settings, load_settings
from schemas.serde import AvroSerializer, frame
from schemas.topics import EventType, dlq_topic, supplier_topic
from tests.support import kafka_login, upgraded_engine
from tests.worlds import INGEST_DAYS, INGEST_SEED, INGEST_SUPPLIERS, ingest_programme


def _received_in(delta: timedelta) -> datetime:
    """`delta` from now, the moment the record is sent and so its Kafka timestamp."""
    return datetime.now(UTC) + delta  # clock-ok: the Kafka timestamp is the send time


# Invalid events: (event type, rule it must be quarantined for, how to break a record;
# `other` is another supplier of the world, for the spoof).
INVALID: list[tuple[EventType, str, Any]] = [
    (
        EventType.PRODUCTION,
        "quantity_good_not_negative",
        lambda r, other: r.update(quantity_good=-5.0),
    ),
    (EventType.PRODUCTION, "known_part", lambda r, other: r.update(part_number="NO-SUCH-PART")),
    (EventType.PRODUCTION, "lot_id_required", lambda r, other: r.update(lot_id="")),
    (
        EventType.PRODUCTION,
        "end_time_not_before_start_time",
        lambda r, other: r.update(end_time=r["start_time"] - timedelta(minutes=5)),
    ),
    (
        EventType.QUALITY,
        "defect_quantity_not_above_inspected",
        lambda r, other: r.update(defect_quantity=r["inspected_quantity"] + 3),
    ),
    (EventType.MACHINE_STATUS, "known_line", lambda r, other: r.update(line_id="L99")),
    (EventType.MACHINE_STATUS, "known_site", lambda r, other: r.update(site_id="NOWHERE-P9")),
    (
        EventType.MACHINE_STATUS,
        "supplier_id_matches_topic",
        lambda r, other: r.update(supplier_id=other),
    ),
    (
        EventType.ENERGY,
        "event_time_not_in_future",
        lambda r, other: r.update(event_time=_received_in(timedelta(days=1))),
    ),
    (
        EventType.ENERGY,
        "event_time_within_horizon",
        lambda r, other: r.update(event_time=_received_in(-timedelta(days=400))),
    ),
    (EventType.ENERGY, "energy_physical_bound", lambda r, other: r.update(energy_kwh=5e9)),
    (
        EventType.SHIPMENT,
        "delivered_at_not_before_shipped_at",
        lambda r, other: r.update(delivered_at=r["shipped_at"] - timedelta(days=1)),
    ),
]
POISON = [
    "not_confluent_framing",
    "unknown_schema_id",
    "undecodable_avro",
    "schema_of_wrong_record",
]


@dataclass
class Sent:
    """A record produced to Kafka, and what ingest must make of it."""

    topic: str
    value: bytes | None
    event_id: str | None
    expect: str  # "land", "duplicate", or the rule/poison code it must be quarantined for
    future: Any = None

    @property
    def where(self) -> tuple[str, int, int]:
        """(topic, partition, offset) once the broker acknowledged it."""
        metadata = self.future.get(timeout=30)
        return self.topic, metadata.partition, metadata.offset


@dataclass
class IngestWorld:
    bootstrap: str
    registry_url: str
    registry_auth: tuple[str, str]
    prefix: str = field(default_factory=lambda: "T" + uuid.uuid4().hex[:5])
    suppliers: int = INGEST_SUPPLIERS
    days: int = INGEST_DAYS
    seed: int = INGEST_SEED
    today: date = field(default_factory=lambda: datetime.now(UTC).date())  # clock-ok: injected
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.world: World = ingest_programme(
            self.today,
            seed=self.seed,
            suppliers=self.suppliers,
            days=self.days,
            id_prefix=self.prefix,
        )
        topics = {
            supplier_topic(s.supplier_id, e): 3 for s in self.world.suppliers for e in EventType
        }
        topics.update({dlq_topic(e): 1 for e in EventType})
        ensure_topics(self.bootstrap, topics)
        from schemas.registry.client import RegistryClient

        client = RegistryClient(self.registry_url, self.registry_auth)
        self.serializers = {e: AvroSerializer.for_event_type(client, e) for e in EventType}
        self.producer = KafkaProducer(
            bootstrap_servers=self.bootstrap, **kafka_login(), acks="all", linger_ms=5
        )
        self.rng = random.Random(self.seed)

    # -- settings -----------------------------------------------------------------------

    def settings(self, database_url: str, **overrides: Any) -> Settings:
        """Settings of an ingest that reads only this world's topics."""
        return load_settings(**self.setting_values(database_url), **overrides)

    def setting_values(self, database_url: str) -> dict[str, str]:
        return {
            "kafka_bootstrap": self.bootstrap,
            "schema_registry_url": self.registry_url,
            "database_url": database_url,
            "registry_auth": ":".join(self.registry_auth),
            "ingest_topics": rf"sup\.{self.prefix}\d+\..+",
        }

    def load_reference(self, database_url: str) -> None:
        engine = upgraded_engine(database_url)  # a fresh database is upgraded first
        load_reference(engine, ReferenceFile.model_validate(self.world.reference()))
        engine.dispose()

    # -- producing ----------------------------------------------------------------------

    def events(self, limit: int | None = None) -> list[tuple[EventType, str, dict[str, Any]]]:
        """Clean simulated events: (type, supplier id, record)."""
        out = []
        for e in generate(self.world, seed=self.seed, bad_rate=0.0):
            out.append((EventType(e.event_type), e.supplier_id, dict(e.record)))
            if limit and len(out) >= limit:
                break
        return out

    def send(
        self, event_type: EventType, supplier_id: str, record: dict[str, Any], expect: str
    ) -> Sent:
        topic = supplier_topic(supplier_id, event_type)
        value = self.serializers[event_type].encode(record, topic=topic)
        return self.send_raw(topic, value, str(record["event_id"]), expect)

    def encode_unchecked(self, event_type: EventType, record: dict[str, Any]) -> bytes:
        """Confluent-framed Avro of `record` written by fastavro alone: NaN, NUL characters,
        timestamps as any int64, what a producer's own client may write and ours refuses."""
        serializer = self.serializers[event_type]
        out = io.BytesIO(serializer.header)
        out.seek(0, io.SEEK_END)
        schemaless_writer(out, serializer.parsed, record)
        return out.getvalue()

    def send_unchecked(
        self, event_type: EventType, supplier_id: str, record: dict[str, Any], expect: str
    ) -> Sent:
        topic = supplier_topic(supplier_id, event_type)
        value = self.encode_unchecked(event_type, record)
        return self.send_raw(topic, value, str(record["event_id"]), expect)

    def send_raw(self, topic: str, value: bytes | None, event_id: str | None, expect: str) -> Sent:
        key = (event_id or "poison").encode()
        future = self.producer.send(topic, key=key, value=value)
        sent = Sent(topic, value, event_id, expect, future)
        self.sent.append(sent)
        return sent

    def flush(self) -> None:
        self.producer.flush(timeout=60)

    def produce_mix(self, valid: int, *, duplicates: int = 0, invalid_each: int = 1) -> None:
        """`valid` clean events, `duplicates` resends of some of them, every invalid kind
        `invalid_each` times, and every kind of poison once, interleaved."""
        events = self.events()
        clean, spare = events[:valid], events[valid:]
        assert len(clean) == valid, f"the world has only {len(clean)} events; give it more days"
        sent_clean = [self.send(t, s, r, "land") for t, s, r in clean]
        by_type: dict[EventType, list[tuple[str, dict[str, Any]]]] = {}
        for t, s, r in spare + clean:
            by_type.setdefault(t, []).append((s, r))
        for _ in range(invalid_each):
            for event_type, rule, breaker in INVALID:
                supplier_id, record = by_type[event_type].pop(0)
                record = dict(record, event_id=str(uuid.uuid4()))
                other = next(
                    s.supplier_id for s in self.world.suppliers if s.supplier_id != supplier_id
                )
                breaker(record, other)
                self.send(event_type, supplier_id, record, rule)
        for original in self.rng.sample(sent_clean, duplicates):
            self.send_raw(original.topic, original.value, original.event_id, "duplicate")
        self.send_poison()
        self.flush()

    def send_poison(self) -> None:
        first = self.world.suppliers[0].supplier_id
        production = supplier_topic(first, EventType.PRODUCTION)
        quality = supplier_topic(first, EventType.QUALITY)
        record = next(r for t, _, r in self.events(50) if t is EventType.PRODUCTION)
        good = self.serializers[EventType.PRODUCTION].encode(
            dict(record, event_id=str(uuid.uuid4()))
        )
        self.send_raw(production, b"hello, not avro", None, "not_confluent_framing")
        self.send_raw(production, frame(987_654) + good[5:], None, "unknown_schema_id")
        self.send_raw(production, good[:-7], None, "undecodable_avro")
        self.send_raw(quality, good, None, "schema_of_wrong_record")

    # -- expectations -------------------------------------------------------------------

    @property
    def expected(self) -> Counter[str]:
        return Counter(s.expect for s in self.sent)

    def close(self) -> None:
        self.producer.close(timeout=10)
