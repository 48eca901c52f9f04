"""The broker's logins and ACLs, on the session's real broker: each supplier's login
reaches its own topics only, the gateway and ingest do their jobs and nothing more, a
client without a valid login gets nothing, and off-boarding takes access away at once.

Every refusal is checked where it matters to a tenant: the other supplier's topic holds
no record the refused client sent, and a refused reader got no record.
"""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from connectors.kafka.acls import add_supplier_login, ensure_platform_users, supplier_user
from connectors.kafka.admin import admin_client, ensure_topics, records_held
from connectors.onboarding import offboard, supplier_topics
from connectors.sdk import SupplierClient
from sangsaeng.errors import ConfigError
from sangsaeng.kafka_access import (
    GATEWAY,
    INGEST,
    KafkaLogin,
    client_security,
    new_password,
)
from sangsaeng.settings import load_settings
from schemas.topics import EventType, dlq_topic, supplier_topic
from tests.integration.recent_events import recent_events
from tests.support import kafka_login

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

QUICK = {"request_timeout_ms": 5000, "max_block_ms": 5000, "bootstrap_timeout_ms": 3000}
QUICK_READ = {"request_timeout_ms": 6000, "bootstrap_timeout_ms": 3000}  # a consumer's, admin's


def security(login: KafkaLogin) -> dict[str, Any]:
    return client_security(load_settings(), None, login=login)


@pytest.fixture(scope="module")
def world(kafka_bootstrap: str) -> Iterator[dict[str, Any]]:
    """Two onboarded suppliers with their logins, and the platform users' logins."""
    tag = uuid.uuid4().hex[:6].upper()
    a, b = f"ACLA{tag}", f"ACLB{tag}"
    admin = kafka_login()
    for supplier in (a, b):
        ensure_topics(kafka_bootstrap, supplier_topics(supplier, 1), security=admin)
    logins = {s: add_supplier_login(kafka_bootstrap, s, admin) for s in (a, b)}
    platform = {user: KafkaLogin(user, new_password()) for user in (GATEWAY, INGEST)}
    ensure_platform_users(kafka_bootstrap, platform, admin)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **admin)
    for supplier in (a, b):  # something to read on every topic
        producer.send(supplier_topic(supplier, EventType.PRODUCTION), b"seed").get(timeout=30)
    producer.close()
    yield {"a": a, "b": b, "logins": logins, "platform": platform, "bootstrap": kafka_bootstrap}


def held(world: dict[str, Any], topic: str) -> int:
    return records_held(world["bootstrap"], [topic], security=kafka_login())[topic]


def send_once(bootstrap: str, login: KafkaLogin, topic: str) -> bool:
    """Whether the broker took one record from `login` on `topic`."""
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, **security(login), **QUICK)
    except KafkaError:
        return False
    try:
        producer.send(topic, b"probe").get(timeout=10)
        return True
    except KafkaError:
        return False
    finally:
        producer.close(timeout=2)


def read_any(bootstrap: str, login: KafkaLogin, topic: str) -> int:
    """How many records `login` could read from `topic`'s first partition (0 if refused)."""
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, **security(login), **QUICK_READ
        )
    except KafkaError:
        return 0
    got = 0
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and not got:
            try:
                got += sum(len(r) for r in consumer.poll(timeout_ms=500).values())
            except KafkaError:
                return got
    finally:
        consumer.close()
    return got


def test_a_supplier_writes_and_reads_its_own_topics_and_nothing_else(world):
    a, b, login = world["a"], world["b"], world["logins"][world["a"]]
    own, other = supplier_topic(a, EventType.PRODUCTION), supplier_topic(b, EventType.PRODUCTION)
    before_other, before_dlq = held(world, other), held(world, dlq_topic(EventType.PRODUCTION))

    assert login is not None and login.username == supplier_user(a)
    assert send_once(world["bootstrap"], login, own)
    assert read_any(world["bootstrap"], login, own) > 0  # the SDK's recovery reads its tail

    assert not send_once(world["bootstrap"], login, other)
    assert not send_once(world["bootstrap"], login, dlq_topic(EventType.PRODUCTION))
    assert read_any(world["bootstrap"], login, other) == 0
    assert read_any(world["bootstrap"], login, dlq_topic(EventType.PRODUCTION)) == 0
    assert held(world, other) == before_other
    assert held(world, dlq_topic(EventType.PRODUCTION)) == before_dlq


def test_a_supplier_cannot_create_or_delete_topics(world):
    a, login = world["a"], world["logins"][world["a"]]
    mine = supplier_topic(a, EventType.ENERGY)
    admin = KafkaAdminClient(bootstrap_servers=world["bootstrap"], **security(login), **QUICK_READ)
    try:
        made = admin.create_topics([NewTopic(f"sup.{a}.invented", 1, 1)], raise_errors=False)
        assert all(t["error_code"] != 0 for t in made["topics"])
        with pytest.raises(KafkaError):
            admin.delete_topics([mine])
    finally:
        admin.close()
    with admin_client(world["bootstrap"], security=kafka_login()) as root:
        topics = set(root.list_topics())
    assert mine in topics and f"sup.{a}.invented" not in topics


def test_no_client_gets_in_without_a_valid_login(world):
    own = supplier_topic(world["a"], EventType.PRODUCTION)
    before = held(world, own)
    wrong = KafkaLogin(supplier_user(world["a"]), "not-the-password")
    assert not send_once(world["bootstrap"], wrong, own)
    assert read_any(world["bootstrap"], wrong, own) == 0
    with pytest.raises(KafkaError):  # no login at all: the SASL listener answers nothing
        KafkaProducer(
            bootstrap_servers=world["bootstrap"], security_protocol="PLAINTEXT", **QUICK
        ).send(own, b"anonymous").get(timeout=10)
    assert held(world, own) == before


def test_the_gateway_forwards_for_every_supplier_and_touches_no_dead_letters(world):
    gateway = world["platform"][GATEWAY]
    for supplier in (world["a"], world["b"]):
        assert send_once(world["bootstrap"], gateway, supplier_topic(supplier, EventType.QUALITY))
    # its spools' recovery reads the tail of what it forwarded
    assert read_any(world["bootstrap"], gateway, supplier_topic(world["a"], EventType.QUALITY))
    before = held(world, dlq_topic(EventType.QUALITY))
    assert not send_once(world["bootstrap"], gateway, dlq_topic(EventType.QUALITY))
    assert read_any(world["bootstrap"], gateway, dlq_topic(EventType.QUALITY)) == 0
    assert held(world, dlq_topic(EventType.QUALITY)) == before


def test_ingest_reads_supplier_topics_writes_dead_letters_and_forges_nothing(world):
    ingest = world["platform"][INGEST]
    topic = supplier_topic(world["b"], EventType.PRODUCTION)
    assert read_any(world["bootstrap"], ingest, topic) > 0
    assert send_once(world["bootstrap"], ingest, dlq_topic(EventType.SHIPMENT))
    before = held(world, topic)
    assert not send_once(world["bootstrap"], ingest, topic)
    assert held(world, topic) == before


def test_the_sdk_sends_with_the_suppliers_own_login(world, shared_registry, tmp_path):
    a = world["a"]
    client = SupplierClient(
        a,
        bootstrap=world["bootstrap"],
        registry=shared_registry.client(),
        spool_path=tmp_path / "spool.db",
        security=security(world["logins"][a]),
    )
    topic = supplier_topic(a, EventType.MACHINE_STATUS)
    before = held(world, topic)
    try:
        ids, refused = client.send_batch(
            "machine_status", recent_events(EventType.MACHINE_STATUS, a, 5)
        )
        assert not refused
        client.flush()
        assert client.pending() == 0
    finally:
        client.close()
    assert held(world, topic) == before + len(ids) == before + 5


def test_the_sdk_without_a_login_says_where_one_comes_from(
    world, shared_registry, tmp_path, monkeypatch
):
    monkeypatch.delenv("SANGSAENG_KAFKA_USERNAME")
    monkeypatch.delenv("SANGSAENG_KAFKA_PASSWORD")
    client = SupplierClient(
        world["a"],
        bootstrap=world["bootstrap"],
        registry=shared_registry.client(),
        spool_path=tmp_path / "spool.db",
    )
    try:  # store and forward: accepted into the spool, kept there until a login is given
        client.send("production", recent_events(EventType.PRODUCTION, world["a"], 1)[0])
        with pytest.raises(ConfigError, match=r"SANGSAENG_KAFKA_USERNAME.*sangsaeng suppliers add"):
            client.flush()
        assert client.pending() == 1
    finally:
        client.close()


def test_offboarding_takes_access_away_at_once(kafka_bootstrap):
    supplier = f"ACLO{uuid.uuid4().hex[:6].upper()}"
    admin = kafka_login()
    ensure_topics(kafka_bootstrap, supplier_topics(supplier, 1), security=admin)
    login = add_supplier_login(kafka_bootstrap, supplier, admin)
    assert login is not None
    assert add_supplier_login(kafka_bootstrap, supplier, admin) is None  # shown once
    topic = supplier_topic(supplier, EventType.PRODUCTION)
    connected = KafkaProducer(bootstrap_servers=kafka_bootstrap, **security(login), **QUICK)
    try:
        connected.send(topic, b"before").get(timeout=10)
        assert offboard(kafka_bootstrap, supplier, security=admin) >= 3
        # the open connection is refused from its next request (the broker applies the
        # ACLs' removal from its metadata log: allow it a moment, never a success after)
        deadline, refused = time.monotonic() + 5, False
        while not refused and time.monotonic() < deadline:
            try:
                connected.send(topic, b"after").get(timeout=5)
                time.sleep(0.2)
            except KafkaError:
                refused = True
        assert refused, "the off-boarded supplier's open producer still writes"
    finally:
        connected.close(timeout=2)
    assert not send_once(kafka_bootstrap, login, topic)  # and a new login fails
    with admin_client(kafka_bootstrap, security=admin) as root:
        assert topic in set(root.list_topics())  # its topics stay
