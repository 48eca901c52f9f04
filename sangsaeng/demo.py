"""`make demo`: the platform's story told in the terminal, one stage per issue.

Today: the local stack comes up (Kafka, schema registry, ingest gateway), the event
contracts are registered and listed, and a simulated week of four suppliers' MES
systems streams in, half through the supplier SDK and half through the HTTP gateway,
with a few percent of flawed events (the edge refuses some, validation the rest).
The reference data is loaded, the Dagster `ingest` job lands the events exactly once,
and the terminal ends with landed and quarantined counts per supplier. Run it again
without cleaning up: the contracts keep their ids, the suppliers their topics, another
week of new events is added and ingest picks up where it stopped.
"""

import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from connectors.simulator.events import generate
from connectors.simulator.run import send, write_reference
from connectors.simulator.world import build_world
from infra.process import wait_for
from infra.stack import Stack
from sangsaeng.db import make_engine
from sangsaeng.settings import Settings
from schemas.topics import EventType, supplier_topic

DEMO_SUPPLIERS = 4
DEMO_DAYS = 7
DEMO_SEED = 2024
DEMO_BAD_RATE = 0.03


def run_demo(settings: Settings, console: Console) -> None:
    """Start the stack, register the contracts, stream a simulated week, show Kafka."""
    from pipelines.landing.queries import landed_by_supplier, quarantined_by_supplier
    from pipelines.reference import load_reference, read_reference_file
    from sangsaeng.cli import schemas_list, schemas_register
    from sangsaeng.cli_ingest import ingest

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

    console.print(
        f"[green]✓[/] Kafka holds {sum(held.values())} events in the demo's supplier topics"
    )

    engine = make_engine(settings.database_url)
    counts = load_reference(engine, read_reference_file(settings.state_dir / "reference.yaml"))
    console.print(f"[green]✓[/] reference data loaded ({counts['parts']} parts)")
    ingest(until_caught_up=True, max_records=None, max_seconds=None)

    landed = landed_by_supplier(engine)
    quarantined = quarantined_by_supplier(engine)
    table = Table(title="Per supplier (all runs)", title_justify="left")
    for column in ("supplier", "sector", "via", "landed", "quarantined", "why (top 2)"):
        table.add_column(column, justify="right" if column in ("landed", "quarantined") else "left")
    for s in world.suppliers:
        reasons = quarantined.get(s.supplier_id, Counter())
        top = [f"{rule} x{n}" for rule, n in reasons.most_common() if rule != "records"][:2]
        table.add_row(
            s.supplier_id,
            s.sector,
            report.via[s.supplier_id],
            f"{landed[s.supplier_id]:,}",
            f"{reasons['records']:,}",
            ", ".join(top),
        )
    console.print(table)
    engine.dispose()
    console.print(
        "Rejected events and why: `sangsaeng quarantine list --supplier S0001`. The Dagster "
        "UI: `make ui`. The stack keeps running: `sangsaeng stack status` shows it, "
        "`sangsaeng stack down` stops it."
    )
