"""The serde against a real registry: framing, strict writes, evolution, and clear errors."""

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from schemas.contracts import contract, contract_text
from schemas.registry.client import RegistryClientError
from schemas.serde import AvroDeserializer, AvroSerializer, SerializationError, frame
from schemas.topics import EventType, subject_for

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)


def production(**overrides) -> dict:
    event = {
        "event_id": str(uuid.uuid4()),
        "event_time": NOW,
        "supplier_id": "S0001",
        "site_id": "S0001-P1",
        "source_system": "test-mes 1.0",
        "line_id": "L1",
        "work_order_id": "WO-1",
        "part_number": "P-100",
        "lot_id": "LOT-1",
        "quantity_good": 950.0,
        "quantity_scrap": 12.0,
        "start_time": NOW,
        "end_time": NOW,
        "unit": "H87",
    }
    return {**event, **overrides}


def v2_production() -> str:
    schema = contract(EventType.PRODUCTION)
    schema["fields"].append(
        {
            "name": "operator_count",
            "type": ["null", "int"],
            "default": None,
            "doc": "People on the line during the period.",
        }
    )
    return json.dumps(schema)


@pytest.fixture
def client(registry):
    c = registry.client()
    yield c
    c.close()


def test_round_trip_with_confluent_framing(client):
    serializer = AvroSerializer.for_event_type(client, EventType.PRODUCTION)
    data = serializer.encode(production(buyer_id="B01"), topic="sup.S0001.production")
    schema_id = client.lookup(subject_for(EventType.PRODUCTION), contract_text("production"))["id"]
    assert data[:5] == frame(schema_id) == b"\x00" + schema_id.to_bytes(4, "big")
    back = AvroDeserializer.for_contracts(client).decode(data, topic="t", partition=0, offset=1)
    assert back["quantity_good"] == 950.0 and back["buyer_id"] == "B01"
    assert back["event_time"] == NOW and back["planned_quantity"] is None


def test_every_contract_round_trips(client):
    events = {
        EventType.QUALITY: {
            "line_id": "L1",
            "part_number": "P",
            "lot_id": "LOT",
            "inspection_stage": "FINAL",
            "inspected_quantity": 50,
            "defect_quantity": 2,
            "defects": [{"code": "SCRATCH", "count": 2, "severity": "MINOR"}],
            "measurements": [
                {"characteristic": "bore", "value": 10.01, "lsl": 9.95, "usl": 10.05, "unit": "MMT"}
            ],
            "result": "PASS",
        },
        EventType.MACHINE_STATUS: {"line_id": "L1", "machine_id": "M1", "state": "DOWN"},
        EventType.SHIPMENT: {
            "buyer_id": "B01",
            "shipment_id": "SH1",
            "po_number": "PO1",
            "part_number": "P",
            "lot_ids": ["LOT"],
            "quantity": 100.0,
            "promised_date": date(2026, 3, 5),
            "shipped_at": NOW,
        },
        EventType.ENERGY: {
            "meter_id": "E1",
            "energy_kwh": 12.5,
            "period_start": NOW,
            "period_end": NOW,
            "energy_source": "GRID",
        },
    }
    reader = AvroDeserializer.for_contracts(client)
    envelope = {
        k: production()[k]
        for k in ("event_id", "event_time", "supplier_id", "site_id", "source_system")
    }
    for event_type, body in events.items():
        data = AvroSerializer.for_event_type(client, event_type).encode({**envelope, **body})
        back = reader.decode(data)
        for key, value in body.items():
            assert back[key] == value, (event_type, key)


def test_strict_writes_name_the_field(client):
    serializer = AvroSerializer.for_event_type(client, EventType.PRODUCTION)
    with pytest.raises(SerializationError, match=r"quantity_good.*expected double") as caught:
        serializer.encode(production(quantity_good="lots"), topic="sup.S0001.production")
    assert caught.value.field.endswith("quantity_good")
    assert "topic=sup.S0001.production" in str(caught.value)
    missing = production()
    del missing["lot_id"]
    with pytest.raises(SerializationError, match="lot_id"):
        serializer.encode(missing)
    with pytest.raises(SerializationError, match="colour"):
        serializer.encode(production(colour="red"))


def test_decode_errors_say_what_and_where(client):
    reader = AvroDeserializer.for_contracts(client)
    good = AvroSerializer.for_event_type(client, EventType.PRODUCTION).encode(production())
    where = {"topic": "sup.S0001.production", "partition": 2, "offset": 41}
    cases = {
        b"{json: 1}": "not Confluent wire format",
        b"\x00\x00": "not Confluent wire format",
        frame(987654) + good[5:]: "unknown schema id 987654",
        good[:-7]: "truncated",
        good + b"\x00\x00": "bytes left",
    }
    for data, expected in cases.items():
        with pytest.raises(SerializationError, match=expected) as caught:
            reader.decode(data, **where)
        assert "topic=sup.S0001.production, partition=2, offset=41" in str(caught.value)

    other = json.dumps(
        {
            "type": "record",
            "name": "Intruder",
            "namespace": "io.other",
            "fields": [{"name": "x", "type": "long"}],
        }
    )
    wrong = AvroSerializer(client, other).encode({"x": 1})
    with pytest.raises(
        SerializationError, match=r"schema of the wrong record: written as io\.other"
    ):
        reader.decode(wrong, **where)


def test_v1_events_read_as_v2_with_defaults(client):
    v1_bytes = AvroSerializer.for_event_type(client, EventType.PRODUCTION).encode(production())
    v2 = v2_production()
    v2_id, version = client.register(subject_for(EventType.PRODUCTION), v2)
    assert version == 2
    reader = AvroDeserializer(client, {subject_for(EventType.PRODUCTION): json.loads(v2)})
    old = reader.decode(v1_bytes)
    assert old["operator_count"] is None and old["lot_id"] == "LOT-1"
    new = reader.decode(AvroSerializer(client, v2).encode(production(operator_count=7)))
    assert new["operator_count"] == 7
    assert v2_id != int.from_bytes(v1_bytes[1:5], "big")


def _mutate(change: str) -> str:
    schema = contract(EventType.PRODUCTION)
    fields = schema["fields"]
    if change == "remove a field without default":
        schema["fields"] = [f for f in fields if f["name"] != "lot_id"]
    elif change == "change a type":
        next(f for f in fields if f["name"] == "quantity_good")["type"] = "string"
    elif change == "rename without alias":
        next(f for f in fields if f["name"] == "lot_id")["name"] = "batch_id"
    elif change == "add a field without default":
        fields.append({"name": "shift", "type": "string", "doc": "x"})
    return json.dumps(schema)


@pytest.mark.parametrize(
    "change", ["change a type", "rename without alias", "add a field without default"]
)
def test_breaking_changes_are_refused_under_the_default_level(client, change):
    subject = subject_for(EventType.PRODUCTION)
    client.register(subject, contract_text(EventType.PRODUCTION))
    # An earlier, compatible evolution in between: the rule is checked against all versions.
    client.register(subject, v2_production())
    with pytest.raises(RegistryClientError) as caught:
        client.register(subject, _mutate(change))
    assert caught.value.status == 409
    assert "BACKWARD_TRANSITIVE" in caught.value.message
    assert client.compatibility(subject, _mutate(change))
    assert client.latest(subject)["version"] == 2


def test_removing_a_field_breaks_old_readers_so_only_forward_levels_refuse_it(client):
    # Confluent's documented rule: BACKWARD lets a field go (new readers ignore it in old
    # data); it is FORWARD/FULL that protect readers still on the old schema.
    subject = subject_for(EventType.PRODUCTION)
    client.register(subject, contract_text(EventType.PRODUCTION))
    assert client.compatibility(subject, _mutate("remove a field without default")) == []
    client.set_level("FULL_TRANSITIVE", subject)
    problems = client.compatibility(subject, _mutate("remove a field without default"))
    assert problems and "lot_id" in " ".join(problems)


def test_rename_with_alias_is_accepted(client):
    subject = subject_for(EventType.PRODUCTION)
    client.register(subject, contract_text(EventType.PRODUCTION))
    schema = contract(EventType.PRODUCTION)
    field = next(f for f in schema["fields"] if f["name"] == "lot_id")
    field["name"], field["aliases"] = "batch_id", ["lot_id"]
    assert client.register(subject, json.dumps(schema))[1] == 2
