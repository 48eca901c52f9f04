"""Ingest throughput: simulated events already in Kafka -> landed, vs bare consume + decode.

    .venv/bin/python -m benchmarks.pipeline [--events 1000000] [--databases sqlite,postgresql]
                                             [--batch 50000] [--profile]

Starts its own Kafka broker, PostgreSQL cluster and registry (temp dir, free ports),
fills the supplier topics of a simulated programme (24 suppliers, a few percent flawed
events, produced once), then measures, each in a fresh Python process:
- ceiling: bare kafka-python consuming every record + fastavro decoding it;
- ingest: the Dagster `ingest` job in-process until caught up (what `sangsaeng ingest
  --until-caught-up` runs: decode, Great Expectations, land with offsets, dead letters),
  once per database, with the process's peak memory (RSS, imports included).
Goals: ingest >= 0.5 of the ceiling; peak memory < 1 GiB. `--profile` adds where the
ingest's time goes (cProfile over one SQLite run, by stage).
"""

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from fastavro import parse_schema, schemaless_reader
from kafka import KafkaConsumer, KafkaProducer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.ingest_edge import Served
from connectors.kafka.admin import ensure_topics
from connectors.simulator.events import generate
from connectors.simulator.world import build_world, recent_start
from infra.kafka.broker import KafkaBroker
from infra.postgres.cluster import PostgresCluster
from infra.process import free_port
from migrations.schema import upgrade
from sangsaeng.db import make_engine
from sangsaeng.errors import PlatformError
from sangsaeng.kafka_access import client_security
from sangsaeng.settings import load_settings
from schemas.registry.app import create_app as create_registry
from schemas.registry.auth import Credentials, Role
from schemas.registry.client import RegistryClient
from schemas.registry.store import RegistryStore
from schemas.serde import AvroSerializer, SerializationError
from schemas.topics import SUPPLIER_TOPIC_PATTERN, EventType, dlq_topic, supplier_topic

SUPPLIERS = 24
EVENTS_PER_SUPPLIER_DAY = 97  # what the simulator makes on average (weekends are quiet)
HORIZON_DAYS = 1000  # the history is long; validation must not refuse it for its age
console = Console()
app = typer.Typer(add_completion=False)


# -- child processes: each measurement in a fresh interpreter --------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ceiling(bootstrap: str, registry_url: str, registry_auth: list[str]) -> dict[str, Any]:
    """Bare kafka-python consume + fastavro decode of every supplier record."""
    from kafka import TopicPartition

    registry = RegistryClient(registry_url, (registry_auth[0], registry_auth[1]))
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        **client_security(load_settings()),
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    parts = [
        TopicPartition(t, p)
        for t in sorted(consumer.topics())
        if SUPPLIER_TOPIC_PATTERN.match(t)
        for p in consumer.partitions_for_topic(t)
    ]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(parts)
    total = sum(ends.values())
    schemas: dict[int, Any] = {}
    n = 0
    started = time.perf_counter()
    while n < total:
        for batch in consumer.poll(timeout_ms=1000, max_records=50_000).values():
            for record in batch:
                value = record.value
                schema_id = int.from_bytes(value[1:5], "big")
                if schema_id not in schemas:
                    schemas[schema_id] = parse_schema(json.loads(registry.schema(schema_id)))
                schemaless_reader(io.BytesIO(value[5:]), schemas[schema_id], None)
                n += 1
    seconds = time.perf_counter() - started
    consumer.close()
    return {"records": n, "seconds": seconds, "peak_mb": _peak_mb()}


def child_ingest(settings_values: dict[str, Any], reference: str, profile: bool) -> dict[str, Any]:
    """The ingest job until caught up; with `profile`, seconds per stage too."""
    from governance.reference import load_reference, read_reference_file
    from orchestration.run import run_ingest

    settings = load_settings(**settings_values)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    load_reference(engine, read_reference_file(Path(reference)))
    engine.dispose()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = run_ingest(settings, until_caught_up=True)
    seconds = time.perf_counter() - started
    out = {
        "records": report.read,
        "seconds": seconds,
        "runs": report.runs,
        "landed": sum(report.landed.values()),
        "duplicates": sum(report.duplicates.values()),
        "quarantined": sum(report.quarantined.values()),
        "peak_mb": _peak_mb(),
    }
    if profiler is not None:
        profiler.disable()
        out["stages"] = stages(profiler)
    return out


STAGES = [
    ("Kafka fetch (SupplierTopicReader.read)", "connectors/kafka/consumer.py", "read"),
    ("decode (fastavro, framing checks)", "pipelines/decode.py", "decode_batch"),
    ("validate: DataFrame + Great Expectations", "pipelines/validation/runner.py", "validate"),
    ("dead letters (produce + ack)", "connectors/kafka/dlq.py", "send"),
    ("Ingestor.ingest (decode + validate + dead letters + SQL)", "pipelines/ingest.py", "ingest"),
    ("all runs (Dagster execute_in_process included)", "orchestration/run.py", "run_ingest"),
]
SQL_OWN = "SQL transaction (ingest - decode - validate - dead letters)"


def stages(profiler: Any) -> dict[str, float]:
    """Cumulative seconds of the functions that make up each stage."""
    import pstats

    found = {}
    for (filename, _, name), (_, _, _, cumulative, _) in pstats.Stats(profiler).stats.items():
        for label, file_suffix, function in STAGES:
            if filename.endswith(file_suffix) and name == function:
                found[label] = found.get(label, 0.0) + cumulative
    return found


# -- the rig -----------------------------------------------------------------------------


class Rig:
    """Broker, PostgreSQL and registry of the benchmark's own, in a temp dir."""

    def __init__(self, with_postgres: bool, *, logins: bool = True) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="sangsaeng-bench-pipeline-"))
        self.folder.chmod(0o755)  # the postgres user must enter it when we are root
        self.broker = KafkaBroker(
            service_dir=self.folder / "kafka",
            cache_dir=load_settings().cache_dir,
            port=free_port(),
            controller_port=free_port(),
            heap_mb=1024,
            logins=logins,
        )
        self.postgres = (
            PostgresCluster(service_dir=self.folder / "postgres", port=free_port())
            if with_postgres
            else None
        )
        with console.status("Starting a broker, PostgreSQL and a registry…"):
            self.broker.start()
            # every client here (the children too) logs in as the broker's admin
            os.environ.update(self.broker.client_env)
            if self.postgres is not None:
                self.postgres.start()
            engine = make_engine(f"sqlite:///{self.folder / 'registry.db'}")
            upgrade(engine)
            credentials = Credentials(engine)
            self.auth = ("bench", credentials.add_user("bench", role=Role.ADMIN))
            self.registry = Served(create_registry(RegistryStore(engine), credentials))

    def close(self) -> None:
        self.registry.stop()
        if self.postgres is not None:
            self.postgres.stop()
        self.broker.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def fill(rig: Rig, n: int) -> tuple[int, Path]:
    """Produce `n` simulated events (3 % flawed) to the supplier topics; returns the count
    in Kafka (flaws the contract refuses are not produced) and the reference file."""
    days = int(n * 1.2) // (SUPPLIERS * EVENTS_PER_SUPPLIER_DAY) + 2  # weekends, refusals
    # In the recent past (Kafka stamps the records now) and from a Monday, so the same
    # `n` gives the same programme shape whatever the weekday.
    world = build_world(11, SUPPLIERS, recent_start(datetime.now(UTC).date(), days), days)
    reference = rig.folder / "reference.yaml"
    reference.write_text(yaml.safe_dump(world.reference()))
    topics = {supplier_topic(s.supplier_id, e): 3 for s in world.suppliers for e in EventType}
    topics.update({dlq_topic(e): 1 for e in EventType})
    ensure_topics(rig.broker.bootstrap, topics, timeout_s=60)
    registry = RegistryClient(rig.registry.url, rig.auth)
    serializers = {e: AvroSerializer.for_event_type(registry, e) for e in EventType}
    producer = KafkaProducer(
        bootstrap_servers=rig.broker.bootstrap,
        **client_security(load_settings()),
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
    )
    sent = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Filling the supplier topics", total=n)
        for event in generate(world, seed=11, bad_rate=0.03):
            topic = supplier_topic(event.supplier_id, event.event_type)
            try:
                value = serializers[EventType(event.event_type)].encode(event.record, topic=topic)
            except SerializationError:
                continue  # refused by the contract: the edge never lets it into Kafka
            producer.send(topic, value=value)
            sent += 1
            if sent % 10_000 == 0:
                progress.update(task, completed=sent)
            if sent >= n:
                break
    producer.flush()
    producer.close()
    return sent, reference


def in_child(mode: str, **kwargs: Any) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pipeline", "--child", json.dumps([mode, kwargs])],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise PlatformError(f"the {mode} measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@app.command()
def main(  # noqa: PLR0917 - typer's options
    events: Annotated[int, typer.Option(help="Events to put in Kafka and land.")] = 1_000_000,
    databases: Annotated[str, typer.Option(help="sqlite, postgresql, or both.")] = (
        "sqlite,postgresql"
    ),
    batch: Annotated[int, typer.Option(help="Records per ingest micro-batch.")] = 100_000,
    profile: Annotated[bool, typer.Option(help="Also show where the time goes.")] = False,
    logins: Annotated[
        bool,
        typer.Option(
            "--kafka-logins/--no-kafka-logins",
            help="SCRAM logins and ACLs on the broker (as the stack runs it), or the "
            "PLAINTEXT listener without them, to measure what they cost.",
        ),
    ] = True,
    child: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Measure ingest against the bare consume + decode ceiling; print a table."""
    if child is not None:
        mode, kwargs = json.loads(child)
        result = child_ceiling(**kwargs) if mode == "ceiling" else child_ingest(**kwargs)
        print(json.dumps(result))
        return
    wanted = [d.strip() for d in databases.split(",") if d.strip()]
    rig = Rig(with_postgres="postgresql" in wanted, logins=logins)
    try:
        started = time.perf_counter()
        count, reference = fill(rig, events)
        console.print(f"{count:,} events in Kafka ({time.perf_counter() - started:.0f} s to fill)")
        with console.status("Ceiling: bare consume + decode…"):
            ceiling = in_child(
                "ceiling",
                bootstrap=rig.broker.bootstrap,
                registry_url=rig.registry.url,
                registry_auth=list(rig.auth),
            )
        results = {}
        for database in wanted:
            url = (
                f"sqlite:///{rig.folder / 'ingest.db'}"
                if database == "sqlite"
                else rig.postgres.url  # type: ignore[union-attr]
            )
            values = {
                "kafka_bootstrap": rig.broker.bootstrap,
                "schema_registry_url": rig.registry.url,
                "registry_auth": ":".join(rig.auth),
                "database_url": url,
                "state_dir": str(rig.folder / "state"),
                "ingest_max_records": batch,
                "event_horizon_days": HORIZON_DAYS,
            }
            with console.status(f"Ingest into {database}…"):
                results[database] = in_child(
                    "ingest", settings_values=values, reference=str(reference), profile=False
                )
        ceiling_rate = ceiling["records"] / ceiling["seconds"]
        table = Table(
            title=f"Ingest of {count:,} events (batches of {batch:,}), Kafka logins "
            + ("on (SCRAM-SHA-512, ACLs)" if logins else "off (PLAINTEXT)"),
            title_justify="left",
        )
        for column in ("path", "events/s", "ceiling", "ratio", "goal", "seconds", "peak MiB"):
            table.add_column(column, justify="left" if column == "path" else "right")
        table.add_row(
            "bare kafka-python consume + fastavro decode",
            f"{ceiling_rate:,.0f}",
            "",
            "",
            "",
            f"{ceiling['seconds']:.1f}",
            f"{ceiling['peak_mb']:.0f}",
        )
        for database, r in results.items():
            rate = r["records"] / r["seconds"]
            table.add_row(
                f"ingest job -> {database} ({r['runs']} runs; landed {r['landed']:,}, "
                f"dup {r['duplicates']:,}, quarantined {r['quarantined']:,})",
                f"{rate:,.0f}",
                f"{ceiling_rate:,.0f}",
                f"{rate / ceiling_rate:.2f}",
                ">= 0.5, < 1024 MiB",
                f"{r['seconds']:.1f}",
                f"{r['peak_mb']:.0f}",
            )
        console.print(table)
        if profile:
            url = f"sqlite:///{rig.folder / 'profile.db'}"
            values = dict(values, database_url=url)
            with console.status("Profiling one SQLite ingest…"):
                profiled = in_child(
                    "ingest", settings_values=values, reference=str(reference), profile=True
                )
            where = Table(title="Where ingest's time goes (cProfile, SQLite)", title_justify="left")
            where.add_column("stage")
            where.add_column("seconds", justify="right")
            where.add_column("share", justify="right")
            found = profiled["stages"]
            total = found.get(STAGES[-1][0]) or profiled["seconds"]
            found[SQL_OWN] = found.get(STAGES[4][0], 0.0) - sum(
                found.get(label, 0.0) for label, *_ in STAGES[1:4]
            )
            for label in [*(s[0] for s in STAGES[:4]), SQL_OWN, STAGES[4][0], STAGES[5][0]]:
                seconds = found.get(label, 0.0)
                where.add_row(label, f"{seconds:.1f}", f"{seconds / total:.0%}")
            console.print(where)
            console.print("cProfile slows Python code down; read the shares, not the seconds.")
    finally:
        rig.close()


if __name__ == "__main__":
    app()
