"""The broker's generated configuration: KRaft, loopback only, no auto-created topics."""

from pathlib import Path

import pytest

from infra.kafka.broker import KafkaBroker, kafka_version, new_cluster_id

pytestmark = pytest.mark.unit


def test_pom_names_a_kafka_4_release():
    major = int(kafka_version().split(".")[0])
    assert major >= 4


def test_server_properties_are_kraft_loopback_without_auto_create(tmp_path: Path):
    broker = KafkaBroker(
        service_dir=tmp_path, cache_dir=tmp_path, port=19092, controller_port=19093
    )
    props = dict(line.split("=", 1) for line in broker.server_properties().splitlines() if line)
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["auto.create.topics.enable"] == "false"
    assert Path(props["log.dirs"]).is_relative_to(tmp_path.resolve())


def test_cluster_ids_are_22_char_urlsafe_unique_and_never_look_like_options():
    ids = {new_cluster_id() for _ in range(5000)}  # ~78 would start with "-" unchecked
    assert len(ids) == 5000
    assert all(len(i) == 22 and "=" not in i and "/" not in i for i in ids)
    assert not any(i.startswith("-") for i in ids)
