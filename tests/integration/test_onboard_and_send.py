"""A supplier onboarded the documented way lands its events, and one nobody onboarded
is told so at once: by the reference file, by `sangsaeng push` and by the SDK.

The documented way: `sangsaeng suppliers add`, then a reference file with only the
supplier's sites, lines and parts (its organisation record came from onboarding), then
`push` and `ingest`. Everything must land; nothing may be quarantined.
"""

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.kafka.admin import ensure_topics
from connectors.onboarding import supplier_topics
from connectors.sdk import SupplierClient
from connectors.sdk.client import EVENT_ID_HEADER
from connectors.sdk.spool import Spool
from governance.models import Site
from governance.parties import NotOnboarded
from infra.process import free_port
from pipelines.landing.models import LANDING, quarantine
from sangsaeng.db import make_engine
from schemas.topics import EventType
from tests.integration.recent_events import recent_events, reference_yaml
from tests.support import cli_env, read_topic, run_cli

pytestmark = [pytest.mark.integration]

FAST_FAIL = {"max_block_ms": 2000, "request_timeout_ms": 2000, "delivery_timeout_ms": 5000}
SENT = {EventType.PRODUCTION: 12, EventType.QUALITY: 5, EventType.MACHINE_STATUS: 7}


def new_supplier(prefix: str) -> str:
    """A supplier id no other test (or database of the matrix) uses on the shared broker."""
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def spooled(state_dir: Path, supplier_id: str) -> int:
    """Events in the supplier's spool (0 when `push` never created one)."""
    path = state_dir / "spool" / f"{supplier_id}.db"
    if not path.exists():
        return 0
    spool = Spool(path)
    try:
        return spool.count()
    finally:
        spool.close()


@pytest.mark.kafka
def test_onboarded_supplier_with_only_sites_lines_parts_lands_everything(
    db_url, kafka_bootstrap, shared_registry, tmp_path
):
    supplier = new_supplier("OS")
    env = cli_env(
        kafka_bootstrap=kafka_bootstrap,
        database_url=db_url,
        state_dir=str(tmp_path / "state"),
        schema_registry_url=shared_registry.url,
        registry_auth=":".join(shared_registry.auth),
        ingest_topics=rf"sup\.{supplier}\..+",
    )

    added = run_cli(
        env, "suppliers", "add", supplier, "--name", "Daehan Masks", "--sector", "masks"
    )
    assert added.returncode == 0, added.stdout + added.stderr
    reference = tmp_path / "reference.yaml"
    reference.write_text(reference_yaml(supplier))
    loaded = run_cli(env, "reference", "load", str(reference))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "0 organisations, 1 sites, 1 lines, 1 parts" in loaded.stdout

    sent_ids: dict[EventType, set[str]] = {}
    for event_type, n in SENT.items():
        events = recent_events(event_type, supplier, n)
        sent_ids[event_type] = {e["event_id"] for e in events}
        export = write_jsonl(tmp_path / f"{event_type.value}.jsonl", events)
        pushed = run_cli(
            env, "push", "--supplier", supplier, "--type", event_type.value, str(export)
        )
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert f"accepted {n}, refused 0, still spooled 0" in pushed.stdout

    ingested = run_cli(env, "ingest", "--until-caught-up", timeout=300)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            for event_type, ids in sent_ids.items():
                table = LANDING[event_type]
                landed = set(
                    conn.scalars(select(table.c.event_id).where(table.c.supplier_id == supplier))
                )
                assert landed == ids, f"{event_type}: {len(ids - landed)} of {len(ids)} missing"
            assert conn.scalar(select(func.count()).select_from(quarantine)) == 0
    finally:
        engine.dispose()
    listed = run_cli(env, "quarantine", "list", "--status", "all", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_reference_file_naming_a_supplier_nobody_onboarded_is_refused(db_url, tmp_path):
    stranger = new_supplier("NO")
    env = cli_env(database_url=db_url, state_dir=str(tmp_path / "state"))
    reference = tmp_path / "reference.yaml"
    reference.write_text(reference_yaml(stranger))

    loaded = run_cli(env, "reference", "load", str(reference))

    assert loaded.returncode == 1, loaded.stdout + loaded.stderr
    assert "Traceback" not in loaded.stderr
    message = " ".join(loaded.stderr.split())
    for entry in ("sites[0].supplier_id", "lines[0].supplier_id", "parts[0].supplier_id"):
        assert entry in message
    assert stranger in message and "sangsaeng suppliers add" in message
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Site)) == 0
    finally:
        engine.dispose()


@pytest.mark.kafka
def test_push_for_a_supplier_not_onboarded_fails_at_once_and_spools_nothing(
    kafka_bootstrap, shared_registry, tmp_path
):
    stranger = new_supplier("NP")
    state = tmp_path / "state"
    env = cli_env(
        kafka_bootstrap=kafka_bootstrap,
        state_dir=str(state),
        schema_registry_url=shared_registry.url,
        registry_auth=":".join(shared_registry.auth),
    )
    export = write_jsonl(
        tmp_path / "production.jsonl", recent_events(EventType.PRODUCTION, stranger, 3)
    )

    pushed = run_cli(env, "push", "--supplier", stranger, "--type", "production", str(export))

    assert pushed.returncode == 1, pushed.stdout + pushed.stderr
    assert "Traceback" not in pushed.stderr
    lines = pushed.stderr.strip().splitlines()
    assert len(lines) == 1, pushed.stderr
    assert "not onboarded" in lines[0] and f"sangsaeng suppliers add {stranger}" in lines[0]
    assert "accepted" not in pushed.stdout
    assert spooled(state, stranger) == 0


@pytest.mark.kafka
def test_sdk_send_for_a_supplier_not_onboarded_raises_and_spools_nothing(
    kafka_bootstrap, shared_registry, tmp_path
):
    stranger = new_supplier("NS")
    client = SupplierClient(
        stranger,
        bootstrap=kafka_bootstrap,
        registry=shared_registry.client(),
        spool_path=tmp_path / "spool.db",
        producer_config=FAST_FAIL,
    )
    try:
        with pytest.raises(NotOnboarded, match="sangsaeng suppliers add"):
            client.send("production", recent_events(EventType.PRODUCTION, stranger, 1)[0])
        assert client.pending() == 0
    finally:
        client.close()


@pytest.mark.kafka
def test_sdk_spools_while_the_broker_is_away_and_a_later_flush_says_not_onboarded(
    kafka_bootstrap, shared_registry, tmp_path
):
    stranger = new_supplier("NF")
    spool_path = tmp_path / "spool.db"
    event = recent_events(EventType.PRODUCTION, stranger, 1)[0]

    away = SupplierClient(
        stranger,
        bootstrap=f"127.0.0.1:{free_port()}",  # nothing listens there
        registry=shared_registry.client(),
        spool_path=spool_path,
        producer_config=FAST_FAIL,
    )
    try:
        assert away.send("production", event) == event["event_id"]
        assert away.pending() == 1
    finally:
        away.close()

    client = SupplierClient(
        stranger,
        bootstrap=kafka_bootstrap,
        registry=shared_registry.client(),
        spool_path=spool_path,
        producer_config=FAST_FAIL,
    )
    try:
        with pytest.raises(NotOnboarded) as refused:
            client.flush()
        message = str(refused.value)
        assert "is not onboarded" in message and "sangsaeng suppliers add" in message
        assert "did not take the events" not in message
        assert client.pending() == 1

        ensure_topics(kafka_bootstrap, supplier_topics(stranger, 1))  # onboarded after all
        assert client.flush() == 1
        assert client.pending() == 0
    finally:
        client.close()
    records = read_topic(kafka_bootstrap, f"sup.{stranger}.production")
    assert [dict(r.headers)[EVENT_ID_HEADER].decode() for r in records] == [event["event_id"]]
