"""Reading the reference YAML: the simulator's file as is, and errors that point at the entry."""

from datetime import date
from pathlib import Path

import pytest
import yaml

from connectors.simulator.world import build_world
from governance.reference import ReferenceFileError, read_reference_file

pytestmark = pytest.mark.unit


def test_the_simulators_file_reads_as_is(tmp_path: Path) -> None:
    world = build_world(1, 4, date(2026, 1, 5), 7)
    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(world.reference()))
    data = read_reference_file(path)
    assert {o.org_id for o in data.organisations if o.role == "supplier"} == {
        s.supplier_id for s in world.suppliers
    }
    assert len(data.lines) == sum(len(s.lines) for s in world.suppliers)
    # one ideal cycle time per line, for the part it makes, rated above the fastest the
    # simulator runs it (so its effectiveness stays below 1)
    assert {(c.site_id, c.line_id, c.part_number) for c in data.cycle_times} == {
        (s.site_id, line.line_id, line.part_number) for s in world.suppliers for line in s.lines
    }
    rates = {s.supplier_id: s.base_rate * (1 + s.uplift) * 1.05 for s in world.suppliers}
    assert all(3600 / c.ideal_cycle_seconds > rates[c.supplier_id] for c in data.cycle_times)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("parts:\n  - {supplier_id: S1}\n", r"parts\[0\]\.part_number: Field required"),
        (
            "organisations:\n  - {org_id: B1, name: X, role: buyer}\n"
            "  - {org_id: S1, name: Y, role: vendor}\n",
            r"organisations\[1\]\.role",
        ),
        ("sites: [{site_id: P1, supplier_id: S1, colour: red}]\n", r"sites\[0\]\.colour"),
        ("lines: {not: a list}\n", "lines"),
        (
            "sites: [{site_id: P1, supplier_id: S1, timezone: Asia/Seol}]\n",
            r"sites\[0\]\.timezone: Value error, unknown time zone 'Asia/Seol'",
        ),
        ("parts: [unclosed\n", "not valid YAML"),
        (
            "cycle_times:\n  - {site_id: P1, line_id: L1, part_number: X, supplier_id: S1,"
            " ideal_cycle_seconds: 0}\n",
            r"cycle_times\[0\]\.ideal_cycle_seconds: Input should be greater than 0",
        ),
        (
            "cycle_times:\n  - {site_id: P1, line_id: L1, supplier_id: S1,"
            " ideal_cycle_seconds: 2.5}\n",
            r"cycle_times\[0\]\.part_number: Field required",
        ),
    ],
)
def test_errors_name_the_entry_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ReferenceFileError, match=message):
        read_reference_file(path)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ReferenceFileError, match="cannot read"):
        read_reference_file(tmp_path / "nope.yaml")


def test_an_unknown_zone_in_the_database_falls_back_instead_of_raising() -> None:
    """Reference loads refuse unknown zones; one written into the database some other way
    must not raise inside a landing transaction (every supplier's ingest would stop)."""
    from datetime import UTC, datetime

    from pipelines.landing.days import LocalDays, zone

    assert str(zone("Not/AZone")) == "Asia/Seoul" == str(zone("../etc"))
    days = LocalDays({"S1/P1": "Asia/Seol"}, {})
    when = datetime(2026, 1, 4, 23, 30, tzinfo=UTC)  # 08:30 on 5 January in Seoul
    assert days.business_day_at(when, "S1", "P1") == date(2026, 1, 5)
