"""Store-and-forward against a real broker that goes away: nothing lost, nothing doubled,
order kept per key, also when the sending process is killed mid-flush."""

import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from connectors.kafka.admin import ensure_topics
from connectors.onboarding import supplier_topics
from connectors.sdk import SupplierClient
from connectors.sdk.client import EVENT_ID_HEADER, ForwardKind
from infra.kafka.broker import KafkaBroker
from infra.process import free_port, wait_for
from sangsaeng.errors import PlatformError, TransientError
from sangsaeng.settings import load_settings
from tests.support import kafka_login, read_topic, unavailable

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

N = 10_000
LINES = 7
FAST_FAIL = {"max_block_ms": 2000, "request_timeout_ms": 2000, "delivery_timeout_ms": 5000}


@pytest.fixture(scope="module")
def broker(kafka_bootstrap: str) -> Iterator[KafkaBroker]:
    """A broker of this module's own, which its tests stop and start; its admin has the
    session broker's password, so the session's login (the env) works on both."""
    password = load_settings().kafka_password
    assert password is not None, "the session's Kafka login is not in the env"
    folder = Path(tempfile.mkdtemp(prefix="sangsaeng-outage-"))
    b = KafkaBroker(
        service_dir=folder / "kafka",
        cache_dir=load_settings().cache_dir,
        port=free_port(),
        controller_port=free_port(),
        admin_password=password.get_secret_value(),
    )
    try:
        b.start()
    except PlatformError as exc:
        unavailable(f"the Kafka broker could not start: {exc}")
    try:
        yield b
    finally:
        b.stop()
        shutil.rmtree(folder, ignore_errors=True)


def events(supplier: str) -> list[dict]:
    """N production events over LINES lines; `work_order_id` carries the send order."""
    return [
        {
            "supplier_id": supplier,
            "site_id": f"{supplier}-P1",
            "source_system": "test",
            "line_id": f"L{i % LINES}",
            "work_order_id": f"{i:06d}",
            "part_number": "P-1",
            "lot_id": "LOT-1",
            "quantity_good": 1.0,
            "quantity_scrap": 0.0,
            "start_time": "2026-03-02T08:00:00+09:00",
            "end_time": "2026-03-02T08:15:00+09:00",
            "unit": "H87",
        }
        for i in range(N)
    ]


def read_all(bootstrap: str, topic: str) -> list[tuple[bytes, str, bytes]]:
    """Every record of `topic` as (key, event_id header, value)."""
    return [
        (r.key, dict(r.headers)[EVENT_ID_HEADER].decode(), r.value)
        for r in read_topic(bootstrap, topic)
    ]


def check_delivery(bootstrap: str, topic: str, sent_ids: set[str], deserializer) -> None:
    records = read_all(bootstrap, topic)
    ids = [event_id for _, event_id, _ in records]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicates"
    assert set(ids) == sent_ids, f"{len(sent_ids - set(ids))} lost"
    per_key = defaultdict(list)
    for key, _, value in records:
        per_key[key].append(deserializer.decode(value)["work_order_id"])
    assert len(per_key) == LINES
    for key, orders in per_key.items():
        assert orders == sorted(orders), f"out of order for key {key!r}"


def test_events_accepted_during_an_outage_arrive_all_once_in_order(
    broker, shared_registry, tmp_path
):
    from schemas.serde import AvroDeserializer

    topic = "sup.S0101.production"
    ensure_topics(broker.bootstrap, supplier_topics("S0101", 3))
    broker.stop()

    client = SupplierClient(
        "S0101",
        bootstrap=broker.bootstrap,
        registry=shared_registry.client(),
        spool_path=tmp_path / "s.db",
        producer_config=FAST_FAIL,
    )
    sent = set()
    for start in range(0, N, 1000):
        sent.update(client.send_many("production", events("S0101")[start : start + 1000]))
    assert client.pending() == N
    with pytest.raises(TransientError, match=r"is away.*stay spooled") as away:
        client.flush()
    assert "refused" not in str(away.value)
    assert client.pending() == N and client.dead_letters() == 0  # an outage refuses nothing
    assert client.last_problem is not None and client.last_problem.kind is ForwardKind.AWAY

    broker.start()
    assert client.flush() == N
    assert client.pending() == 0
    client.close()
    check_delivery(
        broker.bootstrap, topic, sent, AvroDeserializer.for_contracts(shared_registry.client())
    )


SENDER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from connectors.sdk import SupplierClient
    from schemas.registry.client import RegistryClient
    bootstrap, registry_url, user, password, spool, events_file, ids_file = sys.argv[1:]
    client = SupplierClient("S0102", bootstrap=bootstrap,
                            registry=RegistryClient(registry_url, (user, password)),
                            spool_path=Path(spool), batch_size=200)
    if Path(events_file).exists():
        ids = client.send_many("production", json.loads(Path(events_file).read_text()))
        Path(ids_file).write_text("\\n".join(ids))
        Path(events_file).unlink()
    client.flush()
""")


def test_killing_the_sender_mid_flush_loses_and_doubles_nothing(broker, shared_registry, tmp_path):
    import json

    from schemas.serde import AvroDeserializer

    topic = "sup.S0102.production"
    ensure_topics(broker.bootstrap, supplier_topics("S0102", 3))
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(events("S0102")))
    argv = [
        sys.executable,
        "-c",
        SENDER,
        broker.bootstrap,
        shared_registry.url,
        *shared_registry.auth,
        str(tmp_path / "spool.db"),
        str(events_file),
        str(tmp_path / "ids.txt"),
    ]

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, **kafka_login())
    parts = [TopicPartition(topic, p) for p in range(3)]

    def delivered() -> int:
        return sum(consumer.end_offsets(parts).values())

    for kill_after in (1500, 5000):  # two crashes at different depths
        proc = subprocess.Popen(argv)
        reached = wait_for(
            lambda p=proc, k=kill_after: delivered() >= k or p.poll() is not None,
            timeout=120,
            interval=0.01,
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert reached
    sent = set((tmp_path / "ids.txt").read_text().split())
    assert len(sent) == N, "the first run accepted every event before it was killed"

    finish = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert finish.returncode == 0, finish.stderr[-2000:]
    consumer.close()
    check_delivery(
        broker.bootstrap, topic, sent, AvroDeserializer.for_contracts(shared_registry.client())
    )


def test_a_crash_between_ack_and_spool_delete_is_not_resent(broker, shared_registry, tmp_path):
    """The one window the random kills may miss, forced: the broker took the batch, then
    the process died before the spool forgot it."""
    from schemas.serde import AvroDeserializer

    topic = "sup.S0103.production"
    ensure_topics(broker.bootstrap, supplier_topics("S0103", 3))
    spool = tmp_path / "spool.db"

    first = SupplierClient(
        "S0103", bootstrap=broker.bootstrap, registry=shared_registry.client(), spool_path=spool
    )
    sent = set(first.send_many("production", events("S0103")[:700]))

    class Died(Exception):
        pass

    def die(_seqs):
        raise Died

    first.spool.remove = die  # the crash point: after the broker's ack, before the delete
    with pytest.raises(Died):
        first.flush()
    first.close()
    assert (
        SupplierClient(
            "S0103", bootstrap=broker.bootstrap, registry=shared_registry.client(), spool_path=spool
        ).pending()
        == 700
    )

    second = SupplierClient(
        "S0103", bootstrap=broker.bootstrap, registry=shared_registry.client(), spool_path=spool
    )
    assert second.flush() == 200  # the 500 of the first batch were already in Kafka
    assert second.pending() == 0
    second.close()
    records = read_all(broker.bootstrap, topic)
    assert sorted(event_id for _, event_id, _ in records) == sorted(sent)
    reader = AvroDeserializer.for_contracts(shared_registry.client())
    assert len({reader.decode(v)["event_id"] for _, _, v in records}) == 700


def test_gateway_keeps_accepting_during_an_outage_and_delivers_after(
    broker, shared_registry, tmp_path
):
    import threading

    import httpx
    import uvicorn

    from connectors.gateway.app import create_app
    from connectors.gateway.forwarder import ClientPool
    from connectors.onboarding import onboard
    from governance.parties import Parties
    from tests.support import upgraded_engine

    engine = upgraded_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    suppliers = Parties(engine)
    key = onboard(
        suppliers,
        broker.bootstrap,
        "S0104",
        "Outage Works",
        "plating",
        partitions=3,
        retention_days=1,
    ).api_key
    pool = ClientPool(
        lambda s: SupplierClient(
            s,
            bootstrap=broker.bootstrap,
            registry=shared_registry.client(),
            spool_path=tmp_path / f"{s}.db",
            producer_config=FAST_FAIL,
        ),
        retry_wait_s=0.5,
    )
    pool.start()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(suppliers, pool, rate_per_second=1000),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, timeout=20)
    try:
        broker.stop()
        sent = set()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=30, headers={"X-API-Key": key}
        ) as http:
            for start in range(0, 2000, 500):
                batch = [
                    {k: v for k, v in e.items() if k != "supplier_id"}
                    for e in events("S0104")[start : start + 500]
                ]
                answer = http.post("/v1/events/production", json=batch)
                assert answer.status_code == 202, answer.text[:300]
                sent.update(answer.json()["accepted"])
        assert len(sent) == 2000
        broker.start()
        assert wait_for(
            lambda: len(read_all(broker.bootstrap, "sup.S0104.production")) >= 2000, timeout=120
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        pool.stop()
        engine.dispose()
    records = read_all(broker.bootstrap, "sup.S0104.production")
    ids = [event_id for _, event_id, _ in records]
    assert len(ids) == len(set(ids)) == 2000 and set(ids) == sent
