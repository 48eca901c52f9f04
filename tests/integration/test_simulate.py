"""The simulator streaming through the SDK and the real gateway into the real broker."""

import threading
from datetime import UTC, datetime

import pytest
import uvicorn
from kafka import KafkaConsumer, TopicPartition

from connectors.gateway.server import build
from connectors.simulator.events import generate
from connectors.simulator.run import send
from connectors.simulator.world import build_world, recent_start
from infra.process import free_port, wait_for
from sangsaeng.settings import load_settings
from tests.support import kafka_login

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def test_mixed_stream_lands_every_accepted_event_in_its_topic(
    db_url, kafka_bootstrap, shared_registry, tmp_path
):
    port = free_port()
    settings = load_settings(
        kafka_bootstrap=kafka_bootstrap,
        schema_registry_url=shared_registry.url,
        registry_auth=":".join(shared_registry.auth),
        database_url=db_url,
        state_dir=tmp_path,
        gateway_url=f"http://127.0.0.1:{port}",
        topic_partitions=2,
        gateway_rate_per_second=1000,
    )
    app, pool = build(settings)
    pool.start()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, timeout=20)
    try:
        # A seed of its own per database, so the two runs use different supplier ids.
        seed = 41 if db_url.startswith("sqlite") else 42
        # Recent days: the edge refuses event times beyond the horizon before now.
        start = recent_start(datetime.now(UTC).date(), 3)  # clock-ok: injected today
        world = build_world(seed, 4, start, 3, id_prefix=f"T{seed}")
        flaws = {}
        for e in generate(world, seed=seed, bad_rate=0.05):
            flaws[e.flaw] = flaws.get(e.flaw, 0) + 1
        report = send(world, generate(world, seed=seed, bad_rate=0.05), settings, via="mixed")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert set(report.via.values()) == {"sdk", "gateway"}
    assert report.still_spooled == 0
    edge_flaws = flaws.get("wrong_type", 0) + flaws.get("spoofed_supplier", 0)
    assert sum(report.refused.values()) == edge_flaws > 0
    assert report.generated == sum(report.accepted.values()) + edge_flaws

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, **kafka_login())

    def in_kafka(topic: str) -> int:
        parts = [TopicPartition(topic, p) for p in range(2)]
        return sum(consumer.end_offsets(parts).values())

    # The gateway's forwarder sends in the background: wait until it has caught up.
    assert wait_for(lambda: all(in_kafka(t) == n for t, n in report.accepted.items()), timeout=60)
    pool.stop()
    consumer.close()
