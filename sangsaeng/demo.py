"""`make demo`: the platform's story told in the terminal, one stage per issue.

Today: the local stack comes up and a topic carries records through a consumer
group whose committed offsets survive between runs. Run it again without cleaning
up: the group resumes where it left off and reads only the new records.
"""

import json
import time
import uuid
from collections import Counter

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from connectors.kafka.admin import ensure_topics
from infra.stack import Stack
from sangsaeng.errors import TransientError
from sangsaeng.settings import Settings

DEMO_TOPIC = "demo.roundtrip"
DEMO_GROUP = "sangsaeng-demo"
# One key per machine keeps each machine's events in order within its partition.
MACHINES = ("press-1", "press-2", "press-3")
RECORDS = 30


def run_demo(settings: Settings, console: Console) -> None:
    """Start the stack, produce and consume a few records, print what happened."""
    stack = Stack.from_settings(settings)
    with console.status("Starting the stack…") as status:
        stack.up(report=status.update)
    console.print(f"[green]✓[/] Apache Kafka answers at {stack.kafka.bootstrap}")

    created = ensure_topics(stack.kafka.bootstrap, {DEMO_TOPIC: len(MACHINES)})
    console.print(
        f"[green]✓[/] topic {DEMO_TOPIC} ({len(MACHINES)} partitions) "
        + ("created" if created else "already there")
    )

    run_id = uuid.uuid4().hex[:8]
    produced, keys = _produce(stack.kafka.bootstrap, run_id)
    consumed, committed = _consume(stack.kafka.bootstrap, run_id, produced)

    table = Table(
        title=f"Round trip of run {run_id}, consumer group {DEMO_GROUP!r}", title_justify="left"
    )
    for col in ("partition", "keys", "produced", "consumed", "committed offset"):
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
        "The stack keeps running: `sangsaeng stack status` shows it, "
        "`sangsaeng stack down` stops it."
    )


def _produce(bootstrap: str, run_id: str) -> tuple[Counter[int], dict[int, set[str]]]:
    """Send RECORDS records keyed by machine; returns counts and keys per partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=5)
    per_partition: Counter[int] = Counter()
    keys: dict[int, set[str]] = {}
    try:
        futures = [
            producer.send(
                DEMO_TOPIC,
                key=MACHINES[i % len(MACHINES)].encode(),
                value=json.dumps(
                    {"run": run_id, "seq": i, "machine": MACHINES[i % len(MACHINES)]}
                ).encode(),
            )
            for i in range(RECORDS)
        ]
        producer.flush()
        for i, future in enumerate(futures):
            partition = future.get(timeout=10).partition
            per_partition[partition] += 1
            keys.setdefault(partition, set()).add(MACHINES[i % len(MACHINES)])
    finally:
        producer.close()
    return per_partition, keys


def _consume(
    bootstrap: str, run_id: str, produced: Counter[int], timeout_s: float = 30.0
) -> tuple[Counter[int], dict[int, int]]:
    """Read this run's records with the demo's consumer group and commit the offsets."""
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
                    f"{sum(produced.values())} records in {timeout_s:.0f}s; "
                    f"check `sangsaeng stack status`"
                )
            for tp, records in consumer.poll(timeout_ms=500).items():
                seen[tp.partition] += sum(json.loads(r.value)["run"] == run_id for r in records)
        consumer.commit()
        committed = {p: consumer.committed(TopicPartition(DEMO_TOPIC, p)) or 0 for p in produced}
    finally:
        consumer.close()
    return seen, committed
