"""Helpers the integration tests share: a clean CLI environment and running the CLI in
it, reading a topic back, and the JSON value strategy the fuzz tests build on."""

import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import strategies as st
from kafka import KafkaConsumer, TopicPartition

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(message: str) -> None:
    """A service a test needs is missing: skip locally, fail in CI (a skip is no pass)."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def upgraded_engine(url: str) -> Any:
    """An engine on `url`, its database upgraded to this release (as `sangsaeng db upgrade`)."""
    from migrations.schema import upgrade
    from sangsaeng.db import make_engine

    engine = make_engine(url)
    upgrade(engine)
    return engine


from sangsaeng.kafka_access import KAFKA_LOGIN_VARS  # noqa: E402 - kept in a CLI's env

# The test broker's super user login (tests/conftest.py) stays in a CLI's environment,
# as a user's shell holds the login of the broker they point at.


def kafka_login() -> dict[str, Any]:
    """kafka-python's settings for the session's login (the test broker's super user)."""
    from sangsaeng.kafka_access import client_security
    from sangsaeng.settings import load_settings

    return client_security(load_settings())


def librdkafka_login() -> dict[str, str]:
    """The session's login in librdkafka's terms (confluent-kafka, the independent client)."""
    found = kafka_login()
    return {
        "security.protocol": found["security_protocol"],
        "sasl.mechanism": found["sasl_mechanism"],
        "sasl.username": found["sasl_plain_username"],
        "sasl.password": found["sasl_plain_password"],
    }


def cli_env(**settings: str) -> dict[str, str]:
    """This process's environment without any SANGSAENG_* variable but the Kafka login,
    plus `settings` (given as lower-case setting names: `cli_env(state_dir=...)`)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SANGSAENG_") or k in KAFKA_LOGIN_VARS
    }
    env.update({f"SANGSAENG_{name.upper()}": value for name, value in settings.items()})
    env["COLUMNS"] = "200"
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`sangsaeng *args` as a user runs it (`python -m cli`), in `env`, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of `topic`, partition by partition, from the beginning to the end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka_login())
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(parts)
    records: list[Any] = []
    while any(consumer.position(tp) < ends[tp] for tp in parts):
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend(batch)
    consumer.close()
    return records


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=25,
)


def set_topic_config(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    """Change a topic's configs and wait until the broker reports them: an altered config
    reaches the broker asynchronously, and a record sent before would meet the old one."""
    import time

    from kafka.admin import ConfigResource, ConfigResourceType

    from connectors.kafka.admin import admin_client
    from infra.process import wait_for

    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)
    with admin_client(bootstrap) as admin:
        admin.alter_configs([resource])

        def applied() -> bool:
            found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            now = found.get("topic", {}).get(topic, {})
            return all(now.get(k, {}).get("value") == v for k, v in configs.items())

        assert wait_for(applied, timeout=30, interval=0.1), f"{topic}: {configs} not applied"
    time.sleep(0.5)  # the broker applies what its metadata says a moment later


def offline_client(supplier_id: str, spool_path: Any, **kwargs: Any) -> Any:
    """A `SupplierClient` with no broker and no registry in reach (nothing listens at
    127.0.0.1:1): it accepts into its spool, store and forward, and touches no network."""
    from connectors.sdk import SupplierClient
    from schemas.registry.client import RegistryClient

    return SupplierClient(
        supplier_id,
        bootstrap="127.0.0.1:1",
        registry=RegistryClient("http://127.0.0.1:1"),
        spool_path=spool_path,
        **kwargs,
    )
