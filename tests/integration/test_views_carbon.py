"""carbon_monthly from hand-computed readings, on SQLite and PostgreSQL: kWh by source, the
renewable share, kWh and grid kg CO2e per good unit, months in the site's local time
(a reading ending 00:30 on 1 February in Seoul is February's though still January in
UTC), the grid factor a setting recorded on every row, NULLs with their reason; a late
reading re-touches its month; incremental equals `--full`, and equals a naive
recomputation in Python."""

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.views.carbon import NO_GOOD_UNITS, NO_READINGS
from pipelines.views.read import view_rows
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.support import upgraded_engine
from tests.views_support import assert_full_equals_incremental, at, land, reference, wipe

pytestmark = pytest.mark.integration

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)
SITES = ("P1", "P2", "P3")
REFERENCE = {
    "organisations": [
        {"org_id": "B01", "name": "Buyer", "role": "buyer"},
        {"org_id": "S1", "name": "Supplier", "role": "supplier", "sponsor_id": "B01"},
    ],
    "sites": [{"site_id": s, "supplier_id": "S1", "timezone": "Asia/Seoul"} for s in SITES],
    "lines": [{"line_id": "L1", "site_id": s, "supplier_id": "S1"} for s in SITES],
    "parts": [{"part_number": "X", "supplier_id": "S1"}],
}


def reading(site: str, end: datetime, kwh: float, source: str = "GRID") -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": end,
        "supplier_id": "S1",
        "site_id": site,
        "meter_id": f"EM-{site}",
        "line_id": None,  # a site meter
        "energy_kwh": kwh,
        "period_start": end - timedelta(hours=1),
        "period_end": end,
        "energy_source": source,
    }


def output(site: str, end: datetime, good: float) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": end,
        "supplier_id": "S1",
        "site_id": site,
        "line_id": "L1",
        "work_order_id": "WO1",
        "part_number": "X",
        "lot_id": "LOT1",
        "quantity_good": good,
        "quantity_scrap": 0.0,
        "planned_quantity": None,
        "start_time": end - timedelta(minutes=30),
        "end_time": end,
        "unit": "H87",
    }


def months(engine: Any) -> dict[tuple[str, date], dict[str, Any]]:
    return {(r["site_id"], r["month"]): r for r in view_rows(engine, "carbon_monthly")}


def test_carbon_monthly_by_hand(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = upgraded_engine(db_url)
    current = load_settings()
    assert current.grid_emission_factor == 0.4781  # the default: Korea's grid, kg/kWh
    reference(engine, REFERENCE)
    jan31 = date(2026, 1, 31)
    land(
        engine,
        EventType.ENERGY,
        [
            reading("P1", at(date(2026, 1, 10), 12), 1000),
            reading("P1", at(date(2026, 1, 12), 12), 500.25),
            reading("P1", at(date(2026, 1, 12), 13), 250, "SOLAR"),
            reading("P1", at(date(2026, 1, 13), 13), 100, "GAS"),
            reading("P1", at(date(2026, 1, 14), 13), 50, "OTHER"),
            reading("P1", at(jan31, 23.5), 200),  # 23:30 local, still January
            reading("P1", at(jan31, 24.5), 80),  # 00:30 local 1 Feb (15:30 UTC 31 Jan)
            reading("P3", at(date(2026, 1, 20), 10), 10),  # a site that made nothing
        ],
    )
    land(
        engine,
        EventType.PRODUCTION,
        [
            output("P1", at(date(2026, 1, 10), 14), 2000),
            output("P1", at(jan31, 23.75), 1000),
            output("P1", at(jan31, 24.25), 400),  # 00:15 local 1 Feb
            output("P2", at(date(2026, 1, 15), 14), 500),  # a site without a meter
        ],
    )
    refresh(engine, current)
    rows = months(engine)
    assert set(rows) == {("P1", JAN), ("P1", FEB), ("P2", JAN), ("P3", JAN)}
    jan = rows[("P1", JAN)]
    assert jan["readings"] == 6
    assert (jan["kwh_grid"], jan["kwh_solar"], jan["kwh_gas"], jan["kwh_other"]) == (
        1700.25,
        250,
        100,
        50,
    )
    assert jan["kwh_total"] == 2100.25
    assert jan["renewable_share"] == pytest.approx(250 / 2100.25)
    assert jan["good_units"] == 3000
    assert jan["kwh_per_good_unit"] == pytest.approx(2100.25 / 3000)
    assert jan["kg_co2e"] == pytest.approx(1700.25 * 0.4781)  # 812.889525 kg
    assert jan["kg_co2e_per_good_unit"] == pytest.approx(1700.25 * 0.4781 / 3000)
    assert (jan["estimate"], jan["emission_factor"], jan["null_reason"]) == (True, 0.4781, None)
    feb = rows[("P1", FEB)]
    assert (feb["readings"], feb["kwh_grid"], feb["kwh_solar"], feb["kwh_total"]) == (1, 80, 0, 80)
    assert (feb["renewable_share"], feb["good_units"], feb["kwh_per_good_unit"]) == (0, 400, 0.2)
    assert feb["kg_co2e"] == pytest.approx(38.248)
    assert feb["kg_co2e_per_good_unit"] == pytest.approx(38.248 / 400)
    meterless = rows[("P2", JAN)]
    assert (meterless["readings"], meterless["kwh_total"], meterless["kg_co2e"]) == (0, None, None)
    assert (meterless["good_units"], meterless["kwh_per_good_unit"]) == (500, None)
    assert meterless["null_reason"] == NO_READINGS
    idle = rows[("P3", JAN)]
    assert (idle["kwh_grid"], idle["good_units"], idle["kwh_per_good_unit"]) == (10, None, None)
    assert idle["kg_co2e"] == pytest.approx(4.781)
    assert (idle["kg_co2e_per_good_unit"], idle["null_reason"]) == (None, NO_GOOD_UNITS)

    # A January reading arrives in March: January is recomputed, February is not.
    land(
        engine,
        EventType.ENERGY,
        [reading("P1", at(date(2026, 1, 20), 9), 100)],
        received=datetime(2026, 3, 2, tzinfo=UTC),
    )
    done = {d.view: d for d in refresh(engine, current)}
    assert (done["carbon_monthly"].keys, done["carbon_monthly"].ranges) == (1, 1)
    jan = months(engine)[("P1", JAN)]
    assert (jan["readings"], jan["kwh_grid"], jan["kwh_total"]) == (7, 1800.25, 2200.25)
    assert_full_equals_incremental(engine, current)

    # Another factor (a newer notice): a full rebuild applies it to every month.
    monkeypatch.setenv("SANGSAENG_GRID_EMISSION_FACTOR", "0.5")
    newer = load_settings()
    refresh(engine, newer, ["carbon_monthly"], full=True)
    rows = months(engine)
    assert {r["emission_factor"] for r in rows.values()} == {0.5}
    assert rows[("P1", FEB)]["kg_co2e"] == 40.0


# -- property: the view equals a naive recomputation, incremental equals full ----------


def naive(energy: list[dict[str, Any]], production: list[dict[str, Any]]) -> dict[tuple, tuple]:
    """carbon_monthly recomputed in Python (0.4781 kg CO2e per grid kWh)."""

    def month(row: dict[str, Any]) -> tuple[str, str, date]:
        return (row["supplier_id"], row["site_id"], row["business_day"].replace(day=1))

    readings: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    good: dict[tuple, float] = defaultdict(float)
    for e in energy:
        readings[month(e)].append(e)
    for p in production:
        good[month(p)] += p["quantity_good"]
    out = {}
    for key in set(readings) | set(good):
        rs = readings.get(key, [])
        units = good.get(key)
        kwh = {
            s: sum(r["energy_kwh"] for r in rs if r["energy_source"] == s) if rs else None
            for s in ("GRID", "SOLAR", "GAS", "OTHER")
        }
        total = sum(r["energy_kwh"] for r in rs) if rs else None
        kg = kwh["GRID"] * 0.4781 if rs else None
        out[key] = (
            len(rs),
            *kwh.values(),
            total,
            kwh["SOLAR"] / total if total else None,
            units,
            total / units if total is not None and units else None,
            kg,
            kg / units if kg is not None and units else None,
        )
    return out


@st.composite
def carbon_events(draw: st.DrawFn) -> tuple[EventType, dict[str, Any]]:
    """A reading or a production report at two sites around a month's end (local time)."""
    when = at(
        date(2026, 1, 29) + timedelta(days=draw(st.integers(0, 5))),
        draw(st.sampled_from([0.25, 12, 23.75])),
    )
    site = draw(st.sampled_from(["P1", "P2"]))
    if draw(st.booleans()):
        kwh = draw(st.integers(0, 4000)) / 4  # quarter kWh: sums are exact in binary
        source = draw(st.sampled_from(["GRID", "GRID", "SOLAR", "GAS", "OTHER"]))
        return EventType.ENERGY, reading(site, when, kwh, source)
    return EventType.PRODUCTION, output(site, when, float(draw(st.integers(0, 500))))


def test_carbon_monthly_is_the_naive_recomputation(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    current = load_settings()
    columns = (
        "readings",
        "kwh_grid",
        "kwh_solar",
        "kwh_gas",
        "kwh_other",
        "kwh_total",
        "renewable_share",
        "good_units",
        "kwh_per_good_unit",
        "kg_co2e",
        "kg_co2e_per_good_unit",
    )

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        batches=st.lists(st.lists(carbon_events(), min_size=1, max_size=10), min_size=1, max_size=4)
    )
    def check(batches: list[list[tuple[EventType, dict[str, Any]]]]) -> None:
        wipe(engine)
        reference(engine, REFERENCE)
        landed: dict[EventType, list[dict[str, Any]]] = defaultdict(list)
        for n, batch in enumerate(batches):
            for kind in (EventType.ENERGY, EventType.PRODUCTION):
                rows = [row for k, row in batch if k is kind]
                if n % 2 and landed[kind]:
                    rows.append(dict(landed[kind][0]))  # sent again: the landing PK drops it
                seen = {r["event_id"] for r in landed[kind]}
                landed[kind].extend(
                    land(engine, kind, [r for r in rows if r["event_id"] not in seen])
                )
            refresh(engine, current)
        expected = naive(landed[EventType.ENERGY], landed[EventType.PRODUCTION])
        got = {
            ("S1", site, month): tuple(r[c] for c in columns)
            for (site, month), r in months(engine).items()
        }
        assert set(got) == set(expected)
        for key, values in expected.items():
            assert got[key] == pytest.approx(values), key
        assert_full_equals_incremental(engine, current)

    check()
    engine.dispose()
