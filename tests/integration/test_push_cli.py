"""`sangsaeng push`: a JSON Lines export goes through the SDK; bad lines are named."""

import json
import subprocess
import sys

import pytest
from kafka import KafkaConsumer, TopicPartition

from connectors.kafka.admin import ensure_topics
from connectors.onboarding import supplier_topics
from tests.support import cli_env, kafka_login

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def test_push_sends_good_lines_and_lists_bad_ones(kafka_bootstrap, shared_registry, tmp_path):
    topic = "sup.S0201.energy"
    ensure_topics(kafka_bootstrap, supplier_topics("S0201", 1))  # onboarded: all its topics
    good = {
        "site_id": "S0201-P1",
        "source_system": "csv-export",
        "meter_id": "E1",
        "energy_kwh": 3.5,
        "period_start": "2026-03-02T08:00:00+09:00",
        "period_end": "2026-03-02T08:15:00+09:00",
        "energy_source": "GRID",
    }
    lines = [json.dumps(good)] * 5 + [
        "{broken",
        json.dumps({**good, "energy_kwh": "lots"}),
        json.dumps({**good, "supplier_id": "S9999"}),
        "",
        json.dumps(good),
        "[" * 100_000 + "]" * 100_000,
        json.dumps({**good, "energy_kwh": "@"}).replace('"@"', "NaN"),
    ]
    export = tmp_path / "energy.jsonl"
    export.write_text("\n".join(lines) + "\n")
    env = cli_env(
        kafka_bootstrap=kafka_bootstrap,
        schema_registry_url=shared_registry.url,
        registry_auth=":".join(shared_registry.auth),
        state_dir=str(tmp_path / "state"),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "push",
            str(export),
            "--supplier",
            "S0201",
            "--type",
            "energy",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "accepted 6, refused 5, still spooled 0" in proc.stdout
    rows = {
        line.split("│")[1].strip(): line
        for line in proc.stdout.splitlines()
        if line.startswith("│")
    }
    assert "not JSON" in rows["6"]
    assert "energy_kwh" in rows["7"]
    assert "supplier_id" in rows["8"] and "S9999" in rows["8"]
    assert "nested more than 3 deep" in rows["11"]
    assert "energy_kwh" in rows["12"] and "NaN" in rows["12"]

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, **kafka_login())
    assert consumer.end_offsets([TopicPartition(topic, 0)])[TopicPartition(topic, 0)] == 6
    consumer.close()
