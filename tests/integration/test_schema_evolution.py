"""A contract gains fields the way a supplier's would, on SQLite and PostgreSQL: events of
version 1 land, version 2 is registered (the registry accepts it under
BACKWARD_TRANSITIVE), `sangsaeng db upgrade` adds the columns, and events of both
versions land with nothing quarantined; rows landed before read as the field's default.
Before the upgrade, ingest with the new contract stops at once with a terminal error
naming `sangsaeng db upgrade`, writing nothing."""

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaProducer
from sqlalchemy import select

from connectors.kafka.admin import ensure_topics
from connectors.kafka.consumer import SupplierTopicReader
from governance.parties import Parties
from governance.reference import ReferenceFile, load_reference
from migrations.schema import ensure, status, upgrade
from pipelines.ingest import build_ingestor, ingest_once
from pipelines.landing.models import default_contracts, landing_tables
from pipelines.landing.writer import stored_offsets
from pipelines.validation.suites import TimeWindow
from sangsaeng.db import SchemaMismatch, make_engine
from sangsaeng.errors import TerminalError
from schemas.contracts import register_contracts
from schemas.serde import AvroSerializer
from schemas.topics import EventType, subject_for, supplier_topic

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WINDOW = TimeWindow(future_seconds=300, horizon_seconds=180 * 86_400)


def version_2() -> dict[EventType, dict[str, Any]]:
    """The contracts with ShipmentEvent v2: an optional ordered quantity (default null) and
    an incoterm with a default, both as a supplier's MES upgrade would add them."""
    contracts = copy.deepcopy(default_contracts())
    fields = contracts[EventType.SHIPMENT]["fields"]
    fields.append(
        {
            "name": "ordered_quantity",
            "type": ["null", "double"],
            "default": None,
            "doc": "Quantity the purchase order line asked for, in `unit`.",
        }
    )
    fields.append(
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


def test_a_contract_gains_fields_and_both_versions_land(kafka_bootstrap, registry) -> None:
    supplier = "EV" + uuid.uuid4().hex[:6].upper()
    topic = supplier_topic(supplier, EventType.SHIPMENT)
    ensure_topics(kafka_bootstrap, {topic: 2})
    engine = make_engine(registry.db_url)  # the registry keeps its tables in the same database
    Parties(engine).add_supplier(supplier, "Evolving Parts", "auto parts")
    load_reference(
        engine,
        ReferenceFile.model_validate(
            {
                "sites": [{"site_id": f"{supplier}-P1", "supplier_id": supplier}],
                "parts": [{"part_number": "BRKT-220", "supplier_id": supplier}],
            }
        ),
    )
    client = registry.client()
    register_contracts(client)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    v1_writer = AvroSerializer.for_event_type(client, EventType.SHIPMENT)

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
    first = ingest(None)
    assert first.landed[EventType.SHIPMENT] == 20 and sum(first.quarantined.values()) == 0

    v2 = version_2()
    v2_text = json.dumps(v2[EventType.SHIPMENT])
    assert client.compatibility(subject_for(EventType.SHIPMENT), v2_text) == []
    _, version = client.register(subject_for(EventType.SHIPMENT), v2_text)
    assert version == 2

    # The new contract on the old tables: refused at once, terminal, nothing written.
    pending = status(engine, v2)
    assert not pending.current
    assert {str(c) for c in pending.pending} == {
        "add column landing_shipment.ordered_quantity",
        "add column landing_shipment.incoterm",
    }
    with pytest.raises(SchemaMismatch, match="sangsaeng db upgrade"):
        ensure(engine, v2)
    v2_writer = AvroSerializer(client, v2_text)
    new = [
        shipment(supplier, 100 + n, ordered_quantity=120.0 + n, incoterm="DAP") for n in range(10)
    ]
    mixed_v1 = [shipment(supplier, 200 + n) for n in range(10)]
    produce(v1_writer, mixed_v1)
    produce(v2_writer, new)
    offsets_before = stored_offsets(engine)
    with pytest.raises(TerminalError, match="sangsaeng db upgrade"):
        ingest(v2)
    assert stored_offsets(engine) == offsets_before

    done = upgrade(engine, v2)
    assert {str(c) for c in done.changes} == {str(c) for c in pending.pending}
    assert status(engine, v2).current
    assert not upgrade(engine, v2).changed  # idempotent

    second = ingest(v2)
    assert second.landed[EventType.SHIPMENT] == 20
    assert sum(second.quarantined.values()) == 0 and sum(second.duplicates.values()) == 0

    table = landing_tables(v2)[EventType.SHIPMENT]
    with engine.connect() as conn:
        rows = {
            r.shipment_id: r
            for r in conn.execute(
                select(table.c.shipment_id, table.c.ordered_quantity, table.c.incoterm).where(
                    table.c.supplier_id == supplier
                )
            )
        }
    assert len(rows) == 40
    for n in range(20):  # landed before the upgrade: the fields' defaults
        assert (rows[f"SH-{n}"].ordered_quantity, rows[f"SH-{n}"].incoterm) == (None, "FCA")
    for n in range(10):  # version 1 after the upgrade: resolved to v2 with the defaults
        assert (rows[f"SH-{200 + n}"].ordered_quantity, rows[f"SH-{200 + n}"].incoterm) == (
            None,
            "FCA",
        )
    for n in range(10):  # version 2: their own values
        assert (rows[f"SH-{100 + n}"].ordered_quantity, rows[f"SH-{100 + n}"].incoterm) == (
            120.0 + n,
            "DAP",
        )
    producer.close()
    engine.dispose()
