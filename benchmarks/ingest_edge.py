"""Edge ingestion throughput: supplier SDK and HTTP gateway vs bare kafka-python.

    .venv/bin/python -m benchmarks.ingest_edge [--events 30000]

Starts its own Kafka broker (temp dir, free ports), an in-process registry and gateway
(SQLite in the temp dir), then sends the same production events three ways to three
topics of the same shape:
- ceiling: bare kafka-python producing the already serialised, framed bytes;
- SDK: `SupplierClient.send_batch` (contract check, encode, durable spool) + `flush`;
- gateway: JSON batches of 500 over HTTP to `/v1/events/production`, timed until the
  broker holds them all (spool + forwarder included).
Goals: SDK >= 0.5 of the ceiling, gateway >= 0.3.
"""

import json
import os
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import typer
import uvicorn
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from connectors.gateway.app import create_app as create_gateway
from connectors.gateway.forwarder import ClientPool
from connectors.onboarding import onboard
from connectors.sdk import SupplierClient
from governance.parties import Parties
from infra.kafka.broker import KafkaBroker
from infra.process import free_port, wait_for
from migrations.schema import upgrade
from sangsaeng.db import make_engine
from sangsaeng.kafka_access import client_security
from sangsaeng.settings import load_settings
from schemas.contracts import register_contracts
from schemas.registry.app import create_app as create_registry
from schemas.registry.auth import Credentials, Role
from schemas.registry.client import RegistryClient
from schemas.registry.store import RegistryStore
from schemas.serde import AvroSerializer
from schemas.topics import EventType

BATCH = 500
PRODUCER = {"acks": "all", "enable_idempotence": True, "linger_ms": 5}


def events(n: int, supplier: str) -> list[dict]:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    return [
        {
            "supplier_id": supplier,
            "site_id": f"{supplier}-P1",
            "source_system": "bench",
            "line_id": f"L{i % 8}",
            "work_order_id": f"WO-{i // 100}",
            "part_number": f"P-{i % 40}",
            "lot_id": f"LOT-{i // 1000}",
            "quantity_good": float(90 + i % 11),
            "quantity_scrap": float(i % 3),
            "unit": "H87",
            "start_time": (start + timedelta(minutes=i)).isoformat(),
            "end_time": (start + timedelta(minutes=i + 15)).isoformat(),
        }
        for i in range(n)
    ]


class Served:
    """An ASGI app served by uvicorn in a thread on a free port."""

    def __init__(self, app: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=20, interval=0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def delivered(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **client_security(load_settings()))
    parts = [TopicPartition(topic, p) for p in range(partitions)]
    total = sum(consumer.end_offsets(parts).values())
    consumer.close()
    return total


class Rig:
    """A broker, a registry and a gateway of the benchmark's own, in a temp dir."""

    def __init__(self, console: Console, *, logins: bool = True) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="sangsaeng-bench-"))
        self.broker = KafkaBroker(
            service_dir=self.folder / "kafka",
            cache_dir=load_settings().cache_dir,
            port=free_port(),
            controller_port=free_port(),
            logins=logins,
        )
        self.served: list[Served] = []
        self.pool: ClientPool | None = None
        with console.status("Starting a broker, a registry and a gateway…"):
            self.broker.start()
            os.environ.update(self.broker.client_env)  # every client here logs in as admin
            engine = make_engine(f"sqlite:///{self.folder / 'bench.db'}")
            upgrade(engine)
            credentials = Credentials(engine)
            self.auth = ("bench", credentials.add_user("bench", role=Role.ADMIN))
            self.registry = Served(create_registry(RegistryStore(engine), credentials))
            self.served.append(self.registry)
            register_contracts(RegistryClient(self.registry.url, self.auth))  # the SDK looks up
            suppliers = Parties(engine)
            self.keys = {
                s: onboard(
                    suppliers, self.broker.bootstrap, s, s, "bench", partitions=3, retention_days=1
                ).api_key
                for s in ("CEIL", "SDK", "GW")
            }
            self.pool = ClientPool(self.client, idle_wait_s=0.05)
            self.pool.start()
            self.gateway = Served(create_gateway(suppliers, self.pool, rate_per_second=1e6))
            self.served.append(self.gateway)

    def client(self, supplier: str) -> SupplierClient:
        return SupplierClient(
            supplier,
            bootstrap=self.broker.bootstrap,
            registry=RegistryClient(self.registry.url, self.auth),
            spool_path=self.folder / "spool" / f"{supplier}.db",
            producer_config={"linger_ms": 5},
        )

    def close(self) -> None:
        if self.pool is not None:
            self.pool.stop()
        for s in self.served:
            s.stop()
        self.broker.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def ceiling(rig: Rig, n: int) -> float:
    """Bare kafka-python producing the same events, serialised and framed beforehand."""
    probe = rig.client("CEIL")
    header = AvroSerializer.for_event_type(
        RegistryClient(rig.registry.url, rig.auth), EventType.PRODUCTION
    ).header
    framed = [probe.prepare("production", e) for e in events(n, "CEIL")]
    probe.close()
    producer = KafkaProducer(
        bootstrap_servers=rig.broker.bootstrap, **client_security(load_settings()), **PRODUCER
    )
    t0 = time.perf_counter()
    for _, topic, key, _, body in framed:
        producer.send(topic, key=key, value=header + body)
    producer.flush()
    elapsed = time.perf_counter() - t0
    producer.close()
    return n / elapsed


def through_sdk(rig: Rig, n: int) -> float:
    """Accept (check, encode, durable spool) in batches, then forward."""
    sdk = rig.client("SDK")
    data = events(n, "SDK")
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        sdk.send_batch("production", data[start : start + BATCH])
    sdk.flush()
    elapsed = time.perf_counter() - t0
    sdk.close()
    return n / elapsed


def through_gateway(rig: Rig, n: int, console: Console) -> float:
    """JSON batches over HTTP, timed until the broker holds every event."""
    data = events(n, "GW")
    bodies = [json.dumps(data[s : s + BATCH]).encode() for s in range(0, n, BATCH)]
    http = httpx.Client(
        base_url=rig.gateway.url,
        timeout=60,
        headers={"X-API-Key": rig.keys["GW"], "Content-Type": "application/json"},
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("gateway", total=len(bodies))
        t0 = time.perf_counter()
        for body in bodies:
            answer = http.post("/v1/events/production", content=body)
            if answer.status_code != 202:
                raise RuntimeError(f"gateway answered {answer.status_code}: {answer.text[:300]}")
            progress.advance(task)
        wait_for(
            lambda: delivered(rig.broker.bootstrap, "sup.GW.production", 3) >= n,
            timeout=600,
            interval=0.1,
        )
        elapsed = time.perf_counter() - t0
    http.close()
    return n / elapsed


def main(
    n: int = typer.Option(30_000, "--events", help="Events per path."),
    logins: bool = typer.Option(
        True,
        "--kafka-logins/--no-kafka-logins",
        help="SCRAM logins and ACLs on the broker (as the stack runs it), or the PLAINTEXT "
        "listener without them, to measure what they cost.",
    ),
) -> None:
    """Print events/s through the SDK and the gateway next to bare kafka-python."""
    console = Console()
    rig = Rig(console, logins=logins)
    try:
        rates = {
            "ceiling": ceiling(rig, n),
            "sdk": through_sdk(rig, n),
            "gateway": through_gateway(rig, n, console),
        }
    finally:
        rig.close()
    table = Table(
        title=f"Edge ingestion, {n:,} ProductionEvents per path, Kafka logins "
        + ("on (SCRAM-SHA-512, ACLs)" if logins else "off (PLAINTEXT)"),
        title_justify="left",
    )
    for col in ("path", "events/s", "bare kafka-python (ceiling)", "ratio", "goal"):
        table.add_column(col, justify="right")
    for path, goal in (("sdk", 0.5), ("gateway", 0.3)):
        ratio = rates[path] / rates["ceiling"]
        table.add_row(
            path,
            f"{rates[path]:,.0f}",
            f"{rates['ceiling']:,.0f}",
            f"{ratio:.2f}",
            f"≥ {goal} " + ("[green]met[/]" if ratio >= goal else "[red]missed[/]"),
        )
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
