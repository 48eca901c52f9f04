"""Produce and consume through the real broker; committed group offsets survive restarts."""

import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.kafka.admin import ensure_topics
from sangsaeng.errors import TransientError
from tests.support import kafka_login

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _topic() -> str:
    return f"test.roundtrip.{uuid.uuid4().hex[:8]}"


def _produce(bootstrap: str, topic: str, n: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_login(), acks="all")
    for i in range(n):
        producer.send(topic, key=f"line-{i % 3}".encode(), value=str(i).encode())
    producer.flush()
    producer.close()


def _consume(consumer: KafkaConsumer, n: int, timeout_s: float = 30) -> list[int]:
    values: list[int] = []
    deadline = time.monotonic() + timeout_s
    while len(values) < n and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200, max_records=n - len(values)).values():
            values.extend(int(r.value) for r in records)
    return values


def test_ensure_topics_is_idempotent_and_auto_create_is_off(kafka_bootstrap):
    topic = _topic()
    assert ensure_topics(kafka_bootstrap, {topic: 3}) == [topic]
    assert ensure_topics(kafka_bootstrap, {topic: 3}) == []

    # Auto topic creation is off: a producer cannot conjure a topic by typo.
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_login(), max_block_ms=2000)
    with pytest.raises(Exception, match=r"not present in metadata|Timeout"):
        producer.send(f"{topic}.typo", b"x").get(timeout=5)
    producer.close()


def test_ensure_topics_without_broker_says_what_to_do():
    with pytest.raises(TransientError, match="sangsaeng stack up"):
        ensure_topics("127.0.0.1:1", {"x": 1}, timeout_s=1)


def test_committed_offset_survives_consumer_restart(kafka_bootstrap):
    topic, group = _topic(), f"g-{uuid.uuid4().hex[:6]}"
    ensure_topics(kafka_bootstrap, {topic: 3})
    _produce(kafka_bootstrap, topic, 60)

    def consumer() -> KafkaConsumer:
        return KafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            **kafka_login(),
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )

    first = consumer()
    head = _consume(first, 25)
    assert len(head) == 25
    first.commit()
    first.close()

    second = consumer()
    tail = _consume(second, 35)
    extra = second.poll(timeout_ms=1000)  # the group resumed, so nothing more comes
    second.commit()
    partitions = [TopicPartition(topic, p) for p in range(3)]
    committed = sum(second.committed(tp) for tp in partitions)
    end = sum(second.end_offsets(partitions).values())
    second.close()

    assert len(tail) == 35
    assert sorted(head + tail) == list(range(60)), "every record exactly once across restarts"
    assert not extra
    assert committed == end == 60


def test_group_rebalances_partitions_between_members(kafka_bootstrap):
    topic, group = _topic(), f"g-{uuid.uuid4().hex[:6]}"
    ensure_topics(kafka_bootstrap, {topic: 4})
    _produce(kafka_bootstrap, topic, 40)

    def member() -> KafkaConsumer:
        return KafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            **kafka_login(),
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            heartbeat_interval_ms=500,
            session_timeout_ms=10000,
        )

    a = member()
    _consume(a, 1)
    assert len(a.assignment()) == 4

    b = member()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        a.poll(timeout_ms=100)
        b.poll(timeout_ms=100)
        if len(a.assignment()) == 2 and len(b.assignment()) == 2:
            break
    parts_a = {tp.partition for tp in a.assignment()}
    parts_b = {tp.partition for tp in b.assignment()}
    a.close()
    b.close()
    assert parts_a | parts_b == {0, 1, 2, 3}
    assert not parts_a & parts_b
    assert len(parts_a) == len(parts_b) == 2
