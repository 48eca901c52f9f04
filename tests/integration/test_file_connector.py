"""The file connector with the real broker and registry: reports, failures, crash-resume."""

import signal
import sqlite3
import subprocess
import sys
import uuid

import pytest

from connectors.kafka.admin import ensure_topics
from connectors.onboarding import supplier_topics
from connectors.sdk.client import EVENT_ID_HEADER
from infra.process import wait_for
from tests.support import cli_env, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

MAPPING = """
event_type: energy
fields:
  site_id: {constant: P1}
  source_system: {constant: meter-export}
  meter_id: {column: meter}
  energy_kwh: {column: kwh, type: float}
  period_start: {column: from, format: "%Y-%m-%d %H:%M", timezone: Asia/Seoul}
  period_end: {column: to, format: "%Y-%m-%d %H:%M", timezone: Asia/Seoul}
  energy_source: {column: source}
"""


def csv_rows(n: int, bad_every: int = 0) -> str:
    lines = ["meter,kwh,from,to,source"]
    for i in range(1, n + 1):
        kwh = "oops" if bad_every and i % bad_every == 0 else f"{i % 50}.5"
        lines.append(f"E{i % 4},{kwh},2026-03-02 08:00,2026-03-02 08:15,GRID")
    return "\n".join(lines) + "\n"


@pytest.fixture
def setup(kafka_bootstrap, shared_registry, tmp_path):
    supplier = f"F{uuid.uuid4().hex[:8]}"
    topic = f"sup.{supplier}.energy"
    ensure_topics(kafka_bootstrap, supplier_topics(supplier, 2))  # onboarded: all its topics
    drop = tmp_path / "drop"
    drop.mkdir()
    (tmp_path / "mapping.yaml").write_text(MAPPING)
    env = cli_env(
        kafka_bootstrap=kafka_bootstrap,
        schema_registry_url=shared_registry.url,
        registry_auth=":".join(shared_registry.auth),
        state_dir=str(tmp_path / "state"),
    )
    argv = [
        sys.executable,
        "-m",
        "cli",
        "files",
        "watch",
        str(drop),
        "--supplier",
        supplier,
        "--mapping",
        str(tmp_path / "mapping.yaml"),
        "--once",
    ]
    return {
        "drop": drop,
        "env": env,
        "argv": argv,
        "topic": topic,
        "bootstrap": kafka_bootstrap,
        "spool": tmp_path / "state" / "spool" / f"{supplier}.db",
    }


def event_ids(bootstrap: str, topic: str) -> list[str]:
    return [dict(r.headers)[EVENT_ID_HEADER] for r in read_topic(bootstrap, topic)]


def test_good_rows_go_bad_rows_are_reported_and_files_are_filed(setup):
    drop, env, argv = setup["drop"], setup["env"], setup["argv"]
    (drop / "day1.csv").write_text(csv_rows(30, bad_every=10))
    (drop / "broken.csv").write_text("meter,kwh\nE1,1\n")  # no column the mapping needs
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "day1.csv: 30 rows, 27 accepted, 3 refused -> done/" in run.stdout
    report = (drop / "done" / "day1.csv.report.txt").read_text()
    assert "row 10: energy_kwh (column 'kwh'): 'oops' is not a number" in report
    assert "row 20" in report and "row 30" in report
    assert (drop / "failed" / "broken.csv").exists()
    assert "no column 'from'" in (drop / "failed" / "broken.csv.report.txt").read_text()
    assert len(event_ids(setup["bootstrap"], setup["topic"])) == 27

    # The same content dropped again is recognised and not sent twice.
    (drop / "again.csv").write_text(csv_rows(30, bad_every=10))
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert "already processed" in again.stdout
    assert len(event_ids(setup["bootstrap"], setup["topic"])) == 27


def test_crash_mid_file_resumes_without_loss_or_duplicates(setup):
    drop, env, argv = setup["drop"], setup["env"], setup["argv"]
    n = 20_000
    (drop / "big.csv").write_text(csv_rows(n, bad_every=97))
    valid = n - n // 97

    def cursor() -> int:
        try:
            with sqlite3.connect(setup["spool"], timeout=1) as db:
                row = db.execute("SELECT max(position) FROM cursor").fetchone()
            return row[0] or 0
        except sqlite3.Error:
            return 0

    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    assert wait_for(lambda: cursor() >= 3000 or proc.poll() is not None, timeout=120, interval=0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = cursor()
    assert 0 < stopped_at < n, "the kill landed mid-file"
    assert (drop / "big.csv").exists()

    finish = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert finish.returncode == 0, finish.stderr
    assert "big.csv" in finish.stdout and "-> done/" in finish.stdout
    ids = event_ids(setup["bootstrap"], setup["topic"])
    assert len(ids) == len(set(ids)) == valid
    report = (drop / "done" / "big.csv.report.txt").read_text()
    assert f"rows 1-{stopped_at} were handled by an earlier run" in report
