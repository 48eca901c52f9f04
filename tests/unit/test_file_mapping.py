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
