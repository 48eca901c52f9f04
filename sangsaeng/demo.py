"""`make demo`: the platform's story told in the terminal, one stage per issue.

Today: the local stack comes up (Kafka, schema registry, ingest gateway), the event
contracts are registered and listed, and a simulated week of four suppliers' MES
systems streams in, half through the supplier SDK and half through the HTTP gateway,
with a few percent of flawed events that the edge refuses with reasons. The terminal
ends with what Kafka holds per supplier topic. Run it again without cleaning up: the
contracts keep their ids, the suppliers their topics, and another week of new events
is added.
"""

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from connectors.simulator.events import generate
from connectors.simulator.run import send, write_reference
from connectors.simulator.world import build_world
from infra.process import wait_for
from infra.stack import Stack
from sangsaeng.settings import Settings
from schemas.topics import EventType, supplier_topic

DEMO_SUPPLIERS = 4
DEMO_DAYS = 7
DEMO_SEED = 2024
DEMO_BAD_RATE = 0.03


def run_demo(settings: Settings, console: Console) -> None:
    """Start the stack, register the contracts, stream a simulated week, show Kafka."""
    from sangsaeng.cli import schemas_list, schemas_register

    stack = Stack.from_settings(settings)
    with console.status("Starting the stack…") as status:
        stack.up(report=status.update)
    console.print(f"[green]✓[/] Apache Kafka answers at {stack.kafka.bootstrap}")
    console.print(f"[green]✓[/] schema registry answers at {stack.registry.url}")
    console.print(f"[green]✓[/] ingest gateway answers at {stack.gateway.url}")

    schemas_register()
    schemas_list()

    start = datetime.now(UTC).date() - timedelta(days=DEMO_DAYS)
    world = build_world(DEMO_SEED, DEMO_SUPPLIERS, start, DEMO_DAYS)
    write_reference(world, settings.state_dir / "reference.yaml")
    with console.status(f"Streaming {DEMO_DAYS} days of {DEMO_SUPPLIERS} suppliers…"):
        # The same programme every run, new events each run (a re-run adds a week).
        events = generate(world, seed=time.time_ns(), bad_rate=DEMO_BAD_RATE)
        report = send(world, events, settings, via="mixed")
    console.print(
        f"[green]✓[/] {report.generated} events generated, "
        f"{sum(report.accepted.values())} accepted, {sum(report.refused.values())} refused at "
        "the edge (" + ", ".join(f"{r} x{n}" for r, n in report.refused.most_common(3)) + ")"
    )

    topics = {
        s.supplier_id: [supplier_topic(s.supplier_id, e) for e in EventType]
        for s in world.suppliers
    }
    consumer = KafkaConsumer(bootstrap_servers=stack.kafka.bootstrap)
    held: dict[str, int] = defaultdict(int)

    def caught_up() -> bool:
        for topic_list in topics.values():
            for topic in topic_list:
                parts = [
                    TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
                ]
                held[topic] = sum(consumer.end_offsets(parts).values())
        return all(held[t] >= n for t, n in report.accepted.items())

    wait_for(caught_up, timeout=60, interval=0.5)  # the gateway forwards in the background
    consumer.close()

    table = Table(
        title="Kafka now holds (events per supplier topic, all runs)", title_justify="left"
    )
    table.add_column("supplier")
    table.add_column("sector")
    table.add_column("via")
    for event_type in EventType:
        table.add_column(event_type.value, justify="right")
    for s in world.suppliers:
        table.add_row(
            s.supplier_id,
            s.sector,
            report.via[s.supplier_id],
            *(str(held[t]) for t in topics[s.supplier_id]),
        )
    console.print(table)
    console.print(
        f"Reference data: {settings.state_dir / 'reference.yaml'}. The stack keeps running: "
        "`sangsaeng stack status` shows it, `sangsaeng stack down` stops it."
    )
