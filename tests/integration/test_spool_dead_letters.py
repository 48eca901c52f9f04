"""No record can stop a spool: an event the broker refuses for good is dead-lettered with
the broker's reason and the events behind it arrive once and in order; spools left on
disk are drained by a gateway that starts, without waiting for a request."""

import json
import logging
import subprocess
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.gateway.server import build
from connectors.kafka.admin import ensure_topics
from connectors.onboarding import onboard, supplier_topics
from connectors.sdk import SupplierClient
from connectors.sdk.client import EVENT_ID_HEADER, ForwardKind
from governance.parties import Parties
from infra.process import wait_for
from sangsaeng.settings import Settings, load_settings
from tests.support import cli_env, read_topic, set_topic_config, upgraded_engine

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

LINES = 5
BIG = "x" * 100_000  # over the 64 KiB these tests give a topic, under the producer's 1 MiB
TOPIC_LIMIT = {"max.message.bytes": "65536"}


def events(n: int, start: int = 0) -> list[dict]:
    """`n` production events over LINES lines; `work_order_id` carries the send order."""
    return [
        {
            "site_id": "P1",
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
        for i in range(start, start + n)
    ]


def big_event() -> dict:
    return {**events(1, start=999_999)[0], "source_system": BIG}


def delivered(bootstrap: str, topic: str, registry) -> list[str]:
    """The event ids in `topic`, after checking none is there twice and each line's
    events are in the order they were sent."""
    from schemas.serde import AvroDeserializer

    reader = AvroDeserializer.for_contracts(registry)
    records = read_topic(bootstrap, topic)
    ids = [dict(r.headers)[EVENT_ID_HEADER].decode() for r in records]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicates"
    per_key = defaultdict(list)
    for r in records:
        per_key[r.key].append(reader.decode(r.value)["work_order_id"])
    for key, orders in per_key.items():
        assert orders == sorted(orders), f"out of order for key {key!r}"
    return ids


def spool_cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "spool", *args],
        env=cli_env(state_dir=str(state_dir)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]


def test_a_record_the_broker_refuses_is_dead_lettered_and_the_rest_arrives_in_order(
    kafka_bootstrap, shared_registry, tmp_path, caplog
):
    supplier = f"D{uuid.uuid4().hex[:6]}"
    topic = f"sup.{supplier}.production"
    # The limit on this supplier's own topics only (the dead-letter topics are shared).
    own = {t: n for t, n in supplier_topics(supplier, 3).items() if t.startswith("sup.")}
    ensure_topics(kafka_bootstrap, own, configs=TOPIC_LIMIT)
    state = tmp_path / "state"
    client = SupplierClient(
        supplier,
        bootstrap=kafka_bootstrap,
        registry=shared_registry.client(),
        spool_path=state / "spool" / f"{supplier}.db",
    )
    before = client.send_many("production", events(7))
    (big,) = client.send_many("production", [big_event()])
    after = client.send_many("production", events(1000, start=7))

    caplog.set_level(logging.WARNING)
    assert client.flush() == 1007  # the broker took all but the one it refused
    assert client.pending() == 0 and client.dead_letters() == 1
    (message,) = refusals(caplog)
    assert f"refused event {big}" in message and "MessageSizeTooLargeError" in message
    assert "did not take" not in message and "away" not in message
    assert client.last_problem is not None and client.last_problem.kind is ForwardKind.REFUSED
    ids = delivered(kafka_bootstrap, topic, shared_registry.client())
    assert sorted(ids) == sorted(before + after)

    (entry,) = json.loads(spool_cli(state, "list", "--format", "json").stdout)
    assert (entry["supplier"], entry["event id"], entry["topic"]) == (supplier, big, topic)
    assert entry["reason"].startswith("MessageSizeTooLargeError: ")
    assert entry["bytes"] > 100_000

    # The operator raises the topic's limit and sends it again: it arrives, once.
    set_topic_config(kafka_bootstrap, topic, {"max.message.bytes": "2000000"})
    assert "moved 1 dead letter" in spool_cli(state, "retry", "--supplier", supplier).stdout
    assert client.flush() == 1
    assert client.dead_letters() == 0 and client.pending() == 0
    assert sorted(delivered(kafka_bootstrap, topic, shared_registry.client())) == sorted(
        before + after + [big]
    )
    client.close()


def test_a_record_over_the_producers_own_limit_is_dead_lettered_and_can_be_dropped(
    kafka_bootstrap, shared_registry, tmp_path, caplog
):
    supplier = f"D{uuid.uuid4().hex[:6]}"
    topic = f"sup.{supplier}.production"
    ensure_topics(kafka_bootstrap, supplier_topics(supplier, 3))
    state = tmp_path / "state"
    client = SupplierClient(
        supplier,
        bootstrap=kafka_bootstrap,
        registry=shared_registry.client(),
        spool_path=state / "spool" / f"{supplier}.db",
        producer_config={"max_request_size": 65_536},  # refused before it leaves
    )
    (big,) = client.send_many("production", [big_event()])
    after = client.send_many("production", events(1000))
    caplog.set_level(logging.WARNING)
    assert client.flush() == 1000
    assert client.dead_letters() == 1
    (message,) = refusals(caplog)
    assert f"refused event {big}" in message and "max_request_size" in message
    assert sorted(delivered(kafka_bootstrap, topic, shared_registry.client())) == sorted(after)

    listed = spool_cli(state, "list", "--supplier", supplier).stdout
    assert big in listed and f"{supplier}: 0 pending, 1 dead letter" in listed
    assert (
        "dropped 1 dead letter" in spool_cli(state, "drop", "--supplier", supplier, "--yes").stdout
    )
    assert json.loads(spool_cli(state, "list", "--format", "json").stdout) == []
    assert client.flush() == 0 and client.dead_letters() == 0
    client.close()


def gateway_settings(tmp_path: Path, bootstrap: str, registry) -> Settings:
    state = tmp_path / "state"
    url = f"sqlite:///{state / 'sangsaeng.db'}"
    state.mkdir()
    upgraded_engine(url).dispose()
    return load_settings(
        state_dir=state,
        database_url=url,
        kafka_bootstrap=bootstrap,
        schema_registry_url=registry.url,
        registry_auth=":".join(registry.auth),
    )


def test_the_gateway_dead_letters_a_refused_record_and_reports_it(
    kafka_bootstrap, shared_registry, tmp_path
):
    settings = gateway_settings(tmp_path, kafka_bootstrap, shared_registry)
    app, pool = build(settings)
    supplier = f"D{uuid.uuid4().hex[:6]}"
    topic = f"sup.{supplier}.production"
    parties = Parties(upgraded_engine(settings.database_url))
    key = onboard(
        parties,
        kafka_bootstrap,
        supplier,
        "Refusal Works",
        "plating",
        partitions=3,
        retention_days=1,
    ).api_key
    set_topic_config(kafka_bootstrap, topic, TOPIC_LIMIT)
    pool.start()
    try:
        with TestClient(app, headers={"X-API-Key": key}) as http:
            answer = http.post("/v1/events/production", json=[big_event()])
            assert answer.status_code == 202, answer.text[:300]
            (big,) = answer.json()["accepted"]
            sent = []
            for start in (0, 500):
                answer = http.post("/v1/events/production", json=events(500, start=start))
                assert answer.status_code == 202, answer.text[:300]
                sent += answer.json()["accepted"]
            assert wait_for(
                lambda: len(read_topic(kafka_bootstrap, topic)) >= 1000, timeout=120, interval=0.5
            )
            assert wait_for(lambda: http.get("/metrics").json()["spooled"] == 0, timeout=30)
            metrics = http.get("/metrics").json()
    finally:
        pool.stop()
        parties.engine.dispose()
    mine = metrics["suppliers"][supplier]
    assert (mine["spooled"], mine["dead_letters"]) == (0, 1)
    assert mine["last_error"]["kind"] == "refused"
    assert f"refused event {big}" in mine["last_error"]["message"]
    assert mine["last_forwarded_at"] is not None
    assert sorted(delivered(kafka_bootstrap, topic, shared_registry.client())) == sorted(sent)


def test_a_starting_gateway_drains_the_spools_on_disk_without_a_request(
    kafka_bootstrap, shared_registry, tmp_path
):
    """As after a gateway killed with events spooled: the suppliers do not send again."""
    settings = gateway_settings(tmp_path, kafka_bootstrap, shared_registry)
    parties = Parties(upgraded_engine(settings.database_url))
    accepted = {}
    for n, supplier in enumerate(f"R{uuid.uuid4().hex[:6]}" for _ in range(2)):
        onboard(
            parties,
            kafka_bootstrap,
            supplier,
            "Drain Works",
            "food",
            partitions=3,
            retention_days=1,
        )
        client = SupplierClient.from_settings(supplier, settings)
        accepted[supplier] = client.send_many("production", events(600 + n * 400))
        assert client.pending() == len(accepted[supplier])
        client.close()  # not flushed: the events wait on disk
    stranger = SupplierClient.from_settings("NOBODY", settings)  # a spool of no supplier
    stranger.spool.append([("production", "sup.NOBODY.production", b"k", "x", b"b")], limit=10)
    stranger.close()

    app, pool = build(settings)
    pool.start()
    try:
        for supplier, ids in accepted.items():
            topic, n = f"sup.{supplier}.production", len(ids)
            assert wait_for(
                lambda t=topic, n=n: len(read_topic(kafka_bootstrap, t)) >= n,
                timeout=120,
                interval=0.5,
            ), f"the spool of {supplier} was not drained"
        with TestClient(app) as http:
            assert wait_for(lambda: http.get("/metrics").json()["spooled"] == 0, timeout=30)
            metrics = http.get("/metrics").json()
    finally:
        pool.stop()
        parties.engine.dispose()
    assert set(metrics["suppliers"]) == set(accepted)  # the stranger's spool is left alone
    for supplier, ids in accepted.items():
        topic = f"sup.{supplier}.production"
        assert sorted(delivered(kafka_bootstrap, topic, shared_registry.client())) == sorted(ids)
        assert metrics["suppliers"][supplier]["last_error"] is None


def test_a_forwarder_that_died_mid_flush_is_not_resent_by_another_on_the_same_spool(
    kafka_bootstrap, shared_registry, tmp_path
):
    """A gateway's long-lived client and an SDK process share a spool: the SDK dies
    after the broker took a batch but before the spool forgot it."""
    supplier = f"D{uuid.uuid4().hex[:6]}"
    topic = f"sup.{supplier}.production"
    ensure_topics(kafka_bootstrap, supplier_topics(supplier, 3))
    spool = tmp_path / f"{supplier}.db"

    def client() -> SupplierClient:
        return SupplierClient(
            supplier, bootstrap=kafka_bootstrap, registry=shared_registry.client(), spool_path=spool
        )

    gateway = client()
    first = gateway.send_many("production", events(10))
    assert gateway.flush() == 10  # recovered once, long ago

    sdk = client()
    sent = first + sdk.send_many("production", events(700, start=10))

    class Died(Exception):
        pass

    def die(*_args):
        raise Died

    sdk.spool.remove = die  # after the broker's ack, before the delete...
    sdk.spool.drop_cursor = die  # ...and no clean exit: the process is gone
    with pytest.raises(Died):
        sdk.flush()

    assert gateway.flush() == 200  # the 500 of the dead one's batch are already in Kafka
    assert gateway.pending() == 0
    assert sorted(delivered(kafka_bootstrap, topic, shared_registry.client())) == sorted(sent)
    gateway.close()
