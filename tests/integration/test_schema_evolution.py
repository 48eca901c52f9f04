"""A contract evolves the way a supplier's does, on SQLite and PostgreSQL: the shipped
ShipmentEvent version 2 (an optional ordered_quantity) over version 1. Events of version 1
land on a database of the previous release; the registry accepts version 2 under
BACKWARD_TRANSITIVE; before `sangsaeng db upgrade` ingest with the new contract stops at
once with a terminal error naming it, writing nothing; the upgrade adds the column from
the contract diff (no revision), and events of both versions land, version 1 ones and the
rows landed before reading NULL; delivery_weekly counts the ordered quantities. A further
(test-only) version 3 adds a field with a non-null default: rows landed before read as it."""

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from sqlalchemy import func, inspect, select

from connectors.kafka.admin import ensure_topics
from connectors.kafka.consumer import SupplierTopicReader
from governance.parties import Parties
from governance.reference import ReferenceFile, load_reference
from migrations.schema import ensure, status, upgrade
from pipelines.ingest import build_ingestor, ingest_once
from pipelines.landing.models import default_contracts, landing_tables
from pipelines.landing.writer import stored_offsets
from pipelines.validation.suites import TimeWindow
from pipelines.views.delivery import delivery_weekly
from pipelines.views.refresh import refresh
from sangsaeng.db import SchemaMismatch, make_engine
from sangsaeng.errors import TerminalError
from sangsaeng.settings import load_settings
from schemas.contracts import contract_text, contract_versions, register_contracts
from schemas.serde import AvroSerializer
from schemas.topics import EventType, subject_for, supplier_topic
from tests.conftest import RunningRegistry
from tests.support import kafka_login

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WINDOW = TimeWindow(future_seconds=300, horizon_seconds=180 * 86_400)
SHIPMENT = EventType.SHIPMENT


def previous_release() -> dict[EventType, dict[str, Any]]:
    """The contracts of the release before ShipmentEvent version 2 (its first version)."""
    return {e: json.loads(contract_versions(e)[0]) for e in EventType}


def version_3() -> dict[EventType, dict[str, Any]]:
    """This release's contracts with a ShipmentEvent version 3 (a test's, not shipped): an
    incoterm with a non-null default, as a later MES upgrade might add it."""
    contracts = copy.deepcopy(default_contracts())
    contracts[SHIPMENT]["fields"].append(
        {"name": "incoterm", "type": "string", "default": "FCA", "doc": "Incoterms 2020 rule."}
    )
    return contracts


def shipment(supplier: str, n: int, **extra: Any) -> dict[str, Any]:
    # Receipt-relative on purpose: validation compares event_time with the Kafka timestamp.
    shipped = datetime.now(UTC) - timedelta(hours=2)  # clock-ok: receipt-relative
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": shipped,
        "supplier_id": supplier,
        "site_id": f"{supplier}-P1",
        "source_system": "MES 7",
        "buyer_id": "B01",
        "shipment_id": f"SH-{n}",
        "po_number": f"PO-{n // 5}",
        "part_number": "BRKT-220",
        "lot_ids": [f"LOT-{n}"],
        "quantity": 100.0 + n,
        "unit": "H87",
        "promised_date": (shipped + timedelta(days=2)).date(),
        "shipped_at": shipped,
        "delivered_at": None,
        **extra,
    }


def test_shipment_version_2_lands_beside_version_1(
    kafka_bootstrap: str, empty_db_url: str, tmp_path: Path
) -> None:
    supplier = "EV" + uuid.uuid4().hex[:6].upper()
    topic = supplier_topic(supplier, SHIPMENT)
    ensure_topics(kafka_bootstrap, {topic: 2})
    v1 = previous_release()
    assert "ordered_quantity" not in {f["name"] for f in v1[SHIPMENT]["fields"]}
    assert v1[SHIPMENT]["fields"] == default_contracts()[SHIPMENT]["fields"][:-1]
    engine = make_engine(empty_db_url)
    upgrade(engine, v1)  # the database as the previous release left it
    columns = {c["name"] for c in inspect(engine).get_columns("landing_shipment")}
    assert "ordered_quantity" not in columns
    Parties(engine).add_supplier(supplier, "Evolving Parts", "auto parts")
    load_reference(
        engine,
        ReferenceFile.model_validate(
            {
                "organisations": [{"org_id": "B01", "name": "Buyer", "role": "buyer"}],
                "sites": [{"site_id": f"{supplier}-P1", "supplier_id": supplier}],
                "parts": [{"part_number": "BRKT-220", "supplier_id": supplier}],
            }
        ),
    )
    # The registry keeps its own database (as on SQLite by default).
    registry = RunningRegistry(f"sqlite:///{tmp_path / 'registry.db'}")
    client = registry.client()
    subject = subject_for(SHIPMENT)
    for event_type in EventType:  # what the previous release registered
        client.register(subject_for(event_type), json.dumps(v1[event_type]))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_login(), acks="all")
    v1_writer = AvroSerializer(client, json.dumps(v1[SHIPMENT]))

    def produce(writer: AvroSerializer, records: list[dict[str, Any]]) -> None:
        for record in records:
            producer.send(topic, key=b"k", value=writer.encode(record, topic=topic))
        producer.flush(timeout=30)

    def ingest(contracts: Any) -> Any:
        ingestor = build_ingestor(engine, client, WINDOW, contracts=contracts)
        with SupplierTopicReader(kafka_bootstrap, topics=rf"sup\.{supplier}\..+") as reader:
            return ingest_once(reader, ingestor, max_records=10_000, max_seconds=10)

    old = [shipment(supplier, n) for n in range(20)]
    produce(v1_writer, old)
    first = ingest(v1)
    assert first.landed[SHIPMENT] == 20 and sum(first.quarantined.values()) == 0

    # This release: version 2 is compatible with version 1 and registered as version 2.
    assert client.compatibility(subject, contract_text(SHIPMENT)) == []
    registered = {c.event_type: c for c in register_contracts(client)}
    assert registered[SHIPMENT].version == 2
    assert {c.version for e, c in registered.items() if e is not SHIPMENT} == {1}
    assert client.latest(subject)["version"] == 2

    # The new contract on the old tables: refused at once, terminal, nothing written.
    pending = status(engine)
    assert not pending.current
    assert [str(c) for c in pending.pending] == ["add column landing_shipment.ordered_quantity"]
    with pytest.raises(SchemaMismatch, match="sangsaeng db upgrade"):
        ensure(engine)
    v2_writer = AvroSerializer.for_event_type(client, SHIPMENT)  # the shipped contract
    new = [shipment(supplier, 100 + n, ordered_quantity=120.0 + n) for n in range(10)]
    mixed_v1 = [shipment(supplier, 200 + n) for n in range(10)]
    produce(v1_writer, mixed_v1)
    produce(v2_writer, new)
    offsets_before = stored_offsets(engine)
    with pytest.raises(TerminalError, match="sangsaeng db upgrade"):
        ingest(None)
    assert stored_offsets(engine) == offsets_before

    done = upgrade(engine)  # `sangsaeng db upgrade`: the column from the contract diff
    assert [str(c) for c in done.changes] == [str(c) for c in pending.pending]
    assert done.before == done.after  # no revision: the contract diff alone
    assert status(engine).current
    assert not upgrade(engine).changed  # idempotent

    second = ingest(None)
    assert second.landed[SHIPMENT] == 20
    assert sum(second.quarantined.values()) == 0 and sum(second.duplicates.values()) == 0

    table = landing_tables(default_contracts())[SHIPMENT]
    with engine.connect() as conn:
        rows = {
            r.shipment_id: r.ordered_quantity
            for r in conn.execute(
                select(table.c.shipment_id, table.c.ordered_quantity).where(
                    table.c.supplier_id == supplier
                )
            )
        }
    assert len(rows) == 40
    assert all(rows[f"SH-{n}"] is None for n in range(20))  # landed before the upgrade
    assert all(rows[f"SH-{200 + n}"] is None for n in range(10))  # version 1, read as v2
    assert [rows[f"SH-{100 + n}"] for n in range(10)] == [120.0 + n for n in range(10)]

    # The delivery view counts in full against the ordered quantity where one was sent.
    refresh(engine, load_settings(), ["delivery_weekly"])
    d = delivery_weekly.c
    with engine.connect() as conn:
        shipments, with_order, in_full = conn.execute(
            select(func.sum(d.shipments), func.sum(d.with_order), func.sum(d.in_full)).where(
                d.supplier_id == supplier
            )
        ).one()
    # quantity 200 + n against 120 + n ordered: all ten in full
    assert (shipments, with_order, in_full) == (40, 10, 10)

    # A version 3 with a non-null default: rows landed before read as the default.
    v3 = version_3()
    v3_text = json.dumps(v3[SHIPMENT])
    assert client.compatibility(subject, v3_text) == []
    assert client.register(subject, v3_text)[1] == 3
    assert [str(c) for c in status(engine, v3).pending] == ["add column landing_shipment.incoterm"]
    upgrade(engine, v3)
    produce(AvroSerializer(client, v3_text), [shipment(supplier, 300, incoterm="DAP")])
    third = ingest(v3)
    assert third.landed[SHIPMENT] == 1
    table = landing_tables(v3)[SHIPMENT]
    with engine.connect() as conn:
        terms = dict(conn.execute(select(table.c.shipment_id, table.c.incoterm)).all())
    assert terms["SH-300"] == "DAP"
    assert {terms[f"SH-{n}"] for n in (*range(20), *range(100, 110), *range(200, 210))} == {"FCA"}
    producer.close()
    registry.stop()
    engine.dispose()
