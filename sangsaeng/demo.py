"""`make demo`: the platform's story told in the terminal, one stage per issue.

Today: the local stack comes up (Kafka, schema registry), the event contracts are
registered and listed, and a demo supplier's machine-status events travel as
Confluent-framed Avro through its topic and a consumer group whose committed offsets
survive between runs. Run it again without cleaning up: the contracts keep their ids
and the group reads only the new events.
"""

import time
import uuid
from collections import Counter
from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from connectors.kafka.admin import ensure_topics
from infra.stack import Stack
from sangsaeng.errors import TransientError
from sangsaeng.settings import Settings
from schemas.registry.auth import client_credentials
from schemas.registry.client import RegistryClient
from schemas.serde import AvroDeserializer, AvroSerializer
from schemas.topics import EventType, supplier_topic

DEMO_SUPPLIER = "DEMO01"
DEMO_TOPIC = supplier_topic(DEMO_SUPPLIER, EventType.MACHINE_STATUS)
DEMO_GROUP = "sangsaeng-demo"
# One key per machine keeps each machine's events in order within its partition.
MACHINES = ("press-1", "press-2", "press-3")
STATES = ("RUNNING", "IDLE", "RUNNING", "DOWN", "SETUP", "RUNNING")
RECORDS = 30


def run_demo(settings: Settings, console: Console) -> None:
    """Start the stack, register the contracts, send and read Avro events, print it all."""
    from sangsaeng.cli import schemas_list, schemas_register

    stack = Stack.from_settings(settings)
    with console.status("Starting the stack…") as status:
        stack.up(report=status.update)
    console.print(f"[green]✓[/] Apache Kafka answers at {stack.kafka.bootstrap}")
    console.print(f"[green]✓[/] schema registry answers at {stack.registry.url}")
    console.print(f"[green]✓[/] ingest gateway answers at {stack.gateway.url}")

    schemas_register()
    schemas_list()

    created = ensure_topics(stack.kafka.bootstrap, {DEMO_TOPIC: len(MACHINES)})
    console.print(
        f"[green]✓[/] topic {DEMO_TOPIC} ({len(MACHINES)} partitions) "
        + ("created" if created else "already there")
    )

    registry = RegistryClient(settings.schema_registry_url, client_credentials(settings))
    run_id = uuid.uuid4().hex[:8]
    produced, keys, size = _produce(stack.kafka.bootstrap, registry, run_id)
    consumed, committed = _consume(stack.kafka.bootstrap, registry, run_id, produced)

    table = Table(
        title=f"MachineStatusEvents of run {run_id}: Avro on {DEMO_TOPIC}, "
        f"consumer group {DEMO_GROUP!r}",
        title_justify="left",
    )
    for col in ("partition", "keys", "produced", "consumed + decoded", "committed offset"):
        table.add_column(col, justify="left" if col == "keys" else "right")
    for partition in sorted(produced):
        table.add_row(
            str(partition),
            ", ".join(sorted(keys[partition])),
            str(produced[partition]),
            str(consumed[partition]),
            str(committed[partition]),
        )
    console.print(table)
    console.print(
        f"Each event is {size} bytes: magic byte 0, the schema id, then Avro. "
        "The stack keeps running: `sangsaeng stack status` shows it, "
        "`sangsaeng stack down` stops it."
    )


def _event(i: int, run_id: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": datetime.now(UTC),
        "supplier_id": DEMO_SUPPLIER,
        "site_id": f"{DEMO_SUPPLIER}-P1",
        "source_system": f"demo-run-{run_id}",
        "line_id": "L1",
        "machine_id": MACHINES[i % len(MACHINES)],
        "state": STATES[i % len(STATES)],
        "reason_code": "JAM" if STATES[i % len(STATES)] == "DOWN" else None,
    }


def _produce(
    bootstrap: str, registry: RegistryClient, run_id: str
) -> tuple[Counter[int], dict[int, set[str]], int]:
    """Send RECORDS events keyed by machine; returns counts and keys per partition."""
    serializer = AvroSerializer.for_event_type(registry, EventType.MACHINE_STATUS)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=5)
    per_partition: Counter[int] = Counter()
    keys: dict[int, set[str]] = {}
    try:
        events = [_event(i, run_id) for i in range(RECORDS)]
        payloads = [serializer.encode(e, topic=DEMO_TOPIC) for e in events]
        futures = [
            producer.send(DEMO_TOPIC, key=e["machine_id"].encode(), value=p)
            for e, p in zip(events, payloads, strict=True)
        ]
        producer.flush()
        for event, future in zip(events, futures, strict=True):
            partition = future.get(timeout=10).partition
            per_partition[partition] += 1
            keys.setdefault(partition, set()).add(event["machine_id"])
    finally:
        producer.close()
    return per_partition, keys, len(payloads[0])


def _consume(
    bootstrap: str,
    registry: RegistryClient,
    run_id: str,
    produced: Counter[int],
    timeout_s: float = 30.0,
) -> tuple[Counter[int], dict[int, int]]:
    """Read and decode this run's events with the demo's group; commit the offsets."""
    reader = AvroDeserializer.for_contracts(registry)
    consumer = KafkaConsumer(
        DEMO_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=DEMO_GROUP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    seen: Counter[int] = Counter()
    deadline = time.monotonic() + timeout_s
    try:
        while sum(seen.values()) < sum(produced.values()):
            if time.monotonic() > deadline:
                raise TransientError(
                    f"the demo consumer read {sum(seen.values())} of "
                    f"{sum(produced.values())} events in {timeout_s:.0f}s; "
                    f"check `sangsaeng stack status`"
                )
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    event = reader.decode(
                        r.value, topic=r.topic, partition=r.partition, offset=r.offset
                    )
                    seen[tp.partition] += event["source_system"] == f"demo-run-{run_id}"
        consumer.commit()
        committed = {p: consumer.committed(TopicPartition(DEMO_TOPIC, p)) or 0 for p in produced}
    finally:
        consumer.close()
    return seen, committed
