"""The views' checks in SQL (pipelines/views/checks.py), on SQLite and PostgreSQL: totals
reconcile with landing per supplier, ratios lie in [0, 1], no touched key is left, and a
failure comes with a few sample offending rows."""

from datetime import date, timedelta

import pytest
from sqlalchemy import update

from pipelines.views.catalog import BY_NAME, VIEWS
from pipelines.views.checks import (
    CHECKS,
    RATIOS,
    TOTALS,
    TOUCHED,
    checks_of,
    no_key_left_touched,
    ratios_in_range,
    totals_reconcile,
)
from pipelines.views.production import production_daily
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.support import upgraded_engine
from tests.views_support import at, land, reference

pytestmark = pytest.mark.integration

MONDAY = date(2026, 1, 5)
REFERENCE = {
    "organisations": [
        {"org_id": "B01", "name": "Buyer", "role": "buyer"},
        {"org_id": "S1", "name": "One", "role": "supplier", "sponsor_id": "B01"},
        {"org_id": "S2", "name": "Two", "role": "supplier", "sponsor_id": "B01"},
    ],
    "sites": [
        {"site_id": "P1", "supplier_id": "S1", "timezone": "Asia/Seoul"},
        {"site_id": "P2", "supplier_id": "S2", "timezone": "Asia/Seoul"},
    ],
    "lines": [
        {"line_id": "L1", "site_id": "P1", "supplier_id": "S1"},
        {"line_id": "L2", "site_id": "P2", "supplier_id": "S2"},
    ],
    "parts": [
        {"part_number": "X", "supplier_id": "S1"},
        {"part_number": "Y", "supplier_id": "S2"},
    ],
}
PRODUCTION = BY_NAME["production_daily"]


def _report(supplier: str, day: date, good: int, scrap: int) -> dict[str, object]:
    site, line, part = ("P1", "L1", "X") if supplier == "S1" else ("P2", "L2", "Y")
    start = at(day, 8)
    end = start + timedelta(hours=2)
    return {
        "event_time": end,
        "supplier_id": supplier,
        "site_id": site,
        "line_id": line,
        "work_order_id": "WO1",
        "part_number": part,
        "lot_id": "LOT1",
        "quantity_good": good,
        "quantity_scrap": scrap,
        "planned_quantity": None,
        "start_time": start,
        "end_time": end,
        "unit": "H87",
    }


@pytest.fixture
def engine(db_url: str):
    made = upgraded_engine(db_url)
    reference(made, REFERENCE)
    # S1: Monday 900 + 100 scrap and Tuesday 400 + 0; S2: Monday 50 + 50.
    land(
        made,
        EventType.PRODUCTION,
        [
            _report("S1", MONDAY, 900, 100),
            _report("S1", MONDAY + timedelta(days=1), 400, 0),
            _report("S2", MONDAY, 50, 50),
        ],
    )
    yield made
    made.dispose()


def test_a_refreshed_view_passes_every_check(engine) -> None:
    assert not no_key_left_touched(engine, PRODUCTION).passed  # landed, not refreshed yet
    refresh(engine, load_settings())
    totals = totals_reconcile(engine, PRODUCTION)
    # 2 suppliers x 3 totals (good, scrap, reports), all equal to landing's.
    assert (totals.passed, totals.checked, totals.failed, totals.waiting) == (True, 6, 0, 0)
    ratios = ratios_in_range(engine, PRODUCTION)
    assert (ratios.passed, ratios.checked, ratios.failed) == (True, 3, 0)  # 3 view rows
    touched = no_key_left_touched(engine, PRODUCTION)
    assert (touched.passed, touched.checked, touched.samples) == (True, 0, [])


def test_a_tampered_total_fails_with_the_supplier_and_the_difference(engine) -> None:
    refresh(engine, load_settings())
    with engine.begin() as conn:
        conn.execute(
            update(production_daily)
            .where(production_daily.c.supplier_id == "S1", production_daily.c.day == MONDAY)
            .values(good=production_daily.c.good + 7, reports=production_daily.c.reports + 1)
        )
    outcome = totals_reconcile(engine, PRODUCTION)
    assert not outcome.passed and outcome.failed == 2 and outcome.waiting == 0
    assert outcome.samples == [
        {
            "supplier_id": "S1",
            "view_column": "good",
            "landing": "production.quantity_good",
            "in_view": 1307,
            "in_landing": 1300,
            "difference": 7,
        },
        {
            "supplier_id": "S1",
            "view_column": "reports",
            "landing": "production.rows",
            "in_view": 3,
            "in_landing": 2,
            "difference": 1,
        },
    ]
    # A row landed since (its key touched, not refreshed): the mismatch says keys wait.
    land(engine, EventType.PRODUCTION, [_report("S2", MONDAY, 10, 0)])
    waiting = totals_reconcile(engine, PRODUCTION)
    assert not waiting.passed and waiting.waiting == 1
    assert "1 touched keys wait" in waiting.summary


def test_a_ratio_outside_0_1_fails_with_the_row(engine) -> None:
    refresh(engine, load_settings())
    with engine.begin() as conn:
        conn.execute(
            update(production_daily)
            .where(production_daily.c.supplier_id == "S2")
            .values(scrap_rate=1.5)
        )
    outcome = ratios_in_range(engine, PRODUCTION)
    assert (outcome.passed, outcome.checked, outcome.failed) == (False, 3, 1)
    (sample,) = outcome.samples
    assert sample["table"] == "production_daily"
    assert (sample["supplier_id"], sample["day"], sample["scrap_rate"]) == (
        "S2",
        MONDAY.isoformat(),
        1.5,
    )


def test_touched_keys_left_fail_with_the_keys(engine) -> None:
    outcome = no_key_left_touched(engine, PRODUCTION)
    assert (outcome.passed, outcome.checked, outcome.waiting) == (False, 3, 3)
    assert [(s["supplier_id"], s["day"]) for s in outcome.samples] == [
        ("S1", MONDAY.isoformat()),
        ("S2", MONDAY.isoformat()),
        ("S1", (MONDAY + timedelta(days=1)).isoformat()),
    ]


def test_every_view_of_the_catalogue_passes_its_checks_once_refreshed(engine) -> None:
    """Generic over `VIEWS`: every view added to the catalogue is held to its checks."""
    assert PRODUCTION in VIEWS
    assert checks_of(PRODUCTION) == [TOTALS, RATIOS, TOUCHED]
    refresh(engine, load_settings())
    for view in VIEWS:
        for name in checks_of(view):
            outcome = CHECKS[name](engine, view)
            assert outcome.passed, f"{view.name}: {name}: {outcome.summary}"
