"""`sangsaeng suppliers add`: the operator's one step, idempotent, on both databases."""

import os
import re
import subprocess
import sys

import pytest

from connectors.kafka.admin import admin_client
from governance.models import Role
from governance.parties import Parties
from sangsaeng.db import make_engine
from tests.support import cli_env

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def run(env: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_onboarding_creates_topics_and_one_key_once(db_url, kafka_bootstrap, tmp_path):
    env = cli_env(kafka_bootstrap=kafka_bootstrap, database_url=db_url, state_dir=str(tmp_path))
    supplier = f"ON{os.getpid() % 10000}{db_url[:4]}"

    first = run(env, "suppliers", "add", supplier, "--name", "Daehan Masks", "--sector", "masks")
    assert first.returncode == 0, first.stderr
    assert "onboarded" in first.stdout
    key = re.search(r"(ssk_\S+)", first.stdout).group(1)
    with admin_client(kafka_bootstrap) as admin:
        topics = set(admin.list_topics())
    for event_type in ("production", "quality", "machine_status", "shipment", "energy"):
        assert f"sup.{supplier}.{event_type}" in topics
        assert f"dlq.{event_type}" in topics

    again = run(env, "suppliers", "add", supplier, "--name", "Daehan Masks", "--sector", "masks")
    assert again.returncode == 0 and "already known; 0 topic(s) created" in again.stdout
    assert "ssk_" not in again.stdout

    engine = make_engine(db_url)
    parties = Parties(engine)
    assert parties.supplier_for_key(key) == supplier
    assert parties.supplier_for_key(key + "x") is None
    assert [s.org_id for s in parties.organisations(Role.SUPPLIER)] == [supplier]
    engine.dispose()

    listed = run(env, "suppliers", "list")
    assert supplier in listed.stdout and "masks" in listed.stdout

    bad = run(env, "suppliers", "add", "S.01", "--name", "x", "--sector", "y")
    assert bad.returncode == 1 and bad.stderr.startswith("error: supplier id")
    unknown = run(env, "gateway", "add-key", "--supplier", "NOPE")
    assert unknown.returncode == 1 and "not onboarded" in unknown.stderr
