"""data_readiness on SQLite and PostgreSQL: hand-computed periods (the operating window,
each type's period, the hour an event closes), optional-field completeness from the
contracts, nearest-rank freshness, open quarantine rows and the score; a site in another
time zone; a day with only quarantined records; late events and quarantine re-touch
their day. A property test compares the view with a naive Python recomputation after
random batches and checks that the incremental refresh equals `--full`."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pipelines.landing.days import BUSINESS_TIME
from pipelines.views.keys import view_touched
from pipelines.views.read import view_rows
from pipelines.views.readiness import INTERVALS, PERIOD_HOURS, optional_fields
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.support import upgraded_engine
from tests.views_support import (
    assert_full_equals_incremental,
    at,
    land,
    quarantine_rows,
    reference,
    table_rows,
    wipe,
)

pytestmark = pytest.mark.integration

MONDAY = date(2026, 1, 5)
TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
REFERENCE = {
    "organisations": [
        {"org_id": "B01", "name": "Buyer", "role": "buyer"},
        {"org_id": "S1", "name": "Seoul Works", "role": "supplier", "sponsor_id": "B01"},
        {
            "org_id": "S2",
            "name": "Bangkok Works",
            "role": "supplier",
            "sponsor_id": "B01",
            "timezone": "Asia/Bangkok",
        },
    ],
    "sites": [
        {"site_id": "P1", "supplier_id": "S1", "timezone": "Asia/Seoul"},
        {"site_id": "P2", "supplier_id": "S2", "timezone": "Asia/Bangkok"},
    ],
    "lines": [
        {"line_id": "L1", "site_id": "P1", "supplier_id": "S1"},
        {"line_id": "L1", "site_id": "P2", "supplier_id": "S2"},
    ],
    "parts": [{"part_number": "X", "supplier_id": "S1"}, {"part_number": "X", "supplier_id": "S2"}],
}
SITE = {"S1": ("P1", 9), "S2": ("P2", 7)}  # site and UTC offset (hours)


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def production(
    supplier: str, start: datetime, end: datetime, *, planned: int | None, lag_s: float | None
) -> dict[str, Any]:
    return {
        "event_time": end,
        "supplier_id": supplier,
        "site_id": SITE[supplier][0],
        "buyer_id": "B01",
        "line_id": "L1",
        "work_order_id": "WO1",
        "part_number": "X",
        "lot_id": "LOT1",
        "quantity_good": 10,
        "quantity_scrap": 0,
        "planned_quantity": planned,
        "start_time": start,
        "end_time": end,
        "unit": "H87",
        "kafka_timestamp": None if lag_s is None else ms(end) + int(lag_s * 1000),
    }


def machine(supplier: str, when: datetime, state: str, reason: str | None) -> dict[str, Any]:
    return {
        "event_time": when,
        "supplier_id": supplier,
        "site_id": SITE[supplier][0],
        "line_id": "L1",
        "machine_id": "M1",
        "state": state,
        "reason_code": reason,
        "kafka_timestamp": None,  # sent before Kafka timestamps were kept: no freshness
    }


def inspection(when: datetime, lag_s: float, buyer: str | None) -> dict[str, Any]:
    return {
        "event_time": when,
        "supplier_id": "S1",
        "buyer_id": buyer,
        "line_id": "L1",
        "part_number": "X",
        "lot_id": "LOT1",
        "inspection_stage": "IN_PROCESS",
        "inspected_quantity": 10,
        "defect_quantity": 0,
        "defects": [],
        "measurements": [],
        "result": "PASS",
        "kafka_timestamp": ms(when) + int(lag_s * 1000),
    }


def refused(supplier: str, event_type: str, day: date, status: str = "open") -> dict[str, Any]:
    return {
        "supplier_id": supplier,
        "event_type": event_type,
        "received_day": day,
        "status": status,
    }


def rows_by_key(engine: Any) -> dict[tuple[str, str, date], dict[str, Any]]:
    return {
        (r["supplier_id"], r["event_type"], r["day"]): r
        for r in view_rows(engine, "data_readiness", limit=10_000)
    }


def test_data_readiness_by_hand(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    config = load_settings()
    reference(engine, REFERENCE)
    seoul = lambda h: at(MONDAY, h)  # noqa: E731 - local Seoul hour on Monday
    # Production runs 08-09, 09-10:30 and 12-13 local: the operating window is 08-13,
    # hours 8..12 (5 expected); hour 11 has no run (4 received). Optional fields
    # (buyer_id, planned_quantity): 5 of 6 set. Lags 30, 90, 600 s: median (rank
    # ceil(1.5) = 2) 90 s, p95 (rank ceil(2.85) = 3) 600 s.
    land(
        engine,
        EventType.PRODUCTION,
        [
            production("S1", seoul(8), seoul(9), planned=100, lag_s=30),
            production("S1", seoul(9), seoul(10.5), planned=100, lag_s=90),
            production("S1", seoul(12), seoul(13), planned=None, lag_s=600),
        ],
    )
    # Machine states at 08:00 sharp (closes hour 7: period 0 of 8 h, outside the window)
    # and 12:15 (hour 12: period 1). The window's hours 8..12 lie in period 1 only:
    # 1 expected, 1 received. Optional (buyer_id, reason_code): 1 of 4 set. No Kafka
    # timestamps: no freshness, its weight left out.
    land(
        engine,
        EventType.MACHINE_STATUS,
        [
            machine("S1", seoul(8), "RUNNING", None),
            machine("S1", seoul(12.25), "DOWN", "JAM"),
        ],
    )
    # Inspections at 10:00 (hour 9: 2-hour period 4) and 13:30 (hour 13: period 6, which
    # the window's hour 12 overlaps). Expected periods 4, 5, 6; received 4 and 6. Lags 20
    # and 60 s: median (rank 1) 20 s, p95 (rank 2) 60 s. buyer_id set on one of two.
    land(
        engine,
        EventType.QUALITY,
        [inspection(seoul(10), 20, "B01"), inspection(seoul(13.5), 60, None)],
    )
    # Open quarantine rows: production 1, shipment 1, energy 2; a resolved one is not counted.
    quarantine_rows(
        engine,
        [
            refused("S1", "production", MONDAY),
            refused("S1", "production", MONDAY, status="landed"),
            refused("S1", "shipment", MONDAY),
            refused("S1", "energy", MONDAY),
            refused("S1", "energy", MONDAY),
            refused("S1", "production", TUESDAY),  # a day with nothing landed
        ],
    )
    # S2 in Bangkok (UTC+7): 08-09 local on Monday, and a run from 23:30 Tuesday to 00:30
    # Wednesday, Wednesday's (its end); its start is clamped to Wednesday's hour 0.
    bangkok = lambda day, h: at(day, h, 7)  # noqa: E731
    land(
        engine,
        EventType.PRODUCTION,
        [
            production("S2", bangkok(MONDAY, 8), bangkok(MONDAY, 9), planned=5, lag_s=0),
            production(
                "S2", bangkok(TUESDAY, 23.5), bangkok(TUESDAY, 24.5), planned=5, lag_s=3_600
            ),
        ],
    )
    refresh(engine, config)
    rows = rows_by_key(engine)
    # every type for each (supplier, day) with anything landed or quarantined
    assert len(rows) == 5 * 4

    p = rows[("S1", "production", MONDAY)]
    assert (p["received"], p["first_hour"], p["last_hour"], p["period_hours"]) == (3, 8, 12, 1)
    assert (p["expected_periods"], p["received_periods"]) == (5, 4)
    assert p["periods_completeness"] == pytest.approx(0.8)
    assert (p["optional_fields"], p["fields_completeness"]) == (2, pytest.approx(5 / 6))
    assert (p["freshness_median_s"], p["freshness_p95_s"]) == (90.0, 600.0)
    assert (p["quarantined"], p["quarantine_rate"]) == (1, pytest.approx(1 / 4))
    # 100 x (0.4 x 0.8 + 0.2 x 5/6 + 0.2 x 0.75 (median 90 s <= 15 min) + 0.2 x (1 - 1/4))
    assert p["score"] == pytest.approx(100 * (0.32 + 0.2 * 5 / 6 + 0.15 + 0.15))
    assert p["null_reason"] is None

    m = rows[("S1", "machine_status", MONDAY)]
    assert (m["received"], m["period_hours"], m["expected_periods"], m["received_periods"]) == (
        2,
        8,
        1,
        1,
    )
    assert m["fields_completeness"] == pytest.approx(0.25)
    assert (m["freshness_median_s"], m["freshness_p95_s"]) == (None, None)
    assert (m["quarantined"], m["quarantine_rate"]) == (0, 0.0)
    # (0.4 x 1 + 0.2 x 0.25 + 0.2 x 1) / 0.8
    assert m["score"] == pytest.approx(100 * 0.65 / 0.8)
    assert "no Kafka timestamps" in m["null_reason"]

    q = rows[("S1", "quality", MONDAY)]
    assert (q["expected_periods"], q["received_periods"]) == (3, 2)
    assert q["fields_completeness"] == pytest.approx(0.5)
    assert (q["freshness_median_s"], q["freshness_p95_s"]) == (20.0, 60.0)
    assert q["score"] == pytest.approx(100 * (0.4 * 2 / 3 + 0.1 + 0.2 + 0.2))

    for event_type, expected, refused_n in (("shipment", 1, 1), ("energy", 5, 2)):
        r = rows[("S1", event_type, MONDAY)]
        assert (r["received"], r["expected_periods"], r["received_periods"]) == (0, expected, 0)
        assert (r["periods_completeness"], r["quarantined"], r["quarantine_rate"]) == (
            0.0,
            refused_n,
            1.0,
        )
        assert (r["fields_completeness"], r["freshness_median_s"], r["score"]) == (None,) * 3
        assert r["null_reason"] == "no events of this type landed this day"

    t = rows[("S1", "production", TUESDAY)]
    assert (t["received"], t["first_hour"], t["expected_periods"], t["received_periods"]) == (
        0,
        None,
        None,
        0,
    )
    assert (t["periods_completeness"], t["quarantined"], t["quarantine_rate"], t["score"]) == (
        None,
        1,
        1.0,
        None,
    )
    assert t["null_reason"].startswith("nothing landed this day")
    assert rows[("S1", "energy", TUESDAY)]["quarantined"] == 0

    b = rows[("S2", "production", MONDAY)]
    assert (b["first_hour"], b["last_hour"], b["expected_periods"], b["received_periods"]) == (
        8,
        8,
        1,
        1,
    )
    assert b["score"] == pytest.approx(100.0)  # complete, all fields, fresh, nothing refused
    w = rows[("S2", "production", WEDNESDAY)]
    assert (w["first_hour"], w["last_hour"], w["expected_periods"], w["freshness_median_s"]) == (
        0,
        0,
        1,
        3600.0,
    )
    assert w["score"] == pytest.approx(100 * (0.4 + 0.2 + 0.2 * 0.5 + 0.2))  # 1 h: 0.5
    assert ("S2", "production", TUESDAY) not in rows

    # A late run 11:00-11:30 fills hour 11; a quarantined record on Monday re-touches it.
    land(
        engine,
        EventType.PRODUCTION,
        [production("S1", seoul(11), seoul(11.5), planned=1, lag_s=86_400 * 3)],
    )
    quarantine_rows(engine, [refused("S1", "shipment", MONDAY)])
    with engine.connect() as conn:
        touched = conn.execute(
            select(view_touched.c.supplier_id, view_touched.c.day).where(
                view_touched.c.view == "data_readiness"
            )
        ).all()
    assert set(touched) == {("S1", MONDAY)}
    refresh(engine, config)
    rows = rows_by_key(engine)
    p = rows[("S1", "production", MONDAY)]
    assert (p["received"], p["received_periods"], p["periods_completeness"]) == (4, 5, 1.0)
    # lags 30, 90, 600, 259200: median rank 2 -> 90 s, p95 rank ceil(3.8) = 4 -> 259200 s
    assert (p["freshness_median_s"], p["freshness_p95_s"]) == (90.0, 259_200.0)
    assert rows[("S1", "shipment", MONDAY)]["quarantined"] == 2
    assert_full_equals_incremental(engine, config)


# -- property: the view equals a naive recomputation, incremental equals --full ---------

ZONES = {"S1": ZoneInfo("Asia/Seoul"), "S2": ZoneInfo("Asia/Bangkok")}
HOUR = timedelta(hours=1)


def event_row(
    event_type: EventType,
    supplier: str,
    end: datetime,
    minutes: int,
    lag_s: int | None,
    optional: bool,
) -> dict[str, Any]:
    """A landing row of `event_type` whose business time is `end` (intervals start
    `minutes` before), with the optional fields set or not."""
    base: dict[str, Any] = {
        "event_time": end,
        "supplier_id": supplier,
        "site_id": SITE[supplier][0],
        "buyer_id": "B01" if optional else None,
        "kafka_timestamp": None if lag_s is None else ms(end) + lag_s * 1000,
    }
    start = end - timedelta(minutes=minutes)
    if event_type is EventType.PRODUCTION:
        return production(supplier, start, end, planned=3 if optional else None, lag_s=lag_s) | {
            "buyer_id": base["buyer_id"]
        }
    if event_type is EventType.MACHINE_STATUS:
        return base | {
            "line_id": "L1",
            "machine_id": "M1",
            "state": "DOWN",
            "reason_code": "JAM" if optional else None,
        }
    if event_type is EventType.QUALITY:
        return inspection(end, 0, None) | base
    if event_type is EventType.SHIPMENT:
        return base | {
            "buyer_id": "B01",  # required on a shipment
            "shipment_id": "SH1",
            "po_number": "PO1",
            "part_number": "X",
            "lot_ids": ["LOT1"],
            "quantity": 1.0,
            "unit": "H87",
            "promised_date": end.date(),
            "shipped_at": end,
            "delivered_at": end + HOUR if optional else None,
        }
    return base | {
        "meter_id": "EM1",
        "line_id": "L1" if optional else None,
        "energy_kwh": 1.0,
        "period_start": start,
        "period_end": end,
        "energy_source": "GRID",
    }


def naive(
    landed: list[tuple[EventType, dict[str, Any]]], refused_rows: list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """data_readiness recomputed in Python from the rows, the docstring's way."""
    spans: dict[tuple[str, date], list[tuple[EventType, set[int], dict[str, Any]]]] = defaultdict(
        list
    )
    for event_type, row in landed:
        zone = ZONES[row["supplier_id"]]
        end = row[BUSINESS_TIME[event_type]]
        day = end.astimezone(zone).date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        columns = INTERVALS.get(event_type)
        start = row[columns[0]] if columns else end
        # hours the interval overlaps for some time; else the hour of the instant before end
        hours = {
            h
            for h in range(24)
            if max(start, midnight + h * HOUR) < min(end, midnight + (h + 1) * HOUR)
        }
        if not hours:
            before = (end - timedelta(milliseconds=1) - midnight) // HOUR
            hours = {min(23, max(0, before))}
        spans[(row["supplier_id"], day)].append((event_type, hours, row))
    quarantined: dict[tuple[str, str, date], int] = defaultdict(int)
    for q in refused_rows:
        if q["status"] == "open":
            quarantined[(q["supplier_id"], q["event_type"], q["received_day"])] += 1
    keys = set(spans) | {(s, d) for s, _, d in quarantined}
    out = []
    for supplier, day in keys:
        day_spans = spans.get((supplier, day), [])
        made = [h for t, hs, _ in day_spans if t is EventType.PRODUCTION for h in hs]
        every = [h for _, hs, _ in day_spans for h in hs]
        window = (min(made), max(made)) if made else (min(every), max(every)) if every else None
        for event_type in EventType:
            mine = [(hs, r) for t, hs, r in day_spans if t is event_type]
            length = PERIOD_HOURS[event_type]
            fields = optional_fields(event_type)
            received = len(mine)
            refused_n = quarantined.get((supplier, event_type.value, day), 0)
            if window:
                periods = set(range(window[0] // length, window[1] // length + 1))
                hit = {h // length for hs, _ in mine for h in hs} & periods
                expected, got = len(periods), len(hit)
                completeness: float | None = got / expected
            else:
                expected, got, completeness = None, 0, None
            lags = sorted(
                (r["kafka_timestamp"] - ms(r["event_time"])) / 1000.0
                for _, r in mine
                if r["kafka_timestamp"] is not None
            )
            median = lags[(len(lags) + 1) // 2 - 1] if lags else None
            p95 = lags[-(-95 * len(lags) // 100) - 1] if lags else None
            filled = (
                sum(r.get(f) is not None for _, r in mine for f in fields)
                / (received * len(fields))
                if received
                else None
            )
            rate = refused_n / (received + refused_n) if received + refused_n else None
            score = None
            if received:
                fresh = None
                if median is not None:
                    fresh = next(
                        (
                            s
                            for limit, s in ((60, 1), (900, 0.75), (3600, 0.5), (86400, 0.25))
                            if median <= limit
                        ),
                        0.0,
                    )
                total = 0.4 * completeness + 0.2 * filled + 0.2 * (fresh or 0) + 0.2 * (1 - rate)
                score = 100 * total / (1.0 if fresh is not None else 0.8)
            out.append(
                (
                    supplier,
                    event_type.value,
                    day,
                    received,
                    expected,
                    got,
                    completeness,
                    filled,
                    median,
                    p95,
                    refused_n,
                    rate,
                    score,
                )
            )
    return sorted(
        (tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in out), key=repr
    )


COLUMNS = (
    "supplier_id",
    "event_type",
    "day",
    "received",
    "expected_periods",
    "received_periods",
    "periods_completeness",
    "fields_completeness",
    "freshness_median_s",
    "freshness_p95_s",
    "quarantined",
    "quarantine_rate",
    "score",
)

events = st.lists(
    st.tuples(
        st.sampled_from(list(EventType)),
        st.sampled_from(["S1", "S2"]),
        st.integers(0, 2),  # day
        st.integers(-90, 24 * 60 + 30),  # local minute of the business time
        st.sampled_from([0, 15, 30, 60, 90, 240]),  # length of an interval (minutes)
        st.one_of(st.none(), st.integers(-60, 100_000)),  # Kafka lag (s)
        st.booleans(),  # optional fields set
        st.integers(0, 2),  # batch
    ),
    max_size=40,
)
refusals = st.lists(
    st.tuples(
        st.sampled_from(["S1", "S2"]),
        st.sampled_from([e.value for e in EventType]),
        st.integers(0, 3),
        st.sampled_from(["open", "open", "landed"]),
        st.integers(0, 2),
    ),
    max_size=6,
)


@pytest.fixture
def engine(db_url: str) -> Any:
    made = upgraded_engine(db_url)
    reference(made, REFERENCE)
    return made


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=events, refusals=refusals)
def test_data_readiness_equals_naive_recomputation(
    engine: Any, events: list[tuple[Any, ...]], refusals: list[tuple[Any, ...]]
) -> None:
    wipe(engine)
    config = load_settings()
    landed: list[tuple[EventType, dict[str, Any]]] = []
    refused_rows: list[dict[str, Any]] = []
    for batch in range(3):
        for event_type, supplier, day, minute, length, lag, optional, b in events:
            if b != batch:
                continue
            local = datetime.combine(MONDAY + timedelta(days=day), datetime.min.time())
            end = (local.replace(tzinfo=ZONES[supplier]) + timedelta(minutes=minute)).astimezone(
                UTC
            )
            row = event_row(event_type, supplier, end, length, lag, optional)
            land(engine, event_type, [row])
            landed.append((event_type, row))
        mine = [
            refused(s, t, MONDAY + timedelta(days=d), status)
            for s, t, d, status, b in refusals
            if b == batch
        ]
        if mine:
            quarantine_rows(engine, mine)
            refused_rows += mine
        refresh(engine, config, ["data_readiness"])  # between batches: later ones are late
    got = sorted(
        (
            tuple(round(v, 9) if isinstance(v, float) else v for v in (r[c] for c in COLUMNS))
            for r in view_rows(engine, "data_readiness", limit=10_000)
        ),
        key=repr,
    )
    assert got == naive(landed, refused_rows)
    before = table_rows(engine, "data_readiness")
    assert_full_equals_incremental(engine, config)
    assert table_rows(engine, "data_readiness") == before
