"""quality_daily, quality_defects and capability_weekly from hand-computed landing rows,
on SQLite and PostgreSQL: yield and ppm, the local day, the NULL-with-reason cases, the
weekly defect Pareto and Cp/Cpk; then, by hypothesis, each view against a naive Python
recomputation from the rows landed, and the incremental refresh after random batches
and late events against `--full`."""

import math
import statistics
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipelines.views import quality
from pipelines.views.keys import view_touched
from pipelines.views.read import view_rows
from pipelines.views.refresh import refresh
from sangsaeng.settings import Settings, load_settings
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

MONDAY = date(2026, 1, 5)
TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
NEXT_MONDAY = MONDAY + timedelta(days=7)
REFERENCE = {
    "organisations": [
        {"org_id": "B01", "name": "Buyer", "role": "buyer"},
        {"org_id": "S1", "name": "Supplier", "role": "supplier", "sponsor_id": "B01"},
        {"org_id": "S2", "name": "Other", "role": "supplier", "sponsor_id": "B01"},
    ],
    "sites": [
        {"site_id": "P1", "supplier_id": "S1", "timezone": "Asia/Seoul"},
        {"site_id": "P2", "supplier_id": "S2", "timezone": "Asia/Seoul"},
    ],
    "lines": [
        {"line_id": "L1", "site_id": "P1", "supplier_id": "S1"},
        {"line_id": "L2", "site_id": "P1", "supplier_id": "S1"},
        {"line_id": "L1", "site_id": "P2", "supplier_id": "S2"},
    ],
    "parts": [
        {"part_number": "X", "supplier_id": "S1"},
        {"part_number": "Y", "supplier_id": "S1"},
        {"part_number": "X", "supplier_id": "S2"},
    ],
}
SITE = {"S1": "P1", "S2": "P2"}


def inspection(
    when: datetime,
    inspected: int,
    defective: int,
    *,
    result: str = "PASS",
    stage: str = "IN_PROCESS",
    defects: list[dict[str, Any]] | None = None,
    measurements: list[dict[str, Any]] | None = None,
    supplier: str = "S1",
    line: str = "L1",
    part: str = "X",
) -> dict[str, Any]:
    return {
        "event_time": when,
        "supplier_id": supplier,
        "site_id": SITE[supplier],
        "line_id": line,
        "part_number": part,
        "lot_id": "LOT1",
        "inspection_stage": stage,
        "inspected_quantity": inspected,
        "defect_quantity": defective,
        "defects": defects or [],
        "measurements": measurements or [],
        "result": result,
    }


def defect(code: str, count: int, severity: str) -> dict[str, Any]:
    return {"code": code, "count": count, "severity": severity}


def measure(
    characteristic: str,
    value: float,
    lsl: float | None = 21.94,
    usl: float | None = 22.08,
    unit: str = "MMT",
) -> dict[str, Any]:
    return {"characteristic": characteristic, "value": value, "lsl": lsl, "usl": usl, "unit": unit}


@pytest.fixture
def engine(db_url: str) -> Engine:
    made = upgraded_engine(db_url)
    reference(made, REFERENCE)
    return made


def test_quality_daily_by_hand(engine: Engine) -> None:
    settings_ = load_settings()
    # Monday, L1, X, in process: 50 inspected with 2 defective (pass), 50 with 5 (fail);
    # one at 23:30 local Monday (14:30 UTC) is Monday's, one at 00:30 local Tuesday
    # (15:30 UTC Monday) is Tuesday's. Final stage: an inspection of 0 pieces.
    land(
        engine,
        EventType.QUALITY,
        [
            inspection(at(MONDAY, 8), 50, 2),
            inspection(at(MONDAY, 10), 50, 5, result="FAIL"),
            inspection(at(MONDAY, 23.5), 100, 0),
            inspection(at(MONDAY, 24.5), 40, 1, result="CONDITIONAL"),
            inspection(at(MONDAY, 9), 0, 0, stage="FINAL"),
        ],
    )
    refresh(engine, settings_)
    rows = {(r["day"], r["inspection_stage"]): r for r in view_rows(engine, "quality_daily")}
    monday = rows[MONDAY, "IN_PROCESS"]
    assert (monday["inspections"], monday["inspected"], monday["defective"]) == (3, 200, 7)
    assert monday["fail_count"] == 1
    assert monday["yield"] == pytest.approx(1 - 7 / 200)  # 0.965
    assert monday["ppm"] == pytest.approx(35_000.0)
    assert monday["yield_null_reason"] is None
    tuesday = rows[TUESDAY, "IN_PROCESS"]
    assert (tuesday["inspections"], tuesday["inspected"], tuesday["fail_count"]) == (1, 40, 0)
    assert tuesday["yield"] == pytest.approx(0.975)
    assert tuesday["ppm"] == pytest.approx(25_000.0)
    final = rows[MONDAY, "FINAL"]
    assert (final["inspections"], final["inspected"], final["yield"], final["ppm"]) == (
        1,
        0,
        None,
        None,
    )
    assert final["yield_null_reason"] == "nothing inspected"

    # A late inspection of Monday re-touches Monday only.
    land(engine, EventType.QUALITY, [inspection(at(MONDAY, 15), 100, 3, result="FAIL")])
    with engine.connect() as conn:
        assert conn.execute(
            select(view_touched.c.day).where(view_touched.c.view == "quality_daily")
        ).scalars().all() == [MONDAY]
    done = {d.view: d for d in refresh(engine, settings_)}
    assert done["quality_daily"].keys == 1
    monday = next(
        r
        for r in view_rows(engine, "quality_daily")
        if (r["day"], r["inspection_stage"]) == (MONDAY, "IN_PROCESS")
    )
    assert (monday["inspected"], monday["defective"], monday["fail_count"]) == (300, 10, 2)
    assert monday["ppm"] == pytest.approx(10 / 300 * 1e6)
    assert_full_equals_incremental(engine, settings_)


def test_quality_defects_by_hand(engine: Engine) -> None:
    settings_ = load_settings()
    land(
        engine,
        EventType.QUALITY,
        [
            inspection(at(MONDAY, 8), 50, 2, defects=[defect("SCRATCH", 2, "MINOR")]),
            inspection(
                at(MONDAY, 10),
                50,
                5,
                defects=[defect("SCRATCH", 3, "MINOR"), defect("BURR", 2, "MAJOR")],
            ),
            inspection(at(WEDNESDAY, 10), 50, 1, defects=[defect("SCRATCH", 1, "MINOR")]),
            inspection(at(WEDNESDAY, 11), 50, 0),  # no defects: no row
            # Sunday 23:00 local is still the first week; Monday 00:30 local the next
            inspection(
                at(MONDAY + timedelta(days=6), 23), 50, 1, defects=[defect("DENT", 1, "CRITICAL")]
            ),
            inspection(at(NEXT_MONDAY, 0.5), 50, 4, defects=[defect("BURR", 4, "MAJOR")]),
            inspection(at(MONDAY, 9), 50, 1, defects=[defect("SCRATCH", 1, "MINOR")], part="Y"),
        ],
    )
    refresh(engine, settings_)
    rows = {
        (r["week"], r["part_number"], r["code"], r["severity"]): r["count"]
        for r in view_rows(engine, "quality_defects")
    }
    assert rows == {
        (MONDAY, "X", "SCRATCH", "MINOR"): 6,
        (MONDAY, "X", "BURR", "MAJOR"): 2,
        (MONDAY, "X", "DENT", "CRITICAL"): 1,
        (MONDAY, "Y", "SCRATCH", "MINOR"): 1,
        (NEXT_MONDAY, "X", "BURR", "MAJOR"): 4,
    }
    # A late Friday inspection recomputes its whole week (same_week), not the next one.
    land(
        engine,
        EventType.QUALITY,
        [
            inspection(
                at(MONDAY + timedelta(days=4), 9), 50, 2, defects=[defect("BURR", 2, "MAJOR")]
            )
        ],
    )
    done = {d.view: d for d in refresh(engine, settings_)}
    assert (done["quality_defects"].keys, done["quality_defects"].ranges) == (1, 1)
    assert done["quality_defects"].rows == 4  # the first week's four rows, rewritten
    counts = {
        (r["week"], r["part_number"], r["code"]): r["count"]
        for r in view_rows(engine, "quality_defects")
    }
    assert counts[MONDAY, "X", "BURR"] == 4 and counts[NEXT_MONDAY, "X", "BURR"] == 4
    assert_full_equals_incremental(engine, settings_)


def test_capability_weekly_by_hand(engine: Engine) -> None:
    settings_ = load_settings()
    # bore: 25 values, 12 at 21.99, 12 at 22.01 and one at 22.00: mean 22.00,
    # Σ (x - mean)² = 24 * 0.0001, stddev = sqrt(0.0024 / 24) = 0.01; lsl 21.94, usl
    # 22.08: cp = 0.14 / 0.06 = 2.333..., cpk = min(0.08, 0.06) / 0.03 = 2.0.
    bore = [21.99] * 12 + [22.01] * 12 + [22.00]
    # depth: 24 values only. width: no lower limit. flat: 25 equal values (stddev 0).
    # height: 25 values, usl 22.08 on most but 22.06 on the last five (the strictest,
    # 22.06, is used): cpk = min(0.06, 0.06) / 0.03 = 2.0, cp = 0.12 / 0.06 = 2.0.
    values = (
        [measure("bore", v) for v in bore]
        + [measure("depth", v) for v in bore[:24]]
        + [measure("width", v, lsl=None) for v in bore]
        + [measure("flat", 22.0) for _ in range(25)]
        + [measure("height", v, usl=22.08 if i < 20 else 22.06) for i, v in enumerate(bore)]
    )
    # spread over five inspections of the week (Monday to Friday), three per event and
    # the rest in the last one; one measurement on the next Monday is the next week's
    events = [
        inspection(
            at(MONDAY + timedelta(days=i % 5), 9 + i // 5),
            50,
            0,
            measurements=values[3 * i : 3 * i + 3],
        )
        for i in range(len(values) // 3)
    ]
    events.append(inspection(at(MONDAY, 20), 50, 0, measurements=values[3 * len(events) :]))
    events.append(inspection(at(NEXT_MONDAY, 9), 50, 0, measurements=[measure("bore", 22.02)]))
    land(engine, EventType.QUALITY, events)
    refresh(engine, settings_)
    rows = {(r["week"], r["characteristic"]): r for r in view_rows(engine, "capability_weekly")}
    b = rows[MONDAY, "bore"]
    assert (b["n"], b["unit"], b["lsl"], b["usl"], b["null_reason"]) == (
        25,
        "MMT",
        21.94,
        22.08,
        None,
    )
    assert b["limits_varied"] is False
    assert b["mean"] == pytest.approx(22.0)
    assert b["stddev"] == pytest.approx(0.01)
    assert b["cp"] == pytest.approx(0.14 / 0.06)
    assert b["cpk"] == pytest.approx(2.0)
    d = rows[MONDAY, "depth"]
    assert (d["n"], d["cp"], d["cpk"]) == (24, None, None)
    assert d["null_reason"] == "fewer than 25 measurements"
    assert d["stddev"] == pytest.approx(math.sqrt(0.0024 / 23))
    w = rows[MONDAY, "width"]
    assert (w["lsl"], w["cp"], w["cpk"], w["null_reason"]) == (
        None,
        None,
        None,
        "no lower specification limit",
    )
    f = rows[MONDAY, "flat"]
    assert (f["stddev"], f["cp"], f["null_reason"]) == (0.0, None, "no variation (stddev 0)")
    h = rows[MONDAY, "height"]
    assert (h["usl"], h["limits_varied"], h["null_reason"]) == (22.06, True, None)
    assert h["cp"] == pytest.approx(2.0) and h["cpk"] == pytest.approx(2.0)
    nxt = rows[NEXT_MONDAY, "bore"]
    assert (nxt["n"], nxt["mean"], nxt["stddev"], nxt["cp"]) == (1, 22.02, None, None)
    assert nxt["null_reason"] == "fewer than 25 measurements"
    assert_full_equals_incremental(engine, settings_)


def test_capability_reasons_combine() -> None:
    """The pure finishing step: every applicable reason, in a fixed order."""
    assert quality.capability(3, 1.0, 0.0, lsl=None, usl=0.5, units=2, constant=True) == (
        0.0,
        None,
        None,
        "fewer than 25 measurements; no lower specification limit; "
        "values in more than one unit; no variation (stddev 0)",
    )
    assert quality.capability(30, 1.0, 29.0, lsl=2.0, usl=1.0, units=1)[1:] == (
        None,
        None,
        "lsl is not below usl",
    )


# -- property tests ------------------------------------------------------------------

CODES = st.sampled_from(["SCRATCH", "BURR", "DENT"])
SEVERITIES = st.sampled_from(["MINOR", "MAJOR", "CRITICAL"])
CHARACTERISTICS = st.sampled_from(["bore", "depth"])
LIMITS = st.sampled_from([(9.5, 10.5), (9.6, 10.5), (None, 10.5), (9.5, None)])


@st.composite
def measurements(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(0, 8))):
        lsl, usl = draw(LIMITS)
        # a value on a 0.01 grid near 10, so the mean is well above the spread
        value = 10 + draw(st.integers(-40, 40)) / 100
        out.append(
            {
                "characteristic": draw(CHARACTERISTICS),
                "value": value,
                "lsl": lsl,
                "usl": usl,
                "unit": draw(st.sampled_from(["MMT", "MMT", "MMT", "CMT"])),
            }
        )
    return out


@st.composite
def inspections(draw: st.DrawFn) -> dict[str, Any]:
    inspected = draw(st.integers(0, 60))
    supplier = draw(st.sampled_from(["S1", "S2"]))
    day = MONDAY + timedelta(days=draw(st.integers(0, 13)))
    return {
        **inspection(
            at(day, draw(st.integers(0, 24 * 4 - 1)) / 4),  # any quarter hour, local
            inspected,
            draw(st.integers(0, inspected)),
            result=draw(st.sampled_from(["PASS", "FAIL", "CONDITIONAL"])),
            stage=draw(st.sampled_from(["IN_PROCESS", "FINAL"])),
            defects=draw(
                st.lists(st.builds(defect, CODES, st.integers(0, 5), SEVERITIES), max_size=3)
            ),
            measurements=draw(measurements()),
            supplier=supplier,
            line=draw(st.sampled_from(["L1", "L2"])) if supplier == "S1" else "L1",
            part=draw(st.sampled_from(["X", "Y"])) if supplier == "S1" else "X",
        ),
        "event_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4)),
    }


def local_day(row: dict[str, Any]) -> date:
    return (row["event_time"] + timedelta(hours=9)).date()  # both sites are in Seoul


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def naive_daily(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        key = (e["supplier_id"], e["site_id"], e["line_id"], e["part_number"])
        groups[(*key, e["inspection_stage"], local_day(e))].append(e)
    rows = []
    for key, group in groups.items():
        inspected = sum(e["inspected_quantity"] for e in group)
        defective = sum(e["defect_quantity"] for e in group)
        fails = sum(e["result"] == "FAIL" for e in group)
        share = defective / inspected if inspected else None
        rows.append(
            (
                *key,
                len(group),
                inspected,
                defective,
                fails,
                None if share is None else 1 - share,
                None if share is None else share * 1e6,
                None if inspected else "nothing inspected",
            )
        )
    return rows


def naive_defects(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    for e in events:
        for d in e["defects"]:
            key = (e["supplier_id"], e["part_number"], week_of(local_day(e)))
            counts[(*key, d["code"], d["severity"])] += d["count"]
    return [(*key, count) for key, count in counts.items()]


def naive_capability(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        for m in e["measurements"]:
            key = (e["supplier_id"], e["part_number"], m["characteristic"])
            groups[(*key, week_of(local_day(e)))].append(m)
    rows = []
    for key, group in groups.items():
        xs = [m["value"] for m in group]
        lsls = [m["lsl"] for m in group if m["lsl"] is not None]
        usls = [m["usl"] for m in group if m["usl"] is not None]
        lsl, usl = (max(lsls) if lsls else None), (min(usls) if usls else None)
        n, mean = len(xs), statistics.fmean(xs)
        sd = statistics.stdev(xs) if n >= 2 else None
        units = {m["unit"] for m in group}
        reasons = [
            text
            for applies, text in [
                (n < 25, "fewer than 25 measurements"),
                (lsl is None, "no lower specification limit"),
                (usl is None, "no upper specification limit"),
                (len(units) > 1, "values in more than one unit"),
                (sd == 0, "no variation (stddev 0)"),
                (lsl is not None and usl is not None and lsl >= usl, "lsl is not below usl"),
            ]
            if applies
        ]
        cp = cpk = None
        if not reasons:
            assert sd is not None and lsl is not None and usl is not None
            cp, cpk = (usl - lsl) / (6 * sd), min(usl - mean, mean - lsl) / (3 * sd)
        varied = len(set(lsls)) > 1 or len(set(usls)) > 1 or 0 < len(lsls) < n or 0 < len(usls) < n
        rows.append(
            (
                *key,
                min(units),
                n,
                mean,
                sd,
                lsl,
                usl,
                cp,
                cpk,
                "; ".join(reasons) or None,
                varied,
            )
        )
    return rows


def assert_rows_match(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Same rows (in any order), floats equal to 1e-9 relative."""
    assert len(actual) == len(expected)
    key = lambda row: repr(tuple(v for v in row if not isinstance(v, float)))  # noqa: E731
    for got, want in zip(sorted(actual, key=key), sorted(expected, key=key), strict=True):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            if isinstance(b, float) and a is not None:
                assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (got, want)
            else:
                assert a == b, (got, want)


PROPERTY = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(events=st.lists(inspections(), min_size=10, max_size=40, unique_by=lambda e: e["event_id"]))
def test_views_equal_a_naive_recomputation(engine: Engine, events: list[dict[str, Any]]) -> None:
    wipe(engine)
    # enough measurements of a characteristic of its own for Cp/Cpk to be computed
    events[0]["measurements"] = [
        {
            "characteristic": "gauge",
            "value": 10 + (i % 7 - 3) / 100,
            "lsl": 9.5,
            "usl": 10.5,
            "unit": "MMT",
        }
        for i in range(26)
    ]
    land(engine, EventType.QUALITY, events)
    refresh(engine, load_settings(), full=True)
    assert_rows_match(table_rows(engine, "quality_daily"), naive_daily(events))
    assert_rows_match(table_rows(engine, "quality_defects"), naive_defects(events))
    capability = table_rows(engine, "capability_weekly")
    assert_rows_match(capability, naive_capability(events))
    assert any(row[2] == "gauge" and row[10] is not None for row in capability)  # a Cp


@PROPERTY
@given(
    batches=st.lists(st.lists(inspections(), min_size=3, max_size=10), min_size=2, max_size=5),
    refresh_after=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_incremental_after_random_batches_equals_full(
    engine: Engine, batches: list[list[dict[str, Any]]], refresh_after: list[bool]
) -> None:
    """Batches land in any order of days (so later batches carry late events), with or
    without a refresh between them; the views then equal a full rebuild."""
    wipe(engine)
    settings_: Settings = load_settings()
    seen: set[str] = set()
    for batch, refresh_now in zip(batches, refresh_after, strict=False):
        fresh = []
        for e in batch:  # an event_id lands once (the landing table's key): skip repeats
            if e["event_id"] not in seen:
                seen.add(e["event_id"])
                fresh.append(e)
        land(engine, EventType.QUALITY, fresh)
        if refresh_now:
            refresh(engine, settings_)
    assert_full_equals_incremental(engine, settings_)
