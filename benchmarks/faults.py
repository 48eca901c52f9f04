"""The fault suite: the real stack under faults, and what became of every event.

    .venv/bin/python -m benchmarks.faults [--scenarios broker,gateway,ingest,postgres,poison]
    (or `make faults`)

Starts its own Kafka broker, PostgreSQL cluster, schema registry (temp dir, free ports)
and, where a scenario needs one, an ingest gateway as a process of its own (`sangsaeng
gateway serve`), so it can be killed. Each scenario gets suppliers of its own, then:

- broker: the broker is stopped for 30 s while an SDK client and the gateway keep
  accepting events; it comes back and everything drains;
- gateway: the gateway is SIGKILLed 3 times mid-stream and restarted; the MES resends
  what it got no answer for (same event ids), as a real one would;
- ingest: `sangsaeng ingest --until-caught-up` is SIGKILLed 5 times mid-batch, then runs
  to the end;
- postgres: PostgreSQL is stopped while ingest lands a batch, and started again;
- poison: 1 % poison among good events, straight into Kafka (random bytes, and
  contract-valid records with NaN, NUL, huge strings, out-of-range timestamps) and
  through the gateway (the same kinds as JSON).

Then ingest runs until caught up and one table says, per scenario: events accepted,
landed, quarantined, refused at the edge, lost (accepted but neither landed nor
quarantined), doubled (landed more than once), duplicates Kafka carried (which landing
deduplicates), and stalls (a spool, the gateway or ingest that did not finish in time).
Goal: 0 lost, 0 doubled, 0 stalls.
"""

import contextlib
import io
import json
import math
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import typer
from fastavro import parse_schema, schemaless_writer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from benchmarks.pipeline import Rig
from connectors.onboarding import onboard
from connectors.sdk import SupplierClient
from connectors.simulator.events import generate
from connectors.simulator.world import World, build_world, recent_start
from governance.parties import Parties
from governance.reference import ReferenceFile, load_reference
from infra.process import free_port, wait_for
from migrations.schema import upgrade
from orchestration.run import run_ingest
from pipelines.landing.models import LANDING, quarantine
from sangsaeng.db import make_engine
from sangsaeng.errors import PlatformError
from sangsaeng.kafka_access import client_security
from sangsaeng.settings import Settings, load_settings
from schemas.contracts import contract, register_contracts
from schemas.registry.client import RegistryClient
from schemas.serde import AvroSerializer
from schemas.topics import EventType, supplier_topic

console = Console()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
SCENARIOS = ("broker", "gateway", "ingest", "postgres", "poison")


@dataclass
class Outcome:
    """What became of one scenario's events."""

    name: str
    accepted: set[str] = field(default_factory=set)  # event ids the edge said it took
    poison_sent: int = 0
    refused_at_edge: int = 0
    stalls: list[str] = field(default_factory=list)
    seconds: float = 0.0
    landed: int = 0
    quarantined: int = 0
    lost: int = 0
    doubled: int = 0
    kafka_duplicates: int = 0
    poison_landed: int = 0


class Bench:
    """The rig, its platform database, and helpers every scenario uses."""

    def __init__(self) -> None:
        self.rig = Rig(with_postgres=True)
        self.folder = self.rig.folder
        self.sqlite_url = f"sqlite:///{self.folder / 'platform.db'}"
        for url in (self.sqlite_url, self.rig.postgres.url):  # type: ignore[union-attr]
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
        register_contracts(RegistryClient(self.rig.registry.url, self.rig.auth))

    def settings(self, database_url: str | None = None, **values: Any) -> Settings:
        return load_settings(**{**self.values(database_url), **values})

    def values(self, database_url: str | None = None) -> dict[str, Any]:
        return {
            "kafka_bootstrap": self.rig.broker.bootstrap,
            "schema_registry_url": self.rig.registry.url,
            "registry_auth": ":".join(self.rig.auth),
            "database_url": database_url or self.sqlite_url,
            "state_dir": str(self.folder / "state"),
            "ingest_topics": r"sup\.F.+",
        }

    def env(self, database_url: str | None = None, **extra: str) -> dict[str, str]:
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith("SANGSAENG_")}
        values = {**self.values(database_url), **extra}
        env.update({f"SANGSAENG_{k.upper()}": str(v) for k, v in values.items()})
        return env

    def programme(self, prefix: str, suppliers: int, database_url: str) -> World:
        """A simulated programme onboarded (topics, records) with its reference data."""
        days = 7
        world = build_world(
            3, suppliers, recent_start(datetime.now(UTC).date(), days), days, id_prefix=prefix
        )
        engine = make_engine(database_url)
        parties = Parties(engine)
        for s in world.suppliers:
            onboard(
                parties,
                self.rig.broker.bootstrap,
                s.supplier_id,
                s.name,
                s.sector,
                partitions=3,
                retention_days=7,
            )
        load_reference(engine, ReferenceFile.model_validate(world.reference()))
        engine.dispose()
        return world

    def close(self) -> None:
        self.rig.close()


def clean_events(world: World, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(supplier, event type, record) for every event, recent enough for validation."""
    shift = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for e in generate(world, seed=seed, bad_rate=0.0):
        record = dict(e.record)
        out.append((e.supplier_id, e.event_type, record))
    latest = max(r["event_time"] for _, _, r in out)
    if latest > shift:  # the window ends today: keep every event in the past
        for _, _, r in out:
            r["event_time"] = r["event_time"] - (latest - shift)
    return out


def as_json(record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in record.items():
        if isinstance(v, datetime) or hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        elif isinstance(v, list):
            out[k] = [as_json(x) if isinstance(x, dict) else x for x in v]
        else:
            out[k] = v
    return out


class Gateway:
    """`sangsaeng gateway serve` as a process of its own, to be killed and restarted."""

    def __init__(self, bench: Bench) -> None:
        self.bench, self.port = bench, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = (bench.folder / f"gateway-{self.port}.log").open("ab")

    def start(self) -> None:
        env = self.bench.env(gateway_url=self.url, gateway_rate_per_second="10000")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "gateway", "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=self.log,
        )

        def answers() -> bool:
            try:
                return httpx.get(self.url + "/", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_for(answers, timeout=60, interval=0.2):
            raise PlatformError(f"the gateway did not start; see {self.log.name}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def post(url: str, key: str, event_type: str, records: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/events/{event_type}",
        headers={"X-API-Key": key},
        content=json.dumps(records, allow_nan=True),
        timeout=30,
    )


def kafka_event_ids(bootstrap: str, topics: list[str]) -> Counter[str]:
    """How often each event id (its header, or its payload for raw records) is in Kafka."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, **client_security(load_settings()), enable_auto_commit=False
    )
    parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
    found: Counter[str] = Counter()
    if not parts:
        return found
    consumer.assign(parts)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(parts)
    deadline = time.monotonic() + 120
    while any(consumer.position(tp) < ends[tp] for tp in parts) and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            for r in batch:
                ids = [v.decode() for k, v in (r.headers or ()) if k == "sangsaeng.event_id"]
                found.update(ids)
    consumer.close()
    return found


def settle(bench: Bench, outcome: Outcome, database_url: str, prefix: str) -> None:
    """Ingest until caught up, then count what became of the accepted events."""
    settings = bench.settings(database_url, ingest_topics=rf"sup\.{prefix}.+")
    try:
        run_ingest(settings, until_caught_up=True, max_records=20_000)
    except Exception as exc:
        outcome.stalls.append(f"ingest failed: {type(exc).__name__}: {str(exc)[:200]}")
    engine = make_engine(database_url)
    landed: Counter[str] = Counter()
    with engine.connect() as conn:
        for table in LANDING.values():
            rows = conn.execute(
                select(table.c.event_id, func.count())
                .where(table.c.supplier_id.like(f"{prefix}%"))
                .group_by(table.c.event_id)
            )
            landed.update({event_id: n for event_id, n in rows})
        quarantined = {
            r[0]
            for r in conn.execute(
                select(quarantine.c.event_id).where(quarantine.c.kafka_topic.like(f"sup.{prefix}%"))
            )
        }
        outcome.quarantined = (
            conn.scalar(
                select(func.count())
                .select_from(quarantine)
                .where(quarantine.c.kafka_topic.like(f"sup.{prefix}%"))
            )
            or 0
        )
    engine.dispose()
    outcome.landed = sum(landed.values())
    outcome.doubled = sum(n - 1 for n in landed.values() if n > 1) + len(set(landed) & quarantined)
    outcome.lost = len({e for e in outcome.accepted if e not in landed and e not in quarantined})


def scenario_broker(bench: Bench) -> Outcome:
    outcome = Outcome("broker stopped 30 s while the gateway and the SDK accept")
    world = bench.programme("FB", 2, bench.sqlite_url)
    events = clean_events(world, seed=21)
    sdk_supplier, gw_supplier = (s.supplier_id for s in world.suppliers)
    gateway = Gateway(bench)
    gateway.start()
    key = Parties(make_engine(bench.sqlite_url)).issue_key(gw_supplier)
    client = SupplierClient.from_settings(
        sdk_supplier,
        bench.settings(),
        producer_config={
            "max_block_ms": 2000,
            "delivery_timeout_ms": 5000,
            "request_timeout_ms": 2000,
        },
    )
    by_supplier: dict[str, list[tuple[str, dict[str, Any]]]] = {sdk_supplier: [], gw_supplier: []}
    for supplier, event_type, record in events:
        by_supplier[supplier].append((event_type, record))
    started = time.monotonic()
    down_at, up_at = started + 8, started + 38  # the broker is away for 30 s
    broker_down = restarted = False
    i = 0
    # Spread the stream over 50 s, so the outage (8 s to 38 s) falls in its middle.
    pace = 50.0 / max(1, len(by_supplier[sdk_supplier]) // 20)
    while i < len(by_supplier[sdk_supplier]):
        now = time.monotonic()
        if not broker_down and not restarted and now > down_at:
            bench.rig.broker.stop()
            broker_down = True
        if broker_down and now > up_at:
            bench.rig.broker.start()
            broker_down, restarted = False, True
        for supplier in (sdk_supplier, gw_supplier):
            via = client if supplier == sdk_supplier else (gateway.url, key)
            _send_round(outcome, via, by_supplier[supplier][i : i + 20])
        with contextlib.suppress(PlatformError):  # the broker is away: the spool keeps them
            client.flush()
        i += 20
        time.sleep(pace)
    if not restarted:  # the scenario did not test what it says: count it against us
        outcome.stalls.append("the stream ended before the outage was over")
    if broker_down:
        bench.rig.broker.start()
    if not wait_for(lambda: _flushed(client), timeout=120, interval=1):
        outcome.stalls.append(f"the SDK spool kept {client.pending()} events")
    topics = [supplier_topic(s.supplier_id, e) for s in world.suppliers for e in EventType]
    if not wait_for(
        lambda: set(outcome.accepted) <= set(kafka_event_ids(bench.rig.broker.bootstrap, topics)),
        timeout=120,
        interval=2,
    ):
        outcome.stalls.append("the gateway's spool did not drain")
    client.close()
    gateway.stop()
    in_kafka = kafka_event_ids(bench.rig.broker.bootstrap, topics)
    outcome.kafka_duplicates = sum(n - 1 for n in in_kafka.values() if n > 1)
    settle(bench, outcome, bench.sqlite_url, "FB")
    return outcome


def _send_round(
    outcome: Outcome,
    via: SupplierClient | tuple[str, str],
    chunk: list[tuple[str, dict[str, Any]]],
) -> None:
    """Send `chunk` through the SDK client or the gateway (url, key); note what was taken."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    for event_type, record in chunk:
        kinds.setdefault(event_type, []).append(record)
    for event_type, records in kinds.items():
        if isinstance(via, SupplierClient):
            ids, refused = via.send_batch(event_type, records)
            outcome.refused_at_edge += len(refused)
            outcome.accepted.update(ids)
        else:
            answer = post(via[0], via[1], event_type, [as_json(r) for r in records])
            if answer.status_code == 202:
                outcome.accepted.update(answer.json()["accepted"])


def _flushed(client: SupplierClient) -> bool:
    try:
        client.flush()
    except PlatformError:
        return False
    return client.pending() == 0


def scenario_gateway(bench: Bench) -> Outcome:
    outcome = Outcome("gateway SIGKILLed 3 times mid-stream")
    world = bench.programme("FG", 2, bench.sqlite_url)
    events = clean_events(world, seed=22)
    keys = {
        s.supplier_id: Parties(make_engine(bench.sqlite_url)).issue_key(s.supplier_id)
        for s in world.suppliers
    }
    gateway = Gateway(bench)
    gateway.start()
    rng = random.Random(3)
    batches = []
    for supplier, event_type, record in events:
        if not batches or batches[-1][0] != (supplier, event_type) or len(batches[-1][1]) >= 50:
            batches.append(((supplier, event_type), []))
        batches[-1][1].append(as_json(record))
    kill_at = sorted(rng.sample(range(10, max(11, len(batches) - 10)), 3))
    for n, ((supplier, event_type), records) in enumerate(batches):
        if n in kill_at:
            gateway.kill()
            gateway.start()
        for _attempt in range(20):  # the MES resends what got no answer
            try:
                answer = post(gateway.url, keys[supplier], event_type, records)
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            if answer.status_code == 202:
                outcome.accepted.update(answer.json()["accepted"])
                outcome.refused_at_edge += len(answer.json()["rejected"])
            break
    topics = [supplier_topic(s.supplier_id, e) for s in world.suppliers for e in EventType]
    if not wait_for(
        lambda: set(outcome.accepted) <= set(kafka_event_ids(bench.rig.broker.bootstrap, topics)),
        timeout=120,
        interval=2,
    ):
        outcome.stalls.append("accepted events did not reach Kafka")
    gateway.stop()
    in_kafka = kafka_event_ids(bench.rig.broker.bootstrap, topics)
    outcome.kafka_duplicates = sum(n - 1 for n in in_kafka.values() if n > 1)
    settle(bench, outcome, bench.sqlite_url, "FG")
    return outcome


def produce(bench: Bench, world: World, seed: int) -> set[str]:
    """Clean events straight into Kafka; their ids."""
    registry = RegistryClient(bench.rig.registry.url, bench.rig.auth)
    serializers = {e: AvroSerializer.for_event_type(registry, e) for e in EventType}
    producer = KafkaProducer(
        bootstrap_servers=bench.rig.broker.bootstrap,
        **client_security(load_settings()),
        acks="all",
        linger_ms=10,
    )
    ids = set()
    for supplier, event_type, record in clean_events(world, seed):
        topic = supplier_topic(supplier, event_type)
        value = serializers[EventType(event_type)].encode(record, topic=topic)
        producer.send(
            topic, value=value, headers=[("sangsaeng.event_id", str(record["event_id"]).encode())]
        )
        ids.add(str(record["event_id"]))
    producer.flush()
    producer.close()
    return ids


def _offsets_moved(database_url: str, prefix: str) -> int:
    from pipelines.landing.models import ingest_offsets

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.coalesce(func.sum(ingest_offsets.c.next_offset), 0)).where(
                        ingest_offsets.c.topic.like(f"sup.{prefix}%")
                    )
                )
                or 0
            )
    except Exception:  # the database may be down mid-scenario
        return -1
    finally:
        engine.dispose()


def scenario_ingest(bench: Bench) -> Outcome:
    outcome = Outcome("ingest SIGKILLed 5 times mid-batch")
    world = bench.programme("FI", 8, bench.sqlite_url)  # about 6,000 events: 15 batches
    outcome.accepted = produce(bench, world, seed=23)
    env = bench.env(ingest_topics=r"sup\.FI.+")
    command = [sys.executable, "-m", "cli", "ingest", "--until-caught-up", "--max-records", "400"]
    rng = random.Random(5)
    for _ in range(5):
        before = _offsets_moved(bench.sqlite_url, "FI")
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(
            lambda p=process, b=before: (
                p.poll() is not None or _offsets_moved(bench.sqlite_url, "FI") > b
            ),
            timeout=180,
            interval=0.05,
        )
        time.sleep(rng.uniform(0.0, 1.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        outcome.stalls.append(f"ingest after the kills: {done.stderr.strip()[-200:]}")
    settle(bench, outcome, bench.sqlite_url, "FI")
    return outcome


def scenario_postgres(bench: Bench) -> Outcome:
    outcome = Outcome("PostgreSQL stopped mid-batch")
    url = bench.rig.postgres.url  # type: ignore[union-attr]
    world = bench.programme("FP", 8, url)
    outcome.accepted = produce(bench, world, seed=24)
    env = bench.env(url, ingest_topics=r"sup\.FP.+")
    command = [sys.executable, "-m", "cli", "ingest", "--until-caught-up", "--max-records", "400"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wait_for(
        lambda: process.poll() is not None or _offsets_moved(url, "FP") > 0,
        timeout=180,
        interval=0.05,
    )
    bench.rig.postgres.stop()  # type: ignore[union-attr]
    try:
        process.communicate(timeout=180)
        if process.returncode == 0:
            outcome.stalls.append("ingest did not notice the database going away")
    except subprocess.TimeoutExpired:
        process.kill()
        outcome.stalls.append("ingest hung with the database away")
    bench.rig.postgres.start()  # type: ignore[union-attr]
    settle(bench, outcome, url, "FP")
    return outcome


def _raw_record(event_type: EventType, record: dict[str, Any], **changes: Any) -> bytes:
    """Avro bytes of `record` with `changes`, written with fastavro directly (no edge)."""
    schema = parse_schema(contract(event_type))
    out = io.BytesIO()
    schemaless_writer(out, schema, {**record, **changes})
    return out.getvalue()


def scenario_poison(bench: Bench) -> Outcome:
    outcome = Outcome("1 % poison through Kafka and the gateway")
    world = bench.programme("FX", 2, bench.sqlite_url)
    events = clean_events(world, seed=25)
    raw_supplier, gw_supplier = (s.supplier_id for s in world.suppliers)
    registry = RegistryClient(bench.rig.registry.url, bench.rig.auth)
    serializers = {e: AvroSerializer.for_event_type(registry, e) for e in EventType}
    producer = KafkaProducer(
        bootstrap_servers=bench.rig.broker.bootstrap,
        **client_security(load_settings()),
        acks="all",
        linger_ms=10,
    )
    gateway = Gateway(bench)
    gateway.start()
    key = Parties(make_engine(bench.sqlite_url)).issue_key(gw_supplier)
    rng = random.Random(9)
    poison_ids: set[str] = set()
    for supplier, event_type, record in events:
        kind = EventType(event_type)
        poison = rng.choice(POISON_KINDS) if rng.random() < 0.01 else None
        outcome.poison_sent += poison is not None
        if poison is not None and poison != "random_bytes":
            poison_ids.add(str(record["event_id"]))
        if supplier == raw_supplier:
            topic = supplier_topic(supplier, kind)
            producer.send(topic, **_raw_message(serializers[kind], kind, record, poison, rng))
            if poison is None:
                outcome.accepted.add(str(record["event_id"]))
            continue
        body = as_json(record)
        if poison is not None:
            body = _poisoned_json(kind, body, "nul" if poison == "random_bytes" else poison)
        answer = post(gateway.url, key, event_type, [body])
        if answer.status_code == 202:  # accepted poison is judged by what it became
            outcome.accepted.update(answer.json()["accepted"])
        elif answer.status_code >= 500:
            outcome.stalls.append(f"gateway answered {answer.status_code}")
        elif poison is not None:
            outcome.refused_at_edge += 1
    producer.flush()
    producer.close()
    topics = [supplier_topic(s.supplier_id, e) for s in world.suppliers for e in EventType]
    wanted = outcome.accepted - poison_ids
    if not wait_for(
        lambda: wanted <= set(kafka_event_ids(bench.rig.broker.bootstrap, topics)),
        timeout=120,
        interval=2,
    ):
        outcome.stalls.append("accepted events did not reach Kafka")
    gateway.stop()
    settle(bench, outcome, bench.sqlite_url, "FX")
    engine = make_engine(bench.sqlite_url)
    with engine.connect() as conn:
        for table in LANDING.values():
            outcome.poison_landed += (
                conn.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.event_id.in_(sorted(poison_ids)))
                )
                or 0
            )
    engine.dispose()
    return outcome


POISON_KINDS = ["random_bytes", "nan", "infinity", "nul", "huge_string", "year_10000"]


def _raw_message(
    serializer: AvroSerializer,
    kind: EventType,
    record: dict[str, Any],
    poison: str | None,
    rng: random.Random,
) -> dict[str, Any]:
    """What goes straight into Kafka for `record`: itself, or its `poison` kind."""
    if poison is None:
        headers = [("sangsaeng.event_id", str(record["event_id"]).encode())]
        return {"value": serializer.encode(record), "headers": headers}
    if poison == "random_bytes":
        return {"value": bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))}
    return {"value": serializer.header + _poisoned(kind, record, poison)}


def _targets(kind: EventType) -> tuple[str | None, str]:
    """A double field (None if the type has none) and a text field to spoil."""
    fields = contract(kind)["fields"]
    numeric = next((f["name"] for f in fields if f["type"] == "double"), None)
    text = next(f["name"] for f in fields if f["type"] == "string" and f["name"] != "supplier_id")
    return numeric, text


def _poisoned(kind: EventType, record: dict[str, Any], choice: str) -> bytes:
    numeric, text = _targets(kind)
    match choice:
        case "nan" if numeric:
            return _raw_record(kind, record, **{numeric: math.nan})
        case "infinity" if numeric:
            return _raw_record(kind, record, **{numeric: math.inf})
        case "huge_string":
            return _raw_record(kind, record, **{text: "x" * 200_000})
        case "year_10000":
            # fastavro refuses to write it as a datetime: the long it would have written.
            return _raw_record(kind, record, event_time=253402300800000)
        case _:
            return _raw_record(kind, record, **{text: "a\x00b"})


def _poisoned_json(kind: EventType, body: dict[str, Any], choice: str) -> dict[str, Any]:
    numeric, text = _targets(kind)
    match choice:
        case "nan" if numeric:
            return {**body, numeric: math.nan}
        case "infinity" if numeric:
            return {**body, numeric: math.inf}
        case "huge_string":
            return {**body, text: "x" * 1_100_000}
        case "year_10000":
            return {**body, "event_time": 253402300800000}
        case _:
            return {**body, text: "a\x00b"}


RUNNERS: dict[str, Callable[[Bench], Outcome]] = {
    "broker": scenario_broker,
    "gateway": scenario_gateway,
    "ingest": scenario_ingest,
    "postgres": scenario_postgres,
    "poison": scenario_poison,
}


@app.command()
def main(
    scenarios: Annotated[
        str, typer.Option(help="Comma-separated: " + ", ".join(SCENARIOS))
    ] = ",".join(SCENARIOS),
) -> None:
    """Run the fault scenarios against a stack of its own; print what became of every event."""
    wanted = [s.strip() for s in scenarios.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in RUNNERS]
    if unknown:
        raise typer.BadParameter(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    with console.status("Starting a broker, PostgreSQL and a registry…"):
        bench = Bench()
    outcomes = []
    try:
        for name in wanted:
            started = time.monotonic()
            with console.status(f"Scenario {name}…"):
                outcome = RUNNERS[name](bench)
            outcome.seconds = time.monotonic() - started
            outcomes.append(outcome)
            console.print(f"{name}: done in {outcome.seconds:.0f} s")
    finally:
        bench.close()
    table = Table(
        title="Faults: what became of every event (goal: 0 lost, 0 doubled, 0 stalls)",
        title_justify="left",
    )
    for column in (
        "scenario",
        "accepted",
        "landed",
        "quarantined",
        "refused at edge",
        "lost",
        "doubled",
        "Kafka dups (deduped)",
        "poison landed",
        "stalls",
        "s",
    ):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for o in outcomes:
        table.add_row(
            o.name,
            f"{len(o.accepted):,}",
            f"{o.landed:,}",
            f"{o.quarantined:,}",
            f"{o.refused_at_edge:,}" + (f" of {o.poison_sent} poison" if o.poison_sent else ""),
            str(o.lost),
            str(o.doubled),
            str(o.kafka_duplicates),
            str(o.poison_landed) if o.name.startswith("1 %") else "",
            str(len(o.stalls)),
            f"{o.seconds:.0f}",
        )
    Console(width=max(console.width, 180)).print(table)  # one line a scenario, even in a log
    for o in outcomes:
        for stall in o.stalls:
            console.print(f"[yellow]stall[/] in {o.name}: {stall}")


if __name__ == "__main__":
    app()
