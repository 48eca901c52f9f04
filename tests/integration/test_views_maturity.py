"""supplier_maturity on SQLite and PostgreSQL, from hand-made programmes whose levels and
evidence are worked out below: every criterion met and not met, the next step's text,
the 8-week lookback (a late hold in week 2 lifts week 7 to advanced), and `--full`
equal to the incremental refresh, there and after the programmes land in random batches."""

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.views.maturity import assess, lookback
from pipelines.views.read import view_rows
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.support import upgraded_engine
from tests.views_support import assert_full_equals_incremental, at, land, reference, wipe

pytestmark = pytest.mark.integration

W0 = date(2026, 1, 5)  # a Monday; the A programmes run 8 weeks, W0 to W7
WEEKS = [W0 + timedelta(weeks=k) for k in range(8)]
SUPPLIERS = ["N1", "B1", "I1", "A1", "A2", "A3", "A4", "A5"]
REFERENCE = {
    "organisations": [{"org_id": "B01", "name": "Buyer", "role": "buyer"}]
    + [
        {"org_id": s, "name": f"Supplier {s}", "role": "supplier", "sponsor_id": "B01"}
        for s in SUPPLIERS
    ],
    "sites": [{"site_id": f"P-{s}", "supplier_id": s} for s in SUPPLIERS],
    "lines": [
        {"line_id": line, "site_id": f"P-{s}", "supplier_id": s}
        for s in SUPPLIERS
        for line in ("L1", "L2")
    ],
    "parts": [{"part_number": "X", "supplier_id": s} for s in SUPPLIERS],
}
# 30 measurements: mean 10.0167, stddev 0.14875, so 10.6 lies outside mean +- 3 stddev (an
# out-of-control signal) while Cpk = min(11 - mean, mean - 9) / (3 stddev) = 2.2 >= 1.33.
CAPABLE = [9.9] * 15 + [10.1] * 14 + [10.6]
# Wide: mean 10, stddev 0.6107, Cpk 0.546, no point outside 3 stddev.
WIDE = [9.4] * 15 + [10.6] * 15


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class Programme:
    """Rows of each event type for one supplier, sent with a Kafka lag of `lag_s`."""

    def __init__(self, supplier: str, lag_s: float = 5.0) -> None:
        self.s, self.lag_s = supplier, lag_s
        self.rows: dict[EventType, list[dict[str, Any]]] = {e: [] for e in EventType}

    def _add(self, event_type: EventType, when: datetime, **fields: Any) -> None:
        self.rows[event_type].append(
            {
                "event_time": when,
                "supplier_id": self.s,
                "site_id": f"P-{self.s}",
                "kafka_timestamp": ms(when) + int(self.lag_s * 1000),
                **fields,
            }
        )

    def run(
        self, day: date, start: float, end: float, lot: str, line: str = "L1", recorded: float = 0
    ) -> None:
        self._add(
            EventType.PRODUCTION,
            at(day, end + recorded),
            line_id=line,
            work_order_id="WO",
            part_number="X",
            lot_id=lot,
            quantity_good=10,
            quantity_scrap=0,
            planned_quantity=10,
            start_time=at(day, start),
            end_time=at(day, end),
            unit="H87",
            buyer_id="B01",
        )

    def state(
        self, day: date, hour: float, state: str, reason: str | None = None, line: str = "L1"
    ) -> None:
        self._add(
            EventType.MACHINE_STATUS,
            at(day, hour),
            line_id=line,
            machine_id="M1",
            state=state,
            reason_code=reason,
        )

    def inspection(
        self, day: date, hour: float, lot: str, values: list[float] | None = None, line: str = "L1"
    ) -> None:
        measurements = [
            {"characteristic": "bore", "value": v, "lsl": 9.0, "usl": 11.0, "unit": "MMT"}
            for v in values or []
        ]
        self._add(
            EventType.QUALITY,
            at(day, hour),
            line_id=line,
            part_number="X",
            lot_id=lot,
            inspection_stage="IN_PROCESS",
            inspected_quantity=30,
            defect_quantity=0,
            defects=[],
            measurements=measurements,
            result="PASS",
        )

    def energy(self, day: date, start: float, end: float) -> None:
        self._add(
            EventType.ENERGY,
            at(day, end),
            meter_id="EM1",
            line_id="L1",
            energy_kwh=40.0,
            period_start=at(day, start),
            period_end=at(day, end),
            energy_source="GRID",
        )

    def shipment(self, day: date) -> None:
        self._add(
            EventType.SHIPMENT,
            at(day, 16),
            buyer_id="B01",
            shipment_id="SH",
            po_number="PO",
            part_number="X",
            lot_ids=[],
            quantity=1.0,
            unit="H87",
            promised_date=day,
            shipped_at=at(day, 16),
            delivered_at=None,
        )

    def land(self, engine: Any) -> None:
        for event_type, rows in self.rows.items():
            land(engine, event_type, rows)


def advanced_week(
    p: Programme,
    day: date,
    *,
    values: list[float] = CAPABLE,
    hold_at: float | None = 10 + 1 / 6,
    second_energy: bool = True,
) -> None:
    """One Monday of an A programme: runs 08-09 and 09-10 (window hours 8..9), a machine
    state at 08:05, energy for both hours, an inspection of the lot at 10:00 with 30
    measurements, and the hold answering its out-of-control point at `hold_at` (10:10)."""
    lot = f"LOT-{day:%m%d}"
    p.run(day, 8, 9, lot)
    p.run(day, 9, 10, lot)
    p.state(day, 8 + 1 / 12, "RUNNING")
    p.energy(day, 8, 9)
    if second_energy:
        p.energy(day, 9, 10)
    p.inspection(day, 10, lot, values)
    if hold_at is not None:
        p.state(day, hold_at, "DOWN", "HOLD_SPC")
    else:
        p.state(day, 10 + 1 / 6, "IDLE")  # the end of the shift is no reaction


def programmes() -> list[Programme]:
    n1 = Programme("N1")
    # Recorded 3 h after the runs' end, but one: 1 of 4 timely (25 %).
    for k, recorded in enumerate((0.5, 3, 3, 3)):
        n1.run(W0, 8 + k, 9 + k, "LOT-N", recorded=recorded)
    n1.shipment(WEEKS[1])  # a week with a shipment and no production
    b1 = Programme("B1")
    for k in range(20):  # 20 half-hour runs, one without its lot id: 95 % carry one
        b1.run(W0, 8 + k / 2, 8.5 + k / 2, "" if k == 7 else "LOT-B")
    i1 = Programme("I1")
    for d in range(5):  # 2 lines x 5 days: 10 producing line-days
        day = W0 + timedelta(days=d)
        for line in ("L1", "L2"):
            lot = f"LOT-{line}-{d}"
            i1.run(day, 8, 9, lot, line=line)
            if not (line == "L2" and d == 4):  # states on 9 of the 10 line-days
                i1.state(day, 8, "RUNNING", line=line)
            # 10 inspections, one of a lot never produced: 9 linked (90 %), no measurements
            i1.inspection(day, 9.5, "LOT-UNKNOWN" if (line, d) == ("L1", 0) else lot, line=line)
        if d < 2:  # energy on 2 of the 5 producing days
            i1.energy(day, 8, 9)
    made = [n1, b1, i1]
    for supplier in ("A1", "A2", "A3", "A4", "A5"):
        p = Programme(supplier, lag_s=120.0 if supplier == "A3" else 5.0)
        for k, day in enumerate(WEEKS):
            if supplier == "A2" and k == 2:
                advanced_week(p, day, hold_at=None)  # no hold
            elif supplier == "A2" and k == 5:
                advanced_week(p, day, hold_at=18.5)  # 8.5 h after: too late
            elif supplier == "A4" and k == 3:
                advanced_week(p, day, values=WIDE)
            elif supplier == "A5" and k == 6:
                advanced_week(p, day, second_energy=False)  # one energy period missing
            else:
                advanced_week(p, day)
        made.append(p)
    return made


def levels(engine: Any) -> dict[tuple[str, date], dict[str, Any]]:
    return {
        (r["supplier_id"], r["week"]): r
        for r in view_rows(engine, "supplier_maturity", limit=10_000)
    }


def evidence(row: dict[str, Any]) -> dict[str, tuple[bool, Any]]:
    return {e["criterion"]: (e["met"], e["value"]) for e in row["evidence"]}


I2, I1, ADV = "intermediate 2", "intermediate 1", "advanced"


def test_supplier_maturity_by_hand(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    config = load_settings()
    reference(engine, REFERENCE)
    for p in programmes():
        p.land(engine)
    refresh(engine, config)
    rows = levels(engine)
    assert len(rows) == 2 + 1 + 1 + 5 * 8

    n1 = rows[("N1", W0)]
    assert (n1["level"], n1["level_rank"]) == ("none", 0)
    assert evidence(n1)["timely"] == (False, 0.25)
    assert evidence(n1)["lot_ids"] == (True, 1.0)
    assert (
        n1["next_step"]
        == "To reach basic: report each production run as it ends, within 1 h (now 25.0 %)."
    )
    assert (
        "basic: reports recorded within 1 h of the run's end: 25.0 % (>= 90.0 %) NOT met"
        in (n1["evidence_text"])
    )
    shipped_only = rows[("N1", WEEKS[1])]
    assert shipped_only["level"] == "none"
    assert evidence(shipped_only)["production_reports"] == (False, 0)
    assert shipped_only["next_step"] == (
        "To reach basic: send production reports from the MES; put the lot id on every "
        "production report (now none measured); report each production run as it ends, "
        "within 1 h (now none measured)."
    )

    b1 = rows[("B1", W0)]
    assert (b1["level"], b1["level_rank"], b1["criteria_met"]) == ("basic", 1, 4)  # + fresh
    assert evidence(b1)["lot_ids"] == (True, 0.95)  # at the threshold: met
    assert evidence(b1)["machine_states"] == (False, 0.0)
    assert evidence(b1)["inspections_linked"] == (False, None)
    assert b1["next_step"] == (
        "To reach intermediate 1: send the machine states of every producing line, every "
        "day (now 0.0 %); send quality inspections that name the lot ids of the produced "
        "lots (now none measured)."
    )

    i1 = rows[("I1", W0)]
    assert i1["level"] == I1
    found = evidence(i1)
    assert found["machine_states"] == (True, 0.9)
    assert found["inspections_linked"] == (True, 0.9)
    assert found["spec_measurements"] == (False, 0)
    assert found["energy"] == (False, 0.4)
    assert found["control"] == (False, None)
    assert i1["next_step"] == (
        "To reach intermediate 2: send measurements with both spec limits, enough a week "
        "for a Cpk (now 0); meter energy and send the readings every producing day (now "
        "40.0 %); put the line on hold (DOWN, SETUP or MAINTENANCE) within 8 h of an "
        "out-of-control measurement (now none measured)."
    )

    # A1: intermediate 2 from its first week, advanced once it has 8 weeks of it.
    assert [rows[("A1", w)]["level"] for w in WEEKS] == [I2] * 7 + [ADV]
    first, last = rows[("A1", W0)], rows[("A1", WEEKS[7])]
    found = evidence(first)
    assert found["spec_measurements"] == (True, 1)
    assert (found["energy"], found["control"]) == ((True, 1.0), (True, 1.0))
    assert (found["weeks_of_data"], found["capable"]) == ((False, 1), (False, 1))
    assert (found["complete"], found["fresh"]) == ((True, 1.0), (True, 5.0))
    assert first["next_step"] == (
        "To reach advanced: keep sending for 8 weeks in a row (now 1 week); bring every "
        "measured characteristic to Cpk >= 1.33 and keep it there 8 weeks (now 1 week)."
    )
    assert all(e["met"] for e in last["evidence"]) and last["criteria_met"] == 12
    assert evidence(last)["weeks_of_data"] == (True, 8)
    assert evidence(last)["capable"] == (True, 8)
    assert last["level_rank"] == 4
    assert last["next_step"].startswith("Advanced, the highest level")

    # A2: control shares over the window: weeks 0-1 2/2; week 2 no hold, 2/3; week 3
    # 3/4; week 4 4/5 = 80 % (met); week 5's hold 8.5 h late, 4/6; then 5/7 and 6/8.
    assert [rows[("A2", w)]["level"] for w in WEEKS] == [I2, I2, I1, I1, I2, I1, I1, I1]
    a2 = rows[("A2", WEEKS[7])]
    assert evidence(a2)["control"] == (False, 0.75)
    assert a2["next_step"] == (
        "To reach intermediate 2: put the line on hold (DOWN, SETUP or MAINTENANCE) within "
        "8 h of an out-of-control measurement (now 75.0 %)."
    )
    # A3: sent with a 120 s lag: never fresh.
    a3 = rows[("A3", WEEKS[7])]
    assert (a3["level"], evidence(a3)["fresh"]) == (I2, (False, 120.0))
    assert a3["next_step"] == (
        "To reach advanced: send events as they happen, not in batches (now a median lag "
        "of 120.0 s)."
    )
    # A4: week 3 not capable (Cpk 0.55): the streak at week 7 is weeks 4-7.
    assert evidence(rows[("A4", WEEKS[3])])["capable"] == (False, 0)
    assert evidence(rows[("A4", WEEKS[7])])["capable"] == (False, 4)
    assert rows[("A4", WEEKS[7])]["level"] == I2
    # A5: 47 of 48 expected periods (6 a week: production 2, energy 2, quality 1, states 1).
    a5 = rows[("A5", WEEKS[7])]
    assert a5["level"] == I2
    assert evidence(a5)["complete"] == (False, pytest.approx(47 / 48))
    assert (
        a5["next_step"]
        == "To reach advanced: send every expected period of every feed (now 97.9 %)."
    )

    # The hold of week 2 arrives late: weeks 2..7 of A2 recompute, and week 7 is advanced.
    late = Programme("A2")
    late.state(WEEKS[2], 10.5, "SETUP")
    late.land(engine)
    done = {r.view: r for r in refresh(engine, config)}
    assert done["supplier_maturity"].rows == 7  # weeks 1..7 of A2 (9 in range, 7 with data)
    rows = levels(engine)
    assert [rows[("A2", w)]["level"] for w in WEEKS] == [I2] * 7 + [ADV]
    assert evidence(rows[("A2", WEEKS[7])])["control"] == (True, 7 / 8)
    assert_full_equals_incremental(engine, config)


def test_a_touched_day_makes_its_week_and_the_next_7_stale() -> None:
    wednesday = W0 + timedelta(days=2)
    assert lookback(wednesday) == (W0, W0 + timedelta(weeks=7, days=6))
    # A Monday: a hold just after midnight answers the Sunday before, the week before's.
    assert lookback(W0) == (W0 - timedelta(weeks=1), W0 + timedelta(weeks=7, days=6))


@pytest.mark.parametrize(
    ("measured", "level"),
    [
        ({}, "none"),
        ({"production_reports": 3, "lot_share": 1.0, "timely_share": 0.9}, "basic"),
        (
            {
                "production_reports": 3,
                "lot_share": 1.0,
                "timely_share": 1.0,
                "machine_state_share": 1.0,
                "linked_share": 1.0,
                # intermediate 2 met, intermediate 1 not: the level stops at basic
            }
            | {"capability_characteristics": 1, "energy_share": 1.0, "control_share": 1.0}
            | {"linked_share": 0.5},
            "basic",
        ),
    ],
)
def test_a_level_needs_every_level_below(measured: dict[str, Any], level: str) -> None:
    assert assess(measured).level.value == level


@pytest.fixture
def engine(db_url: str) -> Any:
    made = upgraded_engine(db_url)
    reference(made, REFERENCE)
    return made


MATURITY_AND_INPUTS = ["data_readiness", "capability_weekly", "supplier_maturity"]
ALL_ROWS = [(p, e, i) for p in programmes() for e, rows in p.rows.items() for i in range(len(rows))]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.integers(0, 2), min_size=len(ALL_ROWS), max_size=len(ALL_ROWS)))
def test_incremental_refresh_after_random_batches_equals_full(
    engine: Any, batches: list[int]
) -> None:
    """The programmes landed in three random batches, refreshed after each (so later
    batches hold late events of weeks already computed), equal a full rebuild."""
    wipe(engine)
    config = load_settings()
    for batch in range(3):
        for event_type in EventType:
            rows = [
                p.rows[e][i]
                for (p, e, i), b in zip(ALL_ROWS, batches, strict=True)
                if b == batch and e is event_type
            ]
            land(engine, event_type, [dict(r) for r in rows])
        refresh(engine, config, MATURITY_AND_INPUTS)
    assert_full_equals_incremental(engine, config)
