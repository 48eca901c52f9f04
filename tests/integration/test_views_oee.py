"""oee_daily from hand-computed machine states and production reports, on SQLite and
PostgreSQL: availability, effectiveness, quality ratio and OEE of a line-day, each
NULL with its reason when its inputs are missing, the day clipped at local midnight
(also on a 23-hour day of daylight saving time), a late event re-touching its day;
then, by hypothesis, the view against a naive Python recomputation from the rows
landed, and the incremental refresh after random batches and late events against
`--full`."""

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipelines.views.keys import view_touched
from pipelines.views.oee import oee_day_end
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
DAY = {
    name: MONDAY + timedelta(days=i) for i, name in enumerate(["mon", "tue", "wed", "thu", "fri"])
}
SITE = {"S1": "P1", "S2": "P2", "S3": "P3"}
ZONE = {"P1": "Asia/Seoul", "P2": "Asia/Seoul", "P3": "Europe/Berlin"}
REFERENCE = {
    "organisations": [
        {"org_id": "B01", "name": "Buyer", "role": "buyer"},
        *[
            {"org_id": s, "name": f"Supplier {s}", "role": "supplier", "sponsor_id": "B01"}
            for s in SITE
        ],
    ],
    "sites": [{"site_id": p, "supplier_id": s, "timezone": ZONE[p]} for s, p in SITE.items()],
    "lines": [
        {"line_id": "L1", "site_id": "P1", "supplier_id": "S1", "machines": ["M1", "M2"]},
        {"line_id": "L2", "site_id": "P1", "supplier_id": "S1", "machines": ["M3"]},
        {"line_id": "L1", "site_id": "P2", "supplier_id": "S2", "machines": ["M1"]},
        {"line_id": "L1", "site_id": "P3", "supplier_id": "S3", "machines": ["M1"]},
    ],
    "parts": [{"part_number": p, "supplier_id": s} for s in SITE for p in ("X", "Y")],
    "cycle_times": [
        # 12 s per X on S1's L1; 2 s per Y there; nothing for Y on L2; S2: X, 6 s
        {
            "site_id": "P1",
            "line_id": "L1",
            "part_number": "X",
            "supplier_id": "S1",
            "ideal_cycle_seconds": 12,
        },
        {
            "site_id": "P1",
            "line_id": "L1",
            "part_number": "Y",
            "supplier_id": "S1",
            "ideal_cycle_seconds": 2,
        },
        {
            "site_id": "P1",
            "line_id": "L2",
            "part_number": "X",
            "supplier_id": "S1",
            "ideal_cycle_seconds": 10,
        },
        {
            "site_id": "P2",
            "line_id": "L1",
            "part_number": "X",
            "supplier_id": "S2",
            "ideal_cycle_seconds": 6,
        },
    ],
}
CYCLE = {
    (c["supplier_id"], c["site_id"], c["line_id"], c["part_number"]): c["ideal_cycle_seconds"]
    for c in REFERENCE["cycle_times"]
}


def state(
    when: datetime, machine: str, name: str, *, line: str = "L1", supplier: str = "S1"
) -> dict[str, Any]:
    return {
        "event_time": when,
        "supplier_id": supplier,
        "site_id": SITE[supplier],
        "line_id": line,
        "machine_id": machine,
        "state": name,
        "reason_code": None,
    }


def report(
    end: datetime,
    good: int,
    scrap: int,
    *,
    part: str = "X",
    line: str = "L1",
    supplier: str = "S1",
) -> dict[str, Any]:
    return {
        "event_time": end,
        "supplier_id": supplier,
        "site_id": SITE[supplier],
        "line_id": line,
        "work_order_id": "WO1",
        "part_number": part,
        "lot_id": "LOT1",
        "quantity_good": good,
        "quantity_scrap": scrap,
        "planned_quantity": None,
        "start_time": end - timedelta(hours=1),
        "end_time": end,
        "unit": "H87",
    }


@pytest.fixture
def engine(db_url: str) -> Engine:
    made = upgraded_engine(db_url)
    reference(made, REFERENCE)
    return made


def rows_by_key(engine: Engine) -> dict[tuple[str, str, date], dict[str, Any]]:
    return {(r["supplier_id"], r["line_id"], r["day"]): r for r in view_rows(engine, "oee_daily")}


def test_oee_daily_by_hand(engine: Engine) -> None:
    settings_ = load_settings()
    mon, tue, wed, thu, fri = DAY.values()
    land(
        engine,
        EventType.MACHINE_STATUS,
        [
            # Monday, L1. M1: RUNNING 06-10, DOWN 10-10:30, RUNNING 10:30-14, IDLE 14-24:
            # APT 7.5 h, PBT 8 h. M2: SETUP 05-06, RUNNING 06-12, MAINTENANCE 12-13,
            # RUNNING 13-14, IDLE 14-24: APT 7 h, PBT 7 h (planned stops are outside).
            state(at(mon, 6), "M1", "RUNNING"),
            state(at(mon, 10), "M1", "DOWN"),
            state(at(mon, 10.5), "M1", "RUNNING"),
            state(at(mon, 14), "M1", "IDLE"),
            state(at(mon, 5), "M2", "SETUP"),
            state(at(mon, 6), "M2", "RUNNING"),
            state(at(mon, 12), "M2", "MAINTENANCE"),
            state(at(mon, 13), "M2", "RUNNING"),
            state(at(mon, 14), "M2", "IDLE"),
            # Tuesday: M1 RUNNING from 22:00 local, IDLE at 01:00 local Wednesday. The
            # interval is clipped at midnight: Tuesday APT = PBT = 2 h. Wednesday starts
            # at its first event (IDLE): no busy time at all.
            state(at(tue, 22), "M1", "RUNNING"),
            state(at(wed, 1), "M1", "IDLE"),
            # Thursday: RUNNING from 08:00 to midnight (16 h). Friday: RUNNING 08-09.
            state(at(thu, 8), "M1", "RUNNING"),
            state(at(fri, 8), "M1", "RUNNING"),
            state(at(fri, 9), "M1", "IDLE"),
        ],
    )
    land(
        engine,
        EventType.PRODUCTION,
        [
            # Monday L1: 900 + 20 and 800 + 30 of X at 12 s each: 1750 produced, 1700 good
            report(at(mon, 10), 900, 20),
            report(at(mon, 14), 800, 30),
            # Monday L2 (no machine states): Y has no ideal cycle time on L2
            report(at(mon, 12), 90, 10, part="Y", line="L2"),
            report(at(mon, 13), 50, 0, part="X", line="L2"),
            # Wednesday L1: made while no machine ran; Thursday: reports of nothing
            report(at(wed, 12), 100, 0),
            report(at(thu, 12), 0, 0),
            # Friday: 400 X in one hour at 12 s each is 4800 s of work in 3600 s
            report(at(fri, 9), 400, 0),
        ],
    )
    refresh(engine, settings_)
    rows = rows_by_key(engine)

    m = rows["S1", "L1", mon]
    assert m["machines"] == 2
    assert m["apt_hours"] == pytest.approx(7.25)  # (7.5 + 7) / 2
    assert m["pbt_hours"] == pytest.approx(7.5)  # (8 + 7) / 2
    assert m["availability"] == pytest.approx(7.25 / 7.5)
    assert (m["produced"], m["good"]) == (1750, 1700)
    assert m["effectiveness"] == pytest.approx(1750 * 12 / (7.25 * 3600))  # 0.8046
    assert m["quality_ratio"] == pytest.approx(1700 / 1750)
    assert m["oee"] == pytest.approx(7.25 / 7.5 * 1750 * 12 / (7.25 * 3600) * 1700 / 1750)
    assert (
        m["availability_null_reason"],
        m["effectiveness_null_reason"],
        m["quality_null_reason"],
        m["effectiveness_note"],
    ) == (None, None, None, None)

    l2 = rows["S1", "L2", mon]
    assert (l2["machines"], l2["apt_hours"], l2["availability"]) == (0, None, None)
    assert l2["availability_null_reason"] == "no machine states reported"
    assert l2["effectiveness"] is None
    assert l2["effectiveness_null_reason"] == "no ideal cycle time for part Y"
    assert (l2["produced"], l2["good"]) == (150, 140)
    assert l2["quality_ratio"] == pytest.approx(140 / 150)
    assert l2["oee"] is None

    t = rows["S1", "L1", tue]
    assert (t["machines"], t["apt_hours"], t["pbt_hours"], t["availability"]) == (1, 2.0, 2.0, 1.0)
    assert (t["produced"], t["effectiveness"], t["quality_ratio"], t["oee"]) == (None,) * 4
    assert t["effectiveness_null_reason"] == t["quality_null_reason"] == "no production reported"

    w = rows["S1", "L1", wed]
    assert (w["apt_hours"], w["pbt_hours"], w["availability"]) == (0.0, 0.0, None)
    assert w["availability_null_reason"] == "no planned busy time (no machine RUNNING or DOWN)"
    assert w["effectiveness"] is None
    assert w["effectiveness_null_reason"] == "no actual production time (no machine RUNNING)"
    assert w["quality_ratio"] == 1.0

    th = rows["S1", "L1", thu]
    assert (th["apt_hours"], th["availability"], th["produced"]) == (16.0, 1.0, 0)
    assert th["effectiveness"] == 0.0
    assert (th["quality_ratio"], th["quality_null_reason"]) == (
        None,
        "nothing produced (good + scrap = 0)",
    )
    assert th["oee"] is None

    f = rows["S1", "L1", fri]
    assert f["effectiveness"] == pytest.approx(4800 / 3600)
    assert f["effectiveness_note"] == "above 1: the ideal cycle time is slower than the line ran"
    assert f["oee"] == pytest.approx(4 / 3)

    # A late DOWN of M2 at 08:00 Monday: M2 RUNNING 06-08, DOWN 08-12, MAINTENANCE
    # 12-13, RUNNING 13-14: APT 3 h, PBT 7 h; the line: APT 5.25 h, PBT 7.5 h.
    land(engine, EventType.MACHINE_STATUS, [state(at(mon, 8), "M2", "DOWN")])
    with engine.connect() as conn:
        touched = select(view_touched.c.day).where(view_touched.c.view == "oee_daily")
        assert conn.execute(touched).scalars().all() == [mon]
    done = {d.view: d for d in refresh(engine, settings_)}
    assert (done["oee_daily"].keys, done["oee_daily"].rows) == (1, 2)  # Monday's L1 and L2
    m = rows_by_key(engine)["S1", "L1", mon]
    assert (m["apt_hours"], m["pbt_hours"]) == (pytest.approx(5.25), pytest.approx(7.5))
    assert m["availability"] == pytest.approx(0.7)
    assert m["effectiveness"] == pytest.approx(1750 * 12 / (5.25 * 3600))
    with engine.connect() as conn:
        assert conn.execute(select(oee_day_end)).first() is None, "scratch rows left"
    assert_full_equals_incremental(engine, settings_)


def test_states_at_the_same_instant_count_as_received(engine: Engine) -> None:
    """A shift's IDLE and the next shift's RUNNING sent at 14:00: the one received last
    (RUNNING) holds, whatever the event ids; M1 then runs 06-22, 16 hours."""
    mon = DAY["mon"]
    land(
        engine,
        EventType.MACHINE_STATUS,
        [
            {**state(at(mon, 6), "M1", "RUNNING", supplier="S2"), "event_id": str(uuid.uuid4())},
            {
                **state(at(mon, 14), "M1", "IDLE", supplier="S2"),
                "event_id": "f" * 8 + "-0000-4000-8000-" + "0" * 12,
            },
            {
                **state(at(mon, 14), "M1", "RUNNING", supplier="S2"),
                "event_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12,
            },
            {**state(at(mon, 22), "M1", "IDLE", supplier="S2"), "event_id": str(uuid.uuid4())},
        ],
    )
    refresh(engine, load_settings())
    row = rows_by_key(engine)["S2", "L1", mon]
    assert (row["apt_hours"], row["pbt_hours"], row["availability"]) == (16.0, 16.0, 1.0)


def test_a_day_of_daylight_saving_time_has_23_hours(engine: Engine) -> None:
    """Berlin moves its clocks forward on Sunday 2026-03-29: the day runs from 23:00 UTC
    on the 28th to 22:00 UTC on the 29th. A machine RUNNING from local midnight counts
    23 hours; one RUNNING from 22:00 local on the 28th is clipped at its midnight (2 h)."""
    saturday, sunday = date(2026, 3, 28), date(2026, 3, 29)
    land(
        engine,
        EventType.MACHINE_STATUS,
        [
            state(at(saturday, 22, 1), "M1", "RUNNING", supplier="S3"),
            state(at(sunday, 0, 1), "M1", "RUNNING", supplier="S3"),
        ],
    )
    refresh(engine, load_settings())
    rows = rows_by_key(engine)
    assert rows["S3", "L1", saturday]["apt_hours"] == pytest.approx(2.0)
    assert rows["S3", "L1", sunday]["apt_hours"] == pytest.approx(23.0)
    assert rows["S3", "L1", sunday]["availability"] == 1.0


def test_a_simulated_week_stays_below_an_effectiveness_of_1(db_url: str) -> None:
    """The simulator's ideal cycle times (reference data) are rated 15 % above the fastest
    its lines run, so every line-day of a supplier that sends machine states (data tier
    intermediate 1 or 2) has an OEE, with effectiveness below 1."""
    from connectors.simulator.events import generate
    from connectors.simulator.world import DataTier, build_world

    made = upgraded_engine(db_url)
    world = build_world(3, 3, MONDAY, 5)
    reference(made, world.reference())
    events: dict[EventType, list[dict[str, Any]]] = defaultdict(list)
    for event in generate(world, seed=3, bad_rate=0.0):
        if event.event_type in ("machine_status", "production"):
            events[EventType(event.event_type)].append(event.record)
    for kind, records in events.items():
        land(made, kind, records)
    refresh(made, load_settings())
    rows = view_rows(made, "oee_daily")
    assert len(rows) == sum(len(s.lines) for s in world.suppliers) * 5  # a weekday each
    # Basic suppliers send no machine states (their data tier): no OEE, and the reason.
    basic = {s.supplier_id for s in world.suppliers if s.tier is DataTier.BASIC}
    assert basic and len(basic) < len(world.suppliers)
    for row in rows:
        if row["supplier_id"] in basic:
            assert (row["oee"], row["availability"]) == (None, None), row
            assert row["availability_null_reason"], row
            continue
        assert row["oee"] is not None, row
        assert 0.5 < row["availability"] <= 1 and 0.9 < row["quality_ratio"] <= 1, row
        # Before go-live a line runs at about 1 / ((1 + uplift) x 1.15) of its ideal rate:
        # syringes (uplift up to +103 %) near 0.43.
        assert 0.35 < row["effectiveness"] < 1, row


# -- property tests ------------------------------------------------------------------

STATES = st.sampled_from(["RUNNING", "RUNNING", "IDLE", "DOWN", "SETUP", "MAINTENANCE"])
LINES = st.sampled_from(
    [("S1", "L1", "M1"), ("S1", "L1", "M2"), ("S1", "L2", "M3"), ("S2", "L1", "M1")]
)


def event_id(draw: st.DrawFn) -> str:
    return str(uuid.UUID(int=draw(st.integers(0, 2**64)), version=4))


@st.composite
def states(draw: st.DrawFn) -> tuple[EventType, dict[str, Any]]:
    supplier, line, machine = draw(LINES)
    day = MONDAY + timedelta(days=draw(st.integers(0, 2)))
    when = at(day, draw(st.integers(0, 24 * 12 - 1)) / 12)  # any 5 minutes, local
    made = state(when, machine, draw(STATES), line=line, supplier=supplier)
    return EventType.MACHINE_STATUS, {**made, "event_id": event_id(draw)}


@st.composite
def reports(draw: st.DrawFn) -> tuple[EventType, dict[str, Any]]:
    supplier, line, _ = draw(LINES)
    day = MONDAY + timedelta(days=draw(st.integers(0, 2)))
    when = at(day, draw(st.integers(1, 24 * 4)) / 4)
    made = report(
        when,
        draw(st.integers(0, 500)),
        draw(st.integers(0, 30)),
        part=draw(st.sampled_from(["X", "Y"])),
        line=line,
        supplier=supplier,
    )
    return EventType.PRODUCTION, {**made, "event_id": event_id(draw)}


EVENTS = st.one_of(states(), reports())


def local_day(when: datetime, supplier: str) -> date:
    return when.astimezone(ZoneInfo(ZONE[SITE[supplier]])).date()


def naive_oee(events: list[tuple[EventType, dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """oee_daily recomputed from the events, one line-day at a time, in plain Python."""
    by_machine: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    output: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for kind, e in events:
        key = (e["supplier_id"], e["site_id"], e["line_id"])
        if kind is EventType.MACHINE_STATUS:
            day = local_day(e["event_time"], e["supplier_id"])
            by_machine[(*key, day, e["machine_id"])].append(e)
        else:
            output[(*key, local_day(e["end_time"], e["supplier_id"]))].append(e)
    times: dict[tuple[Any, ...], list[tuple[float, float]]] = defaultdict(list)
    for (supplier, site, line, day, _), group in by_machine.items():
        # the same instant: as received (the Kafka timestamp, partition, offset)
        group.sort(
            key=lambda e: (
                e["event_time"],
                e["kafka_timestamp"],
                e["kafka_partition"],
                e["kafka_offset"],
                e["event_id"],
            )
        )
        midnight = datetime.combine(day + timedelta(days=1), time(), ZoneInfo(ZONE[site]))
        ends = [e["event_time"] for e in group[1:]] + [midnight.astimezone(UTC)]
        running = busy = 0.0
        for e, end in zip(group, ends, strict=True):
            seconds = max((end - e["event_time"]).total_seconds(), 0.0)
            running += seconds if e["state"] == "RUNNING" else 0.0
            busy += seconds if e["state"] in ("RUNNING", "DOWN") else 0.0
        times[(supplier, site, line, day)].append((running, busy))
    rows = []
    for key in set(times) | set(output):
        supplier, site, line, _ = key
        machine_times = times.get(key, [])
        apt = sum(r for r, _ in machine_times) / len(machine_times) if machine_times else None
        pbt = sum(b for _, b in machine_times) / len(machine_times) if machine_times else None
        availability = apt / pbt if pbt else None
        a_reason = (
            "no machine states reported"
            if apt is None
            else "no planned busy time (no machine RUNNING or DOWN)"
            if not pbt
            else None
        )
        reports_ = output.get(key, [])
        produced = (
            sum(r["quantity_good"] + r["quantity_scrap"] for r in reports_) if reports_ else None
        )
        good = sum(r["quantity_good"] for r in reports_) if reports_ else None
        lacking = sorted(
            r["part_number"]
            for r in reports_
            if (supplier, site, line, r["part_number"]) not in CYCLE
            and r["quantity_good"] + r["quantity_scrap"] > 0
        )
        ideal = sum(
            (r["quantity_good"] + r["quantity_scrap"])
            * CYCLE.get((supplier, site, line, r["part_number"]), 0)
            for r in reports_
        )
        if produced is None:
            effectiveness, e_reason = None, "no production reported"
        elif lacking:
            effectiveness, e_reason = None, f"no ideal cycle time for part {lacking[0]}"
        elif apt is None:
            effectiveness, e_reason = None, "no machine states reported"
        elif not apt:
            effectiveness, e_reason = None, "no actual production time (no machine RUNNING)"
        else:
            effectiveness, e_reason = ideal / apt, None
        if produced is None:
            quality_ratio, q_reason = None, "no production reported"
        elif not produced:
            quality_ratio, q_reason = None, "nothing produced (good + scrap = 0)"
        else:
            quality_ratio, q_reason = good / produced, None
        factors = (availability, effectiveness, quality_ratio)
        oee = None if None in factors else availability * effectiveness * quality_ratio
        note = (
            "above 1: the ideal cycle time is slower than the line ran"
            if effectiveness is not None and effectiveness > 1
            else None
        )
        rows.append(
            (
                *key,
                len(machine_times),
                None if apt is None else apt / 3600,
                None if pbt is None else pbt / 3600,
                availability,
                a_reason,
                produced,
                good,
                effectiveness,
                e_reason,
                quality_ratio,
                q_reason,
                oee,
                note,
            )
        )
    return rows


def assert_rows_match(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Same rows (in any order; the first four columns are the key), floats to 1e-9."""
    assert len(actual) == len(expected)
    for got, want in zip(sorted(actual, key=repr), sorted(expected, key=repr), strict=True):
        assert got[:4] == want[:4]
        for a, b in zip(got, want, strict=True):
            if isinstance(b, float) and a is not None:
                assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (got, want)
            else:
                assert a == b, (got, want)


def unique(
    events: list[tuple[EventType, dict[str, Any]]], seen: set[str]
) -> list[tuple[EventType, dict[str, Any]]]:
    """`events` without event ids already `seen` (landing keeps an event once)."""
    out = []
    for kind, e in events:
        if e["event_id"] not in seen:
            seen.add(e["event_id"])
            out.append((kind, e))
    return out


def land_all(
    engine: Engine, events: list[tuple[EventType, dict[str, Any]]]
) -> list[tuple[EventType, dict[str, Any]]]:
    """Land `events`; returns the rows landed (with their Kafka coordinates)."""
    landed = []
    for kind in (EventType.MACHINE_STATUS, EventType.PRODUCTION):
        rows = land(engine, kind, [e for k, e in events if k is kind])
        landed.extend((kind, row) for row in rows)
    return landed


PROPERTY = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(events=st.lists(EVENTS, min_size=15, max_size=50))
def test_oee_equals_a_naive_recomputation(
    engine: Engine, events: list[tuple[EventType, dict[str, Any]]]
) -> None:
    wipe(engine)
    landed = land_all(engine, unique(events, set()))
    refresh(engine, load_settings(), full=True)
    assert_rows_match(table_rows(engine, "oee_daily"), naive_oee(landed))


@PROPERTY
@given(
    batches=st.lists(st.lists(EVENTS, min_size=3, max_size=12), min_size=2, max_size=5),
    refresh_after=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_incremental_after_random_batches_equals_full(
    engine: Engine,
    batches: list[list[tuple[EventType, dict[str, Any]]]],
    refresh_after: list[bool],
) -> None:
    """Batches of any days (later ones carry late events for days already refreshed),
    with or without a refresh between them; the view then equals a full rebuild."""
    wipe(engine)
    settings_: Settings = load_settings()
    seen: set[str] = set()
    for batch, refresh_now in zip(batches, refresh_after, strict=False):
        land_all(engine, unique(batch, seen))
        if refresh_now:
            refresh(engine, settings_)
    assert_full_equals_incremental(engine, settings_)
