"""programme_impact and its roll-up on SQLite and PostgreSQL: before/after means, uplift
and a seeded bootstrap interval from hand-computed daily values with the ramp-up left
out, the NULL reasons, sector and sponsor roll-ups by hand, incremental == `--full`
after random late batches (and equal to a naive recomputation from the landing rows),
and the simulator's masks suppliers measuring the programme's reported +51 %."""

import itertools
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from connectors.simulator.events import generate
from connectors.simulator.world import STOPS_AND_SCRAP_GAIN, DataTier, World, build_world
from pipelines.views import impact
from pipelines.views.base import Scope
from pipelines.views.impact import programme_impact, programme_impact_rollup
from pipelines.views.oee import oee_daily
from pipelines.views.quality import quality_daily
from pipelines.views.refresh import mark_suppliers_stale, refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.support import upgraded_engine
from tests.views_support import (
    assert_full_equals_incremental,
    at,
    land,
    reference,
    table_rows,
    wipe,
)

pytestmark = pytest.mark.integration

GO_LIVE = date(2026, 1, 19)  # a Monday; the ramp-up (14 days by default) ends 2026-02-01
BEFORE = [date(2026, 1, 12) + timedelta(days=i) for i in range(5)]  # Mon-Fri before
AFTER = [date(2026, 2, 2) + timedelta(days=i) for i in range(5)]  # Mon-Fri after the ramp-up
RAMP = [date(2026, 1, 19), date(2026, 1, 30)]  # go-live day and 11 days after: left out
# S1's interval of units per run hour, as the fixed Poisson weights resample it: pinned,
# so a run that resampled differently (other weights, an unordered day list) fails.
PINNED_S1_INTERVAL = (39.164818548387096, 62.01392590618337)

# supplier: (sector, sponsor, go-live)
SUPPLIERS: dict[str, tuple[str, str, date | None]] = {
    "S1": ("masks", "B01", GO_LIVE),
    "S2": ("food", "B02", None),  # no go-live: nothing to compare
    "S3": ("masks", "B02", date(2026, 1, 14)),  # two days before go-live only
    "S4": ("masks", "B02", GO_LIVE),
    "S5": ("food", "B01", GO_LIVE),
    "S6": ("plating", "B01", GO_LIVE),  # two days after the ramp-up only
}


def reference_data(suppliers: dict[str, tuple[str, str, date | None]]) -> dict[str, Any]:
    return {
        "organisations": [
            {"org_id": "B01", "name": "Buyer one", "role": "buyer"},
            {"org_id": "B02", "name": "Buyer two", "role": "buyer"},
        ]
        + [
            {
                "org_id": s,
                "name": f"Supplier {s}",
                "role": "supplier",
                "sector": sector,
                "sponsor_id": sponsor,
                "go_live": go_live.isoformat() if go_live else None,
            }
            for s, (sector, sponsor, go_live) in suppliers.items()
        ],
        "sites": [
            {"site_id": f"{s}-P1", "supplier_id": s, "timezone": "Asia/Seoul"} for s in suppliers
        ],
        "lines": [{"line_id": "L1", "site_id": f"{s}-P1", "supplier_id": s} for s in suppliers],
        "parts": [{"part_number": "X", "supplier_id": s} for s in suppliers],
    }


def report(supplier: str, day: date, good: int, scrap: int, hours: float = 8.0) -> dict[str, Any]:
    """One production report of `hours` from 06:00 local on `day`."""
    start = at(day, 6)
    end = start + timedelta(hours=hours)
    return {
        "event_time": end,
        "supplier_id": supplier,
        "site_id": f"{supplier}-P1",
        "buyer_id": SUPPLIERS.get(supplier, ("", "B01", None))[1],
        "line_id": "L1",
        "work_order_id": "WO1",
        "part_number": "X",
        "lot_id": "LOT1",
        "quantity_good": good,
        "quantity_scrap": scrap,
        "planned_quantity": None,
        "start_time": start,
        "end_time": end,
        "unit": "H87",
    }


def series(supplier: str, days: list[date], values: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [report(supplier, d, good, scrap) for d, (good, scrap) in zip(days, values, strict=True)]


def land_fixture(engine: Engine) -> None:
    """The hand-computed programme: every report runs 8 hours, so units per run hour is
    good / 8 and scrap rate scrap / (good + scrap)."""
    reference(engine, reference_data(SUPPLIERS))
    rows = [
        # S1: units per run hour 100, 110, 90, 100, 100 (mean 100) before; scrap rate
        # 0.2, 0.12, 0.1, 0.2, 0.2 (mean 0.164).
        *series("S1", BEFORE, [(800, 200), (880, 120), (720, 80), (800, 200), (800, 200)]),
        # ramp-up days: 1000 units per run hour, left out
        *series("S1", RAMP, [(8000, 0), (8000, 0)]),
        # after: 150, 160, 140, 150, 150 (mean 150); scrap rate 0, 0.2, 0, 0, 0.2 (0.08)
        *series("S1", AFTER, [(1200, 0), (1280, 320), (1120, 0), (1200, 0), (1200, 300)]),
        # S2: output on both sides, but no go-live date
        *series("S2", BEFORE + AFTER, [(800, 0)] * 10),
        # S3: go-live on Wednesday 14 January: two days before it, five after the ramp-up
        *series("S3", BEFORE[:2] + AFTER, [(800, 0)] * 7),
        # S4: 100 -> 120 every day (+20 %), no scrap at all (scrap rate 0 before)
        *series("S4", BEFORE, [(800, 0)] * 5),
        *series("S4", AFTER, [(960, 0)] * 5),
        # S5: 100 -> 110 (+10 %)
        *series("S5", BEFORE, [(800, 0)] * 5),
        *series("S5", AFTER, [(880, 0)] * 5),
        # S6: two days after the ramp-up only
        *series("S6", BEFORE + AFTER[:2], [(800, 0)] * 7),
    ]
    land(engine, EventType.PRODUCTION, rows)


def impact_rows(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(select(programme_impact)).mappings().all()
    return {(r["supplier_id"], r["metric"]): dict(r) for r in found}


def rollup_rows(engine: Engine) -> dict[tuple[str, str, str], dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(select(programme_impact_rollup)).mappings().all()
    return {(r["group_kind"], r["group_id"], r["metric"]): dict(r) for r in found}


def test_uplift_and_interval_by_hand(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    settings = load_settings()
    assert settings.impact_ramp_up_days == 14
    land_fixture(engine)
    refresh(engine, settings)
    rows = impact_rows(engine)

    gph = rows[("S1", "good_per_run_hour")]
    assert (gph["go_live"], gph["ramp_up_days"], gph["days_before"], gph["days_after"]) == (
        GO_LIVE,
        14,
        5,
        5,
    )
    assert gph["mean_before"] == pytest.approx(100.0)
    assert gph["mean_after"] == pytest.approx(150.0)
    assert gph["uplift_pct"] == pytest.approx(50.0)
    assert (gph["higher_is_better"], gph["better"], gph["null_reason"]) == (True, True, None)
    # The bootstrap interval holds the uplift, inside what resampled means can reach:
    # after in [140, 160], before in [90, 110].
    assert 100 * (140 - 110) / 110 <= gph["ci_low_pct"] < 50.0 < gph["ci_high_pct"]
    assert gph["ci_high_pct"] <= 100 * (160 - 90) / 90
    # Fixed weights: the same interval in every run, on either database.
    assert gph["ci_low_pct"] == pytest.approx(PINNED_S1_INTERVAL[0], abs=1e-9)
    assert gph["ci_high_pct"] == pytest.approx(PINNED_S1_INTERVAL[1], abs=1e-9)

    scrap = rows[("S1", "scrap_rate")]
    assert (scrap["days_before"], scrap["days_after"]) == (5, 5)
    assert scrap["mean_before"] == pytest.approx(0.164)
    assert scrap["mean_after"] == pytest.approx(0.08)
    # the raw change: negative, and for scrap a fall is the improvement
    assert scrap["uplift_pct"] == pytest.approx(100 * (0.08 - 0.164) / 0.164)
    assert (scrap["higher_is_better"], scrap["better"]) == (False, True)
    assert scrap["ci_low_pct"] < scrap["uplift_pct"] < scrap["ci_high_pct"]

    # Constant days: every resample gives the same uplift, the interval is that point.
    s4 = rows[("S4", "good_per_run_hour")]
    assert (s4["uplift_pct"], s4["ci_low_pct"], s4["ci_high_pct"]) == pytest.approx((20, 20, 20))

    # A full rebuild, and a second one, give the very same rows (the interval included).
    assert_full_equals_incremental(engine, settings)
    refresh(engine, settings, full=True)
    assert impact_rows(engine) == rows

    # A late report for a day before go-live re-touches one key: S1's whole comparison
    # is recomputed (6 days before, mean (500 + 100) / 6 = 100), the other suppliers kept.
    land(engine, EventType.PRODUCTION, [report("S1", date(2026, 1, 9), 800, 200)])
    done = {d.view: d for d in refresh(engine, settings)}
    assert (done["programme_impact"].keys, done["programme_impact"].ranges) == (1, 1)
    again = impact_rows(engine)
    assert again[("S1", "good_per_run_hour")]["days_before"] == 6
    assert {k: v for k, v in again.items() if k[0] != "S1"} == {
        k: v for k, v in rows.items() if k[0] != "S1"
    }
    assert_full_equals_incremental(engine, settings)


def test_ramp_up_days_is_a_setting(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    land_fixture(engine)
    refresh(engine, load_settings(impact_ramp_up_days=7))
    gph = impact_rows(engine)[("S1", "good_per_run_hour")]
    # 30 January is 11 days after go-live: after a 7-day ramp-up it counts (1000 per hour)
    assert (gph["ramp_up_days"], gph["days_before"], gph["days_after"]) == (7, 5, 6)
    assert gph["mean_after"] == pytest.approx((5 * 150 + 1000) / 6)
    assert gph["uplift_pct"] == pytest.approx(100 * ((5 * 150 + 1000) / 6 - 100) / 100)


def test_a_new_go_live_date_recomputes_the_supplier(db_url: str) -> None:
    """A reference load that moves S1's go-live a week later makes S1 stale
    (`mark_suppliers_stale`, as `sangsaeng reference load` calls it): 19 January (1000
    units per run hour) now lies before go-live and the after-days inside the ramp-up."""
    engine = upgraded_engine(db_url)
    settings = load_settings()
    land_fixture(engine)
    refresh(engine, settings)
    later = {**SUPPLIERS, "S1": ("masks", "B01", GO_LIVE + timedelta(days=7))}
    reference(engine, reference_data(later))
    assert mark_suppliers_stale(engine, ["S1"]) > 0
    done = {d.view: d for d in refresh(engine, settings)}
    # every landed day of S1 (12 of them, in 4 runs of consecutive days), and only S1's
    assert (done["programme_impact"].keys, done["programme_impact"].ranges) == (12, 4)
    gph = impact_rows(engine)[("S1", "good_per_run_hour")]
    assert (gph["go_live"], gph["days_before"], gph["days_after"]) == (date(2026, 1, 26), 6, 0)
    assert gph["mean_before"] == pytest.approx((500 + 1000) / 6)
    assert gph["null_reason"] == "0 days after the 14-day ramp-up, 3 needed"
    assert_full_equals_incremental(engine, settings)


def test_null_reasons(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    land_fixture(engine)
    refresh(engine, load_settings())
    rows = impact_rows(engine)
    # one row per supplier with data and metric
    assert {s for s, _ in rows} == set(SUPPLIERS)
    assert {m for _, m in rows} == {"good_per_run_hour", "oee", "scrap_rate", "ppm"}

    def nulls(key: tuple[str, str]) -> tuple[Any, ...]:
        r = rows[key]
        return (
            r["days_before"],
            r["days_after"],
            r["uplift_pct"],
            r["ci_low_pct"],
            r["ci_high_pct"],
            r["better"],
            r["null_reason"],
        )

    assert nulls(("S2", "good_per_run_hour")) == (0, 0, None, None, None, None, "no go-live date")
    assert rows[("S2", "good_per_run_hour")]["go_live"] is None
    assert nulls(("S3", "good_per_run_hour")) == (
        2,
        5,
        None,
        None,
        None,
        None,
        "2 days before go-live, 3 needed",
    )
    # the means of what there is are still shown
    assert rows[("S3", "good_per_run_hour")]["mean_before"] == pytest.approx(100.0)
    assert nulls(("S6", "good_per_run_hour")) == (
        5,
        2,
        None,
        None,
        None,
        None,
        "2 days after the 14-day ramp-up, 3 needed",
    )
    # S4 never scrapped before go-live: no relative change of a zero rate
    assert nulls(("S4", "scrap_rate")) == (
        5,
        5,
        None,
        None,
        None,
        None,
        "mean before go-live is 0: no relative change",
    )
    # no inspections and no OEE landed: no day on either side
    assert nulls(("S1", "ppm")) == (0, 0, None, None, None, None, "0 days before go-live, 3 needed")
    assert rows[("S1", "oee")]["mean_before"] is None


def test_rollups_by_sector_and_sponsor_by_hand(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    land_fixture(engine)
    settings = load_settings()
    refresh(engine, settings)
    rows = rollup_rows(engine)

    def summary(kind: str, group: str, metric: str = "good_per_run_hour") -> tuple[Any, ...]:
        r = rows[(kind, group, metric)]
        return (
            r["suppliers"],
            r["uplift_pct"],
            r["ci_low_pct"],
            r["ci_high_pct"],
            r["null_reason"],
        )

    # Units per run hour: S1 +50 %, S4 +20 %, S5 +10 %; S2, S3 and S6 have no uplift.
    # Two suppliers' uplifts a and b resample to a mean of a, (a + b) / 2 or b: the 95 %
    # interval is [min, max].
    assert summary("sector", "masks") == pytest.approx((2, 35.0, 20.0, 50.0, None))
    assert summary("sector", "food") == (
        1,
        pytest.approx(10.0),
        None,
        None,
        "1 supplier with an uplift, 2 needed for an interval",
    )
    assert summary("sector", "plating") == (0, None, None, None, "no supplier with an uplift")
    assert summary("sponsor", "B01") == pytest.approx((2, 30.0, 10.0, 50.0, None))
    assert summary("sponsor", "B02")[:2] == (1, pytest.approx(20.0))
    # scrap: only S1 has an uplift (S4 and S5 had no scrap before go-live)
    masks_scrap = rows[("sector", "masks", "scrap_rate")]
    assert (masks_scrap["suppliers"], masks_scrap["better"]) == (1, True)
    assert masks_scrap["uplift_pct"] == pytest.approx(100 * (0.08 - 0.164) / 0.164)
    # every group and metric has a row: 3 sectors and 2 sponsors, 4 metrics
    assert len(rows) == (3 + 2) * 4
    assert_full_equals_incremental(engine, settings)


def test_oee_and_ppm_from_the_daily_views_by_hand(db_url: str) -> None:
    """OEE and ppm from rows of oee_daily and quality_daily as those views write them
    (the recompute called directly on the whole scope, so nothing rebuilds them)."""
    engine = upgraded_engine(db_url)
    reference(engine, reference_data({"S1": SUPPLIERS["S1"]}))
    oee_rows, quality_rows = [], []
    for days, line_oee, inspected in (
        # before: lines at 0.5 and 0.7 (mean 0.6), L3 without an OEE; 4 defective of
        # 2,000 in process and final (2,000 ppm), 50 of 100 bought-in parts (not counted)
        (BEFORE, (0.5, 0.7), ((1000, 3), (1000, 1), (100, 50))),
        # after: 0.6 and 0.9 (0.75); 1 of 2,000 (500 ppm)
        (AFTER, (0.6, 0.9), ((1000, 1), (1000, 0), (100, 50))),
    ):
        for day in days:
            for line, oee in zip(("L1", "L2", "L3"), (*line_oee, None), strict=True):
                oee_rows.append(
                    {"supplier_id": "S1", "site_id": "S1-P1", "line_id": line, "day": day}
                    | {"machines": 2, "oee": oee}
                )
            for stage, (n, bad) in zip(("IN_PROCESS", "FINAL", "INCOMING"), inspected, strict=True):
                quality_rows.append(
                    {"supplier_id": "S1", "site_id": "S1-P1", "line_id": "L1", "part_number": "X"}
                    | {"inspection_stage": stage, "day": day, "inspections": 1, "fail_count": 0}
                    | {"inspected": n, "defective": bad}
                )
    # a day with nothing inspected has no ppm: it does not count
    quality_rows.append(
        {**quality_rows[0], "day": AFTER[-1] + timedelta(days=3), "inspected": 0, "defective": 0}
    )
    with engine.begin() as conn:
        conn.execute(insert(oee_daily), oee_rows)
        conn.execute(insert(quality_daily), quality_rows)
        impact.recompute(conn, Scope(None, load_settings()))
    rows = impact_rows(engine)
    oee = rows[("S1", "oee")]
    assert (oee["days_before"], oee["days_after"]) == (5, 5)
    assert (oee["mean_before"], oee["mean_after"]) == pytest.approx((0.6, 0.75))
    assert oee["uplift_pct"] == pytest.approx(25.0)
    assert (oee["ci_low_pct"], oee["ci_high_pct"]) == pytest.approx((25.0, 25.0))
    assert oee["better"] is True
    ppm = rows[("S1", "ppm")]
    assert (ppm["days_before"], ppm["days_after"]) == (5, 5)
    assert (ppm["mean_before"], ppm["mean_after"]) == pytest.approx((2000.0, 500.0))
    assert ppm["uplift_pct"] == pytest.approx(-75.0)
    assert (ppm["higher_is_better"], ppm["better"]) == (False, True)
    # no production: no units per run hour
    assert rows[("S1", "good_per_run_hour")]["null_reason"] == "0 days before go-live, 3 needed"


# -- property: random late batches ------------------------------------------------------

PROPERTY_SUPPLIERS = {k: SUPPLIERS[k] for k in ("S1", "S2", "S4")}
reports = st.lists(
    st.tuples(
        st.sampled_from(sorted(PROPERTY_SUPPLIERS)),
        st.integers(min_value=-12, max_value=30),  # day offset from 19 January
        st.integers(min_value=0, max_value=1000),  # good
        st.integers(min_value=0, max_value=50),  # scrap
        st.integers(min_value=1, max_value=16),  # half hours run
    ),
    min_size=1,
    max_size=40,
)


def naive(rows: list[tuple[str, int, int, int, int]], ramp: int) -> dict[tuple[str, str], Any]:
    """days, means and uplift per supplier straight from the reports, in Python."""
    per_day: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for supplier, offset, good, scrap, half_hours in rows:
        cell = per_day[(supplier, offset)]
        cell[0] += good
        cell[1] += scrap
        cell[2] += half_hours / 2
    out: dict[tuple[str, str], Any] = {}
    for supplier in {s for s, _ in per_day}:
        go_live = PROPERTY_SUPPLIERS[supplier][2]
        for metric in ("good_per_run_hour", "scrap_rate"):
            sides: dict[str, list[float]] = {"before": [], "after": []}
            for (s, offset), (good, scrap, hours) in per_day.items():
                if s != supplier or go_live is None:
                    continue
                if metric == "good_per_run_hour":
                    value = good / hours
                elif good + scrap > 0:
                    value = scrap / (good + scrap)
                else:
                    continue
                if offset < 0:
                    sides["before"].append(value)
                elif offset >= ramp:
                    sides["after"].append(value)
            before, after = sides["before"], sides["after"]
            mean_b = sum(before) / len(before) if before else None
            mean_a = sum(after) / len(after) if after else None
            uplift = None
            if len(before) >= 3 and len(after) >= 3 and mean_b:
                uplift = 100 * (mean_a - mean_b) / mean_b
            out[(supplier, metric)] = (len(before), len(after), mean_b, mean_a, uplift)
    return out


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(reports=reports, cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=3))
def test_incremental_equals_full_and_naive_after_random_late_batches(
    db_url: str, reports: list[tuple[str, int, int, int, int]], cuts: list[int]
) -> None:
    engine = _engine(db_url)
    wipe(engine)
    settings = load_settings()
    # The batches land in the order drawn (days out of order: late events), each
    # followed by an incremental refresh.
    bounds = sorted({0, len(reports), *(min(c, len(reports)) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        land(
            engine,
            EventType.PRODUCTION,
            [
                report(s, GO_LIVE + timedelta(days=offset), good, scrap, half_hours / 2)
                for s, offset, good, scrap, half_hours in reports[a:b]
            ],
        )
        refresh(engine, settings)
    rows = impact_rows(engine)
    expected = naive(reports, settings.impact_ramp_up_days)
    got = {
        k: (r["days_before"], r["days_after"], r["mean_before"], r["mean_after"], r["uplift_pct"])
        for k, r in rows.items()
        if k[1] in ("good_per_run_hour", "scrap_rate")
    }
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        for value, want in zip(got[key], values, strict=True):
            assert (value is None) == (want is None), (key, got[key], values)
            assert want is None or value == pytest.approx(want, rel=1e-9, abs=1e-9), key
    assert_full_equals_incremental(engine, settings)


_engines: dict[str, Engine] = {}


def _engine(db_url: str) -> Engine:
    """One upgraded engine per database for all of hypothesis' examples (wiped in each)."""
    if db_url not in _engines:
        _engines[db_url] = upgraded_engine(db_url)
        reference(_engines[db_url], reference_data(PROPERTY_SUPPLIERS))
    return _engines[db_url]


# -- the simulator's calibration --------------------------------------------------------


def test_simulated_masks_makers_measure_the_reported_gain(db_url: str) -> None:
    """The four masks makers of a simulated programme (DOMAIN.md: four supported makers'
    daily output rose 51 %), their production, inspections and machine states landed as
    ingest lands them: each supplier's measured uplift holds its simulated one in its
    interval, and the sector's mean is within 3 points of +51 % (the sector's spread is
    +-3 points; day-to-day noise on 16 to 60 days a side adds about a point)."""
    engine = upgraded_engine(db_url)
    programme = build_world(7, 24, date(2026, 1, 5), 120)
    # As suppliers that send machine states and inspections (intermediate 1 and above),
    # so that OEE and ppm are measured for each of the four.
    masks = [
        replace(s, tier=DataTier.INTERMEDIATE_1) if s.tier is DataTier.BASIC else s
        for s in programme.suppliers
        if s.sector == "masks"
    ]
    assert len(masks) == 4
    world = World(programme.sponsors, masks, programme.start, programme.days)
    reference(engine, world.reference())
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in generate(world, seed=7, bad_rate=0.0):
        events[e.event_type].append(e.record)
    for event_type in (EventType.PRODUCTION, EventType.QUALITY, EventType.MACHINE_STATUS):
        land(engine, event_type, events[event_type.value])
    settings = load_settings()
    refresh(engine, settings)
    rows = impact_rows(engine)
    for supplier in masks:
        gph, oee, scrap, ppm = (
            rows[(supplier.supplier_id, m)]
            for m in ("good_per_run_hour", "oee", "scrap_rate", "ppm")
        )
        # the rate uplift, plus what fewer stops and less scrap add (world.py)
        simulated = 100 * ((1 + supplier.uplift) * STOPS_AND_SCRAP_GAIN - 1)
        assert gph["ci_low_pct"] <= simulated <= gph["ci_high_pct"], (supplier, gph)
        assert gph["uplift_pct"] == pytest.approx(simulated, abs=2.0)
        # OEE = good * ideal cycle time / planned busy time, and a simulated line is busy
        # its whole shifts (a stop costs output, not report time): OEE moves as units per
        # run hour do.
        assert oee["uplift_pct"] == pytest.approx(gph["uplift_pct"], abs=0.01)
        assert oee["better"] is True and 0 < oee["mean_after"] < 1
        # defects: 3 % of the inspected before go-live, 1 % after (events.py): -66.7 %
        assert ppm["ci_low_pct"] <= 100 * (0.01 - 0.03) / 0.03 <= ppm["ci_high_pct"], ppm
        assert ppm["better"] is True
        # scrap: 2.5 % -> 1.25 % on average: -50 %
        assert scrap["uplift_pct"] == pytest.approx(-50.0, abs=2.0)
        assert scrap["better"] is True
    sector = rollup_rows(engine)[("sector", "masks", "good_per_run_hour")]
    assert sector["suppliers"] == 4
    assert sector["uplift_pct"] == pytest.approx(51.0, abs=3.0)
    assert sector["ci_low_pct"] <= 51.0 <= sector["ci_high_pct"]
    # This view's tables only: oee_daily's own equality is its tests' business (here, on
    # PostgreSQL, its oee has differed in the ninth digit between the two).
    incremental = {t: table_rows(engine, t) for t in IMPACT_TABLES}
    refresh(engine, settings, full=True)
    assert {t: table_rows(engine, t) for t in IMPACT_TABLES} == incremental


IMPACT_TABLES = ("programme_impact", "programme_impact_rollup")
