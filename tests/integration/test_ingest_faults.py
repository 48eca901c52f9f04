"""Ingest under faults, on both databases: SIGKILL of the ingest process mid-batch, and
the database going away during a batch. The committed state must always cover exactly
the records below the stored offsets, and the end state must equal an uninterrupted run."""

import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import event, make_url

from connectors.kafka.consumer import SupplierTopicReader
from governance.reference import ReferenceSets
from infra.postgres.cluster import PostgresCluster
from infra.process import wait_for
from orchestration.run import run_ingest
from pipelines.ingest import Ingestor, ingest_once
from pipelines.validation.runner import Validator
from sangsaeng.db import make_engine
from sangsaeng.errors import TransientError
from schemas.registry.client import RegistryClient
from schemas.serde import AvroDeserializer
from tests.integration.ingest_state import IngestState, read_state
from tests.integration.ingest_world import IngestWorld
from tests.support import cli_env
from tests.worlds import LONG_INGEST_DAYS

pytestmark = pytest.mark.integration

SANGSAENG = str(
    Path(shutil.which("sangsaeng") or Path(__file__).parents[2] / ".venv/bin/sangsaeng")
)


@pytest.fixture
def world(make_world) -> IngestWorld:
    return make_world(days=LONG_INGEST_DAYS)  # enough events for several large batches


def assert_consistent(state: IngestState) -> None:
    """The committed rows are exactly the records below the stored offsets (topics start at 0)."""
    assert state.landed_rows == len(state.landed), "an event_id landed twice"
    covered = sum(state.offsets.values())
    assert len(state.landed) + len(state.duplicates) + state.quarantine_rows == covered


def test_sigkill_mid_batch_loses_and_doubles_nothing(
    world: IngestWorld, db_url: str, tmp_path: Path
) -> None:
    world.produce_mix(6000, duplicates=200, invalid_each=4)
    reference_url = f"sqlite:///{tmp_path / 'uninterrupted.db'}"
    for url in (reference_url, db_url):
        world.load_reference(url)
    run_ingest(world.settings(reference_url), until_caught_up=True, max_records=1500)
    expected = read_state(reference_url)
    assert len(expected.landed) == 6000 and len(expected.duplicates) == 200

    env = cli_env(**world.setting_values(db_url), state_dir=str(tmp_path / "state"))
    command = [SANGSAENG, "ingest", "--until-caught-up", "--max-records", "1500"]
    rng = random.Random(5)
    partial = 0
    for _ in range(3):
        before = sum(read_state(db_url).offsets.values())
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # Kill at a random moment once this process has committed at least one batch.
        moved = wait_for(
            lambda p=process, b=before: (
                p.poll() is not None or sum(read_state(db_url).offsets.values()) > b
            ),
            timeout=120,
            interval=0.05,
        )
        assert moved, "the ingest process made no progress"
        time.sleep(rng.uniform(0.0, 1.2))  # the fault's moment is the point of the test
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        state = read_state(db_url)
        assert_consistent(state)
        assert state.landed <= expected.landed
        partial += state != expected
    assert partial >= 1, "no kill landed mid-way; the test proved nothing"

    finished = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert read_state(db_url) == expected


# -- the database goes away during a batch ----------------------------------------------


def _ingestor(world: IngestWorld, engine) -> Ingestor:
    return Ingestor(
        engine,
        AvroDeserializer.for_contracts(RegistryClient(world.registry_url, world.registry_auth)),
        Validator(ReferenceSets.read(engine)),
    )


def _reader(world: IngestWorld) -> SupplierTopicReader:
    return SupplierTopicReader(world.bootstrap, topics=world.setting_values("")["ingest_topics"])


def _outage_then_recovery(world: IngestWorld, url: str, outage, recover) -> None:
    """One good batch, one batch during `outage`, then `recover` and catch up."""
    world.load_reference(url)
    world.produce_mix(900, duplicates=30)
    engine = make_engine(url, sqlite_timeout_s=0.5)
    ingestor, reader = _ingestor(world, engine), _reader(world)
    try:
        assert ingest_once(reader, ingestor, max_records=300, max_seconds=20).read == 300
        before = read_state(url)
        with outage(engine), pytest.raises(TransientError, match="database unavailable"):
            ingest_once(reader, ingestor, max_records=300, max_seconds=20)
        recover()
        assert read_state(url) == before, "a failed batch changed the database"
        while ingest_once(reader, ingestor, max_records=300, max_seconds=20).read:
            pass
    finally:
        reader.close()
        engine.dispose()
    state = read_state(url)
    assert_consistent(state)
    assert state.landed_ids == {s.event_id for s in world.sent if s.expect == "land"}
    assert len(state.duplicates) == 30


@pytest.mark.postgres
def test_postgres_stopping_mid_batch_writes_nothing(
    world: IngestWorld, own_postgres: PostgresCluster
) -> None:
    from contextlib import contextmanager

    @contextmanager
    def outage(engine):
        stopped = []

        def stop_server(conn, cursor, statement, *args) -> None:
            # Landing rows are being written: the server goes away now, mid-transaction.
            if not stopped and statement.replace('"', "").startswith("INSERT INTO landing_"):
                stopped.append(True)
                own_postgres.stop()

        event.listen(engine, "before_cursor_execute", stop_server)
        try:
            yield
        finally:
            event.remove(engine, "before_cursor_execute", stop_server)
            assert stopped, "the outage never happened"

    _outage_then_recovery(world, own_postgres.url, outage, own_postgres.start)


def test_sqlite_locked_by_another_writer_writes_nothing(world: IngestWorld, tmp_path: Path) -> None:
    from contextlib import contextmanager

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder: list[sqlite3.Connection] = []

    @contextmanager
    def outage(engine):
        # Another process's writer holds the database for longer than we wait for it.
        lock = sqlite3.connect(make_url(url).database, timeout=0)
        lock.execute("BEGIN IMMEDIATE")
        holder.append(lock)
        yield

    def recover() -> None:
        holder.pop().rollback()

    _outage_then_recovery(world, url, outage, recover)
