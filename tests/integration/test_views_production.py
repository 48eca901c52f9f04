"""production_daily from hand-computed landing rows, on SQLite and PostgreSQL: the local
day, the plan attainment, scrap rate and units per run hour; late events re-touch their
day; `--full` gives the same table."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from pipelines.views.keys import view_touched
from pipelines.views.read import view_rows
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.support import upgraded_engine
from tests.views_support import assert_full_equals_incremental, at, land, reference

pytestmark = pytest.mark.integration

MONDAY = date(2026, 1, 5)
REFERENCE = {
    "organisations": [
        {"org_id": "B01", "name": "Buyer", "role": "buyer"},
        {"org_id": "S1", "name": "Supplier", "role": "supplier", "sponsor_id": "B01"},
    ],
    "sites": [{"site_id": "P1", "supplier_id": "S1", "timezone": "Asia/Seoul"}],
    "lines": [{"line_id": "L1", "site_id": "P1", "supplier_id": "S1"}],
    "parts": [{"part_number": "X", "supplier_id": "S1"}],
}


def report(
    start_hour: float, hours: float, good: int, scrap: int, planned: int | None, day: date = MONDAY
) -> dict[str, object]:
    start = at(day, start_hour)
    end = start + timedelta(hours=hours)
    return {
        "event_time": end,
        "supplier_id": "S1",
        "buyer_id": "B01",
        "line_id": "L1",
        "work_order_id": "WO1",
        "part_number": "X",
        "lot_id": "LOT1",
        "quantity_good": good,
        "quantity_scrap": scrap,
        "planned_quantity": planned,
        "start_time": start,
        "end_time": end,
        "unit": "H87",
    }


def test_production_daily_by_hand(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    settings = load_settings()
    reference(engine, REFERENCE)
    # Monday: 06-08 local, 900 good, 100 scrap, planned 1000; 08-08:30, 300 good, no plan.
    # A report ending at 23:30 local Monday (14:30 UTC) is Monday's; one ending at
    # 00:30 local Tuesday (15:30 UTC Monday) is Tuesday's.
    land(
        engine,
        EventType.PRODUCTION,
        [
            report(6, 2, 900, 100, 1000),
            report(8, 0.5, 300, 0, None),
            report(23, 0.5, 60, 0, 50),
            report(24, 0.5, 40, 10, None),
        ],
    )
    refresh(engine, settings)
    rows = {r["day"]: r for r in view_rows(engine, "production_daily")}
    monday, tuesday = rows[MONDAY], rows[MONDAY + timedelta(days=1)]
    assert (monday["reports"], monday["good"], monday["scrap"], monday["planned"]) == (
        3,
        1260,
        100,
        1050,
    )
    # attainment: good of the reports with a plan (900 + 60) over their plan (1050)
    assert monday["attainment"] == pytest.approx(960 / 1050)
    assert monday["scrap_rate"] == pytest.approx(100 / 1360)
    assert monday["run_hours"] == pytest.approx(3.0)
    assert monday["good_per_run_hour"] == pytest.approx(1260 / 3.0)
    assert (tuesday["good"], tuesday["scrap"], tuesday["planned"], tuesday["attainment"]) == (
        40,
        10,
        None,
        None,
    )
    assert tuesday["scrap_rate"] == pytest.approx(10 / 50)

    # A late report for Monday re-touches Monday only; Tuesday's row stays as it was.
    land(engine, EventType.PRODUCTION, [report(10, 1, 100, 0, 100)])
    with engine.connect() as conn:
        touched = select(view_touched.c.day).where(view_touched.c.view == "production_daily")
        assert conn.execute(touched).scalars().all() == [MONDAY]
    done = {d.view: d for d in refresh(engine, settings)}
    assert done["production_daily"].keys == 1
    monday = {r["day"]: r for r in view_rows(engine, "production_daily")}[MONDAY]
    assert (monday["good"], monday["planned"]) == (1360, 1150)
    assert monday["attainment"] == pytest.approx(1060 / 1150)
    assert_full_equals_incremental(engine, settings)


def test_a_reference_load_makes_the_views_that_read_it_stale(db_url: str) -> None:
    """New ideal cycle times change OEE already computed: `mark_suppliers_stale` touches
    every landed day of the file's suppliers in the views that read reference data."""
    from pipelines.views.refresh import mark_suppliers_stale

    engine = upgraded_engine(db_url)
    reference(engine, REFERENCE)
    land(
        engine,
        EventType.PRODUCTION,
        [report(6, 2, 900, 100, 1000), report(6, 2, 900, 100, 1000, MONDAY + timedelta(1))],
    )
    refresh(engine, load_settings())
    assert mark_suppliers_stale(engine, ["S1"]) >= 2
    with engine.connect() as conn:
        touched = conn.execute(select(view_touched.c.view, view_touched.c.day)).all()
    assert ("oee_daily", MONDAY) in touched and ("oee_daily", MONDAY + timedelta(1)) in touched
    assert not [v for v, _ in touched if v == "production_daily"], "it reads no reference data"
    assert mark_suppliers_stale(engine, ["S404"]) == 0


def test_refreshing_a_view_makes_the_views_that_read_it_stale(db_url: str) -> None:
    """`views refresh --view programme_impact` refreshes the daily views it reads first;
    refreshing production_daily alone marks the views reading it stale for its keys, so
    they never keep a result computed from its old rows."""
    from pipelines.views.catalog import ordered

    assert [v.name for v in ordered(["programme_impact"])][-1] == "programme_impact"
    assert {"production_daily", "quality_daily", "oee_daily"} <= {
        v.name for v in ordered(["programme_impact"])
    }
    engine = upgraded_engine(db_url)
    reference(engine, REFERENCE)
    land(engine, EventType.PRODUCTION, [report(6, 2, 900, 100, 1000)])
    refresh(engine, load_settings())
    with engine.begin() as conn:  # as if the readers had been refreshed meanwhile
        conn.execute(view_touched.delete())
        conn.execute(
            view_touched.insert().values(view="production_daily", supplier_id="S1", day=MONDAY)
        )
    refresh(engine, load_settings(), ["production_daily"])
    with engine.connect() as conn:
        stale = set(conn.execute(select(view_touched.c.view, view_touched.c.day)).all())
    assert ("programme_impact", MONDAY) in stale and ("production_daily", MONDAY) not in stale
