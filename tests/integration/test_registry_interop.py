"""Interoperability with an independent client: confluent-kafka's registry client and Avro
serde against our registry, with bytes crossing the real Kafka broker both ways."""

import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer as CfAvroDeserializer
from confluent_kafka.schema_registry.avro import AvroSerializer as CfAvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from kafka import KafkaConsumer, KafkaProducer

from connectors.kafka.admin import ensure_topics
from schemas.contracts import contract_text
from schemas.serde import AvroDeserializer, AvroSerializer
from schemas.topics import EventType, subject_for
from tests.support import kafka_login, librdkafka_login

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

NOW = datetime(2026, 5, 4, 1, 2, 3, 456000, tzinfo=UTC)


def event(i: int) -> dict:
    return {
        "event_id": str(uuid.UUID(int=i + 1)),
        "event_time": NOW,
        "supplier_id": "S0042",
        "site_id": "S0042-P1",
        "source_system": "interop",
        "buyer_id": None,
        "line_id": f"L{i % 3}",
        "machine_id": f"M{i}",
        "state": "RUNNING",
        "reason_code": None if i % 2 else "R7",
    }


def as_read(record: dict) -> dict:
    """How Avro readers (fastavro, ours and confluent's) return it: uuid as uuid.UUID."""
    return {**record, "event_id": uuid.UUID(record["event_id"])}


@pytest.fixture
def confluent_client(registry):
    user, password = registry.auth
    return SchemaRegistryClient({"url": registry.url, "basic.auth.user.info": f"{user}:{password}"})


def _topic(kafka_bootstrap: str) -> str:
    topic = f"sup.S{uuid.uuid4().hex[:4]}.machine_status"
    ensure_topics(kafka_bootstrap, {topic: 1})
    return topic


def test_confluent_serializer_to_our_deserializer_through_kafka(
    registry, confluent_client, kafka_bootstrap
):
    topic = _topic(kafka_bootstrap)
    serializer = CfAvroSerializer(
        confluent_client,
        contract_text(EventType.MACHINE_STATUS),
        conf={"subject.name.strategy": record_subject_name_strategy},
    )
    producer = Producer({"bootstrap.servers": kafka_bootstrap, **librdkafka_login()})
    sent = [event(i) for i in range(20)]
    for record in sent:
        ctx = SerializationContext(topic, MessageField.VALUE)
        producer.produce(topic, value=serializer(record, ctx))
    assert producer.flush(30) == 0

    # Their client registered under our subject naming, in our registry.
    ours = registry.client()
    assert subject_for(EventType.MACHINE_STATUS) in ours.subjects()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        **kafka_login(),
        auto_offset_reset="earliest",
        consumer_timeout_ms=10000,
    )
    reader = AvroDeserializer.for_contracts(ours)
    received = [
        reader.decode(m.value, topic=m.topic, partition=m.partition, offset=m.offset)
        for _, m in zip(range(len(sent)), consumer, strict=False)
    ]
    consumer.close()
    assert received == [as_read(r) for r in sent]


def test_our_serializer_to_confluent_deserializer_through_kafka(
    registry, confluent_client, kafka_bootstrap
):
    topic = _topic(kafka_bootstrap)
    serializer = AvroSerializer.for_event_type(registry.client(), EventType.MACHINE_STATUS)
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, **kafka_login(), value_serializer=serializer
    )
    sent = [event(i) for i in range(20)]
    for record in sent:
        producer.send(topic, record)
    producer.flush()
    producer.close()

    deserializer = CfAvroDeserializer(confluent_client)
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            **librdkafka_login(),
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    received = []
    for _ in range(200):
        if len(received) == len(sent):
            break
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        ctx = SerializationContext(topic, MessageField.VALUE)
        received.append(deserializer(message.value(), ctx))
    consumer.close()
    assert received == [as_read(r) for r in sent]


def test_confluent_client_registry_operations(registry, confluent_client):
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    subject = subject_for(EventType.ENERGY)
    schema = Schema(contract_text(EventType.ENERGY), "AVRO")
    schema_id = confluent_client.register_schema(subject, schema)
    assert confluent_client.lookup_schema(subject, schema).schema_id == schema_id
    latest = confluent_client.get_latest_version(subject)
    assert (latest.version, latest.schema_id) == (1, schema_id)
    assert confluent_client.get_versions(subject) == [1]
    assert confluent_client.get_subjects() == [subject]
    assert confluent_client.get_compatibility() == "BACKWARD_TRANSITIVE"
    assert confluent_client.test_compatibility(subject, schema) is True
    with pytest.raises(SchemaRegistryError) as caught:
        confluent_client.get_version(subject, 5)
    assert caught.value.error_code == 40402
    assert confluent_client.delete_subject(subject) == [1]
