"""The file connector refuses, in its report, the rows the platform cannot carry."""

import pytest
import yaml

from connectors.files.connector import process_file
from connectors.files.mapping import Mapping
from tests.support import offline_client

pytestmark = pytest.mark.unit

FIELDS = {
    "site_id": {"constant": "S0001-P1"},
    "source_system": {"constant": "meter-export"},
    "meter_id": {"column": "meter"},
    "energy_kwh": {"column": "kwh", "type": "float"},
    "period_start": {"column": "from", "format": "%Y-%m-%d %H:%M", "timezone": "Asia/Seoul"},
    "period_end": {"column": "to", "format": "%Y-%m-%d %H:%M", "timezone": "Asia/Seoul"},
    "energy_source": {"column": "source"},
}


@pytest.fixture
def client(tmp_path):
    # No broker at 127.0.0.1:1: rows are accepted into the spool (store and forward).
    c = offline_client(
        "S0001",
        spool_path=tmp_path / "spool.db",
    )
    yield c
    c.close()


def mapping(tmp_path, **changes) -> Mapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump({"event_type": "energy", "fields": FIELDS | changes}))
    return Mapping.load(path)


def report_of(outcome) -> dict[int, str]:
    lines = (outcome.moved_to.parent / f"{outcome.moved_to.name}.report.txt").read_text()
    return {
        int(line.split(":", 1)[0].removeprefix("row ")): line.split(": ", 1)[1]
        for line in lines.splitlines()[1:]
    }


def test_csv_rows_the_platform_cannot_carry_are_refused_in_the_report(client, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = [
        "meter,kwh,from,to,source",
        "E1,12.5,2026-03-02 08:00,2026-03-02 08:15,GRID",
        "E1,nan,2026-03-02 08:00,2026-03-02 08:15,GRID",
        "E1,inf,2026-03-02 08:00,2026-03-02 08:15,GRID",
        "E1,1e400,2026-03-02 08:00,2026-03-02 08:15,GRID",
        "E\x001,12.5,2026-03-02 08:00,2026-03-02 08:15,GRID",
        "E1,12.5,1999-12-31 08:00,1999-12-31 08:15,GRID",
        "E2,13.5,2026-03-02 08:15,2026-03-02 08:30,GRID",
    ]
    export = drop / "meters.csv"
    export.write_text("\n".join(rows) + "\n")
    outcome = process_file(client, mapping(tmp_path), export)
    assert outcome.accepted == 2 and client.pending() == 2
    report = report_of(outcome)
    assert set(report) == {2, 3, 4, 5, 6}
    assert report[2].startswith("energy_kwh: NaN is not a number the platform can carry")
    assert report[3].startswith("energy_kwh: infinity") and report[4].startswith("energy_kwh:")
    assert report[5].startswith("meter_id: contains a NUL character")
    assert report[6].startswith("period_start: 1999-12-30T23:00:00Z is outside the times")


def test_jsonl_lines_too_deep_or_not_carried_are_refused_before_parsing(client, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    good = (
        '{"meter": "E1", "kwh": 1.5, "from": "2026-03-02 08:00", "to": "2026-03-02 08:15", '
        '"source": "GRID"}'
    )
    lines = [
        good,
        good.replace("1.5", "NaN"),
        good.replace("1.5", "true"),
        "[" * 100_000,
        '{"meter": ' + "[" * 50 + "]" * 50 + "}",
        good.replace('"E1"', '"E\\u00001"'),
        good,
    ]
    export = drop / "meters.jsonl"
    export.write_text("\n".join(lines) + "\n")
    outcome = process_file(client, mapping(tmp_path, energy_kwh={"column": "kwh"}), export)
    assert outcome.accepted == 2
    report = report_of(outcome)
    assert set(report) == {2, 3, 4, 5, 6}
    assert report[2].startswith("energy_kwh: NaN is not a number")
    assert report[3].startswith("energy_kwh: true is a boolean where a number is expected")
    assert report[4] == "-: not JSON: its brackets do not balance"
    assert report[5].startswith("-: nested more than 3 deep, deeper than any event can be")
    assert report[6].startswith("meter_id: contains a NUL character")
