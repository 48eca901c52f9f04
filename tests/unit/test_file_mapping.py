"""The file connector's YAML mapping: rename, constant, types, scale, local times."""

from datetime import UTC, datetime

import pytest

from connectors.files.mapping import Mapping, RowError, apply
from sangsaeng.errors import ConfigError

pytestmark = pytest.mark.unit

MAPPING = """
event_type: production
delimiter: ";"
fields:
  line_id: {column: Line}
  quantity_good: {column: Good kg, type: float, scale: 0.001}
  planned_quantity: {column: Plan, type: float}
  unit: {constant: TNE}
  start_time: {column: Start, format: "%Y-%m-%d %H:%M", timezone: Asia/Seoul}
"""


def load(tmp_path, text: str) -> Mapping:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return Mapping.load(path)


def test_rename_constant_scale_and_local_time(tmp_path):
    mapping = load(tmp_path, MAPPING)
    assert mapping.delimiter == ";"
    event = apply(
        mapping, {"Line": " L2 ", "Good kg": "1500", "Plan": "", "Start": "2026-03-02 09:00"}
    )
    assert event["line_id"] == "L2" and event["unit"] == "TNE"
    assert event["quantity_good"] == pytest.approx(1.5)
    assert "planned_quantity" not in event  # empty cell: the contract's default applies
    assert event["start_time"] == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (
            {"Line": "L1", "Good kg": "many", "Plan": "1", "Start": "2026-03-02 09:00"},
            "quantity_good (column 'Good kg')",
        ),
        (
            {"Line": "L1", "Good kg": "1", "Plan": "1", "Start": "02/03/2026"},
            "start_time (column 'Start')",
        ),
        ({"Good kg": "1", "Plan": "1", "Start": "2026-03-02 09:00"}, "line_id"),
    ],
)
def test_bad_cells_name_field_and_column(tmp_path, row, field):
    with pytest.raises(RowError) as caught:
        apply(load(tmp_path, MAPPING), row)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("event_type: production\nfields: {line_id: {column: A, constant: B}}", "exactly one"),
        ("event_type: production\nfields: {line_id: {colum: A}}", "Extra inputs"),
        ("event_type: gossip\nfields: {line_id: {column: A}}", "event_type"),
        ("event_type: production\nfields: {t: {column: A, timezone: Mars/Olympus}}", "time zone"),
        ("event_type: production\nfields: {}", "at least one"),
        ("event_type: [unclosed", "cannot read"),
    ],
)
def test_bad_mappings_say_which_key(tmp_path, text, words):
    with pytest.raises(ConfigError, match=words):
        load(tmp_path, text)


SHIPMENT_MAPPING = """
event_type: shipment
fields:
  site_id: {constant: S0001-P1}
  source_system: {constant: erp-export}
  buyer_id: {column: Customer}
  shipment_id: {column: Delivery note}
  po_number: {column: PO}
  part_number: {column: Part}
  quantity: {column: Shipped, type: float}
  ordered_quantity: {column: Ordered, type: float}
  promised_date: {column: Promised}
  shipped_at: {column: Left, format: "%Y-%m-%d %H:%M", timezone: Asia/Seoul}
"""


def test_a_shipment_export_carries_the_ordered_quantity_of_contract_version_2(tmp_path):
    from tests.support import offline_client

    mapping = load(tmp_path, SHIPMENT_MAPPING)
    row = {
        "Customer": "B01",
        "Delivery note": "DN-1",
        "PO": "PO-7",
        "Part": "BRKT-220",
        "Shipped": "950",
        "Ordered": "1000",
        "Promised": "2026-03-05",
        "Left": "2026-03-03 09:30",
    }
    short = apply(mapping, row)
    assert (short["quantity"], short["ordered_quantity"]) == (950.0, 1000.0)
    unknown = apply(mapping, {**row, "Ordered": ""})
    assert "ordered_quantity" not in unknown  # read as null, as a version 1 event
    client = offline_client(
        "S0001",
        spool_path=tmp_path / "spool.db",
        clock=lambda: datetime(2026, 3, 3, 3, 0, tzinfo=UTC),
    )
    try:
        for event in (short, unknown):  # the SDK checks and encodes with the contract
            client.prepare("shipment", event)
    finally:
        client.close()
