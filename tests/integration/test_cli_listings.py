"""Every list command in each `--format`: JSON with the documented columns, CSV with a
header and one line per row, and a table that shows every id whole on an 80-column
terminal (supplier ids, event ids, topics, subjects), however many columns it has."""

import csv
import io
import json
import uuid

import pytest

from connectors.sdk import SupplierClient
from schemas.topics import EventType
from tests.integration.recent_events import recent_events, reference_yaml
from tests.support import cli_env, run_cli

pytestmark = [pytest.mark.integration]

QUARANTINE_COLUMNS = [
    "id",
    "first seen",
    "supplier",
    "type",
    "event id",
    "topic",
    "partition",
    "offset",
    "reasons",
]
SUPPLIER_COLUMNS = ["supplier", "name", "sector", "onboarded (UTC)"]
SCHEMA_COLUMNS = ["subject", "latest version", "id", "fields", "compatibility"]
REGISTERED_COLUMNS = ["event type", "subject", "version", "id"]
STACK_COLUMNS = ["service", "state", "address", "pid", "since (UTC)", "log / detail"]
SUBJECTS = {
    "io.sangsaeng.ProductionEvent",
    "io.sangsaeng.QualityInspectionEvent",
    "io.sangsaeng.MachineStatusEvent",
    "io.sangsaeng.ShipmentEvent",
    "io.sangsaeng.EnergyReadingEvent",
}


def listing(env: dict[str, str], *args: str) -> dict[str, str]:
    """The command's stdout in each format (the table on an 80-column terminal)."""
    out = {}
    for fmt in ("json", "csv", "table"):
        run_env = {**env, "COLUMNS": "80"} if fmt == "table" else env
        done = run_cli(run_env, *args, "--format", fmt)
        assert done.returncode == 0, f"{args} --format {fmt}: {done.stdout}{done.stderr}"
        out[fmt] = done.stdout
    return out


def csv_rows(text: str, columns: list[str]) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text))
    assert next(reader) == columns
    return [dict(zip(columns, row, strict=True)) for row in reader]


def on_one_line(table: str, value: str) -> bool:
    return any(value in line for line in table.splitlines())


def registry_env(registry, **settings: str) -> dict[str, str]:
    return cli_env(
        schema_registry_url=registry.url, registry_auth=":".join(registry.auth), **settings
    )


@pytest.mark.kafka
def test_quarantine_list_formats_and_whole_ids_at_80_columns(
    db_url, kafka_bootstrap, shared_registry, tmp_path
):
    supplier = f"LISTING-SUPPLIER-{uuid.uuid4().hex[:8].upper()}"
    env = registry_env(
        shared_registry,
        kafka_bootstrap=kafka_bootstrap,
        database_url=db_url,
        state_dir=str(tmp_path / "state"),
        ingest_topics=rf"sup\.{supplier}\..+",
    )
    assert (
        run_cli(env, "suppliers", "add", supplier, "--name", "n", "--sector", "s").returncode == 0
    )
    reference = tmp_path / "reference.yaml"
    reference.write_text(reference_yaml(supplier))
    assert run_cli(env, "reference", "load", str(reference)).returncode == 0
    refused = {  # event type -> (events, the rule each breaks)
        EventType.PRODUCTION: (
            recent_events(EventType.PRODUCTION, supplier, 2, part_number="NO-SUCH-PART"),
            "known_part",
        ),
        EventType.MACHINE_STATUS: (
            recent_events(EventType.MACHINE_STATUS, supplier, 2, line_id="L99"),
            "known_line",
        ),
    }
    client = SupplierClient(
        supplier,
        bootstrap=kafka_bootstrap,
        registry=shared_registry.client(),
        spool_path=tmp_path / "spool.db",
    )
    try:
        for event_type, (events, _) in refused.items():
            client.send_many(event_type, events)
        assert client.flush() == 4
    finally:
        client.close()
    ingested = run_cli(env, "ingest", "--until-caught-up", timeout=300)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr

    out = listing(env, "quarantine", "list")

    expected = {
        e["event_id"]: (event_type.value, rule)
        for event_type, (events, rule) in refused.items()
        for e in events
    }
    entries = json.loads(out["json"])
    assert [list(entry) for entry in entries] == [QUARANTINE_COLUMNS] * 4
    assert {e["event id"]: (e["type"], e["reasons"][0]["rule"]) for e in entries} == expected
    assert {e["supplier"] for e in entries} == {supplier}
    topics = {f"sup.{supplier}.{t}" for t in ("production", "machine_status")}
    assert {e["topic"] for e in entries} == topics
    assert {r["event id"] for r in csv_rows(out["csv"], QUARANTINE_COLUMNS)} == set(expected)
    for value in [*expected, *topics, supplier]:
        assert on_one_line(out["table"], value), f"{value} is not whole in:\n{out['table']}"
    assert "4 shown" in out["table"]

    every = json.loads(
        run_cli(env, "quarantine", "list", "--status", "all", "--format", "json").stdout
    )
    assert [list(entry) for entry in every] == [[*QUARANTINE_COLUMNS[:-1], "status", "reasons"]] * 4
    assert {e["status"] for e in every} == {"open"}


@pytest.mark.kafka
def test_suppliers_list_formats_with_a_64_character_id(db_url, kafka_bootstrap, tmp_path):
    supplier = f"LONG-{uuid.uuid4().hex}".ljust(64, "X")
    env = cli_env(kafka_bootstrap=kafka_bootstrap, database_url=db_url, state_dir=str(tmp_path))
    added = run_cli(
        env, "suppliers", "add", supplier, "--name", "Hanbit Syringes", "--sector", "syringes"
    )
    assert added.returncode == 0, added.stdout + added.stderr

    out = listing(env, "suppliers", "list")

    rows = json.loads(out["json"])
    assert [list(r) for r in rows] == [SUPPLIER_COLUMNS]
    assert rows[0]["supplier"] == supplier and rows[0]["sector"] == "syringes"
    assert [r["supplier"] for r in csv_rows(out["csv"], SUPPLIER_COLUMNS)] == [supplier]
    assert on_one_line(out["table"], supplier), out["table"]
    assert "Hanbit" in out["table"]


def test_schemas_register_and_list_formats(registry, tmp_path):
    # A registry of its own: "list" shows each subject's latest version, which a test
    # evolving a schema in the shared registry would make newer than what is registered.
    env = registry_env(registry, state_dir=str(tmp_path))

    registered = listing(env, "schemas", "register")
    listed = listing(env, "schemas", "list")

    rows = json.loads(registered["json"])
    assert [list(r) for r in rows] == [REGISTERED_COLUMNS] * 5
    assert {r["subject"] for r in rows} == SUBJECTS
    assert {r["event type"] for r in rows} == {e.value for e in EventType}
    assert {r["subject"] for r in csv_rows(registered["csv"], REGISTERED_COLUMNS)} == SUBJECTS
    subjects = json.loads(listed["json"])
    assert all(list(s) == SCHEMA_COLUMNS for s in subjects)
    ours = {s["subject"]: s for s in subjects if s["subject"] in SUBJECTS}
    assert set(ours) == SUBJECTS
    assert {s["compatibility"] for s in ours.values()} == {"BACKWARD_TRANSITIVE"}
    ids = {r["subject"]: r["id"] for r in rows}
    assert {name: s["id"] for name, s in ours.items()} == ids
    assert {r["subject"] for r in csv_rows(listed["csv"], SCHEMA_COLUMNS)} >= SUBJECTS
    for subject in SUBJECTS:
        assert on_one_line(registered["table"], subject), registered["table"]
        assert on_one_line(listed["table"], subject), listed["table"]


def test_stack_status_formats_with_no_stack_running(tmp_path):
    env = cli_env(state_dir=str(tmp_path / "state"))

    out = listing(env, "stack", "status")

    services = json.loads(out["json"])
    assert [list(s) for s in services] == [STACK_COLUMNS] * 5
    assert {s["service"]: s["state"] for s in services} == {
        name: "stopped" for name in ("kafka", "registry", "gateway", "api", "postgres")
    }
    rows = csv_rows(out["csv"], STACK_COLUMNS)
    assert [r["state"] for r in rows] == ["stopped"] * 5
    for service in services:
        assert on_one_line(out["table"], service["address"]), out["table"]
