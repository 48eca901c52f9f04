"""Event -> view latency with the sensor-driven ingest and refresh running.

Part of `benchmarks/views.py` (which prints its table). On a broker, registry and SQLite
database of its own, a Dagster daemon (`dagster-daemon run`, the state dir's instance)
runs the `ingest_on_lag` sensor and the `views_after_ingest` sensor with their run
launches, as under `make ui`. Probe production events are produced one by one, each for
a part of its own, so each makes a `production_daily` row of its own; a poller reads the
view every 0.2 s. Latency = first time the row is seen - the time Kafka acknowledged the
event. The runs on the instance tell where the time goes: waiting for the sensors and
the launch, the ingest run, the views run.
"""

import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import Engine

from connectors.kafka.admin import ensure_topics
from governance.reference import ReferenceFile, load_reference
from migrations.schema import upgrade
from sangsaeng.db import make_engine
from sangsaeng.kafka_access import client_security
from sangsaeng.settings import Settings, load_settings
from schemas.contracts import register_contracts
from schemas.registry.client import RegistryClient
from schemas.serde import AvroSerializer
from schemas.topics import EventType, dlq_topic, supplier_topic

PROBE = "PROBE1"
GOAL_P95_S = 30.0


@dataclass
class Latency:
    probes: int
    seen: int
    p50: float
    p95: float
    worst: float
    where: dict[str, float] = field(default_factory=dict)  # mean seconds per stage


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values (a run whose every request failed)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))]


def _reference(probes: int) -> dict[str, Any]:
    return {
        "organisations": [{"org_id": PROBE, "name": "Probe Works", "role": "supplier"}],
        "sites": [{"site_id": "P1", "supplier_id": PROBE}],
        "lines": [{"line_id": "L1", "site_id": "P1", "supplier_id": PROBE}],
        "parts": [{"part_number": f"PART-{i:04d}", "supplier_id": PROBE} for i in range(probes)],
    }


def _probe(i: int, now: datetime) -> dict[str, Any]:
    import uuid

    return {
        "event_id": str(uuid.uuid4()),
        "event_time": now,
        "supplier_id": PROBE,
        "site_id": "P1",
        "source_system": "latency-probe",
        "buyer_id": None,
        "line_id": "L1",
        "work_order_id": "WO-PROBE",
        "part_number": f"PART-{i:04d}",
        "lot_id": f"LOT-{i:04d}",
        "quantity_good": 1,
        "quantity_scrap": 0,
        "planned_quantity": None,
        "start_time": now - timedelta(minutes=1),
        "end_time": now,
        "unit": "H87",
    }


@dataclass
class Rig:
    """What the probes need: the services' addresses and a folder of the run's own."""

    folder: Path
    bootstrap: str
    registry_url: str
    auth: tuple[str, str]

    def env(self, state: Path) -> dict[str, str]:
        mine = {k: v for k, v in os.environ.items() if not k.startswith("SANGSAENG_")}
        return mine | {
            "SANGSAENG_STATE_DIR": str(state),
            "SANGSAENG_KAFKA_BOOTSTRAP": self.bootstrap,
            "SANGSAENG_SCHEMA_REGISTRY_URL": self.registry_url,
            "SANGSAENG_REGISTRY_AUTH": f"{self.auth[0]}:{self.auth[1]}",
        }


def _prepare(rig: Rig, state: Path, probes: int) -> tuple[Settings, Engine, AvroSerializer]:
    """The probe supplier's database, contracts and topics."""
    settings = load_settings(
        state_dir=state,
        kafka_bootstrap=rig.bootstrap,
        schema_registry_url=rig.registry_url,
        registry_auth=":".join(rig.auth),
    )
    state.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    load_reference(engine, ReferenceFile.model_validate(_reference(probes)))
    registry = RegistryClient(rig.registry_url, rig.auth)
    register_contracts(registry)
    topics = {supplier_topic(PROBE, e): 1 for e in EventType} | {dlq_topic(e): 1 for e in EventType}
    ensure_topics(rig.bootstrap, topics, timeout_s=60)
    return settings, engine, AvroSerializer.for_event_type(registry, EventType.PRODUCTION)


def _daemon(rig: Rig, state: Path, settings: Settings) -> subprocess.Popen[bytes]:
    from orchestration.instance import prepare_home

    home = prepare_home(settings)
    log = (rig.folder / "daemon.log").open("wb")
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-daemon"),
            "run",
            "-m",
            "orchestration.definitions",
        ],
        env=rig.env(state) | {"DAGSTER_HOME": str(home)},
        cwd=Path(__file__).resolve().parent.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _poller(engine: Engine, seen: dict[str, float], stop: threading.Event) -> threading.Thread:
    """Reads the probe supplier's production_daily rows every 0.2 s; first sight per part."""
    from sqlalchemy import select

    from pipelines.views.production import production_daily as t

    query = select(t.c.part_number).where(t.c.supplier_id == PROBE)

    def poll() -> None:
        while not stop.is_set():
            with engine.connect() as conn:
                found = conn.scalars(query).all()
            now = time.time()
            for part in found:
                seen.setdefault(part, now)
            stop.wait(0.2)

    return threading.Thread(target=poll, daemon=True)


def measure_latency(console: Console, rig: Rig, *, probes: int, interval_s: float) -> Latency:
    """Run the daemon, send `probes` probe events `interval_s` apart, time them."""
    state = rig.folder / "latency-state"
    settings, engine, serializer = _prepare(rig, state, probes)
    topic = supplier_topic(PROBE, EventType.PRODUCTION)
    daemon = _daemon(rig, state, settings)
    acked: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()
    poller = _poller(engine, seen, stop)
    producer = KafkaProducer(
        bootstrap_servers=rig.bootstrap, **client_security(load_settings()), acks="all", linger_ms=0
    )
    try:
        with console.status("Waiting for the Dagster daemon's first sensor ticks…"):
            time.sleep(20)
        poller.start()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Sending probe events", total=probes)
            for i in range(probes):
                record = _probe(i, datetime.now(UTC))  # clock-ok: Kafka stamps them now
                value = serializer.encode(record, topic=topic)
                producer.send(topic, key=PROBE.encode(), value=value).get(timeout=30)
                acked[record["part_number"]] = time.time()
                progress.advance(task)
                time.sleep(interval_s)
        deadline = time.time() + 180
        with console.status("Waiting for the last probes to show in production_daily…"):
            while len(seen) < probes and time.time() < deadline:
                time.sleep(0.5)
    finally:
        stop.set()
        producer.close()
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, 9)
    from orchestration.instance import persistent_instance

    waits = [seen[p] - t for p, t in acked.items() if p in seen]
    where = _where_time_goes(persistent_instance(settings))
    engine.dispose()
    if not waits:
        return Latency(probes, 0, float("nan"), float("nan"), float("nan"), where)
    return Latency(
        probes, len(waits), statistics.median(waits), percentile(waits, 0.95), max(waits), where
    )


def _where_time_goes(instance: Any) -> dict[str, float]:
    """Mean seconds per run of each job: queued -> started (launch) and started -> ended."""
    out: dict[str, float] = {}
    try:
        for job in ("ingest", "views"):
            from dagster import RunsFilter

            records = instance.get_run_records(filters=RunsFilter(job_name=job), limit=2_000)
            runs = [r for r in records if r.start_time and r.end_time]
            if runs:
                out[f"{job} run (start to end)"] = statistics.mean(
                    r.end_time - r.start_time for r in runs
                )
                out[f"{job} launch (created to start)"] = statistics.mean(
                    r.start_time - r.create_timestamp.timestamp() for r in runs
                )
                out[f"{job} runs"] = float(len(runs))
    finally:
        instance.dispose()
    return out
