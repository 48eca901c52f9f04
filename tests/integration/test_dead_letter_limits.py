"""A poison record as large as its topic allows: its dead letter (the record plus its
reasons) is over the dead-letter topic's limit, so the broker refuses it for good. Ingest
must not retry that for ever: the letter goes without its payload, marked truncated,
the record itself is quarantined whole, and the good records around it land."""

import os

import pytest
from kafka import KafkaProducer

from connectors.kafka.admin import ensure_topics
from orchestration.run import run_ingest
from pipelines.quarantine import list_quarantine
from sangsaeng.db import make_engine
from schemas.topics import EventType, dlq_topic, supplier_topic
from tests.integration.ingest_state import read_state
from tests.integration.ingest_world import IngestWorld
from tests.support import kafka_login, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def test_a_dead_letter_over_its_topics_limit_does_not_stop_ingest(
    world: IngestWorld, db_url: str
) -> None:
    world.load_reference(db_url)
    good = [e for e in world.events(30) if e[0] is EventType.PRODUCTION][:10]
    for event_type, supplier_id, record in good[:5]:
        world.send(event_type, supplier_id, record, "land")
    # A topic made to take records of up to 4 MiB (a deployment's choice; set when it is
    # created, so no config change has to reach the broker first), and a poison record of
    # 2.5 MB: its dead letter is over any dead-letter topic's limit (1 or 2 MiB).
    topic = supplier_topic(f"{world.prefix}0009", EventType.PRODUCTION)
    ensure_topics(world.bootstrap, {topic: 1}, configs={"max.message.bytes": "4194304"})
    producer = KafkaProducer(
        bootstrap_servers=world.bootstrap, **kafka_login(), max_request_size=8 * 1024 * 1024
    )
    big = producer.send(topic, value=os.urandom(2_500_000)).get(timeout=60)
    producer.close()
    for event_type, supplier_id, record in good[5:]:
        world.send(event_type, supplier_id, record, "land")
    world.flush()

    report = run_ingest(world.settings(db_url), until_caught_up=True)
    assert report.lag_left == 0
    state = read_state(db_url)
    assert state.landed_ids >= {str(r["event_id"]) for _, _, r in good}
    engine = make_engine(db_url)
    [entry] = [e for e in list_quarantine(engine, supplier_id=None) if e.topic == topic]
    engine.dispose()
    assert (entry.topic, entry.partition, entry.offset) == (topic, big.partition, big.offset)
    assert [r["rule"] for r in entry.reasons] == ["not_confluent_framing"]
    letters = [
        r
        for r in read_topic(world.bootstrap, dlq_topic(EventType.PRODUCTION))
        if dict(r.headers).get("sangsaeng.source.topic") == topic.encode()
    ]
    assert len(letters) >= 1
    headers = dict(letters[-1].headers)
    assert letters[-1].value is None and b"bytes" in headers["sangsaeng.truncated"]
