"""lot_trace and lot_shipments from hand-computed rows, on SQLite and PostgreSQL: a lot made
on two lines, inspected (one failure), shipped to two buyers; a lot only shipped; a lot
made across local midnight; which buyers received lots that failed an inspection; late
inspections and a re-reported shipment recompute their lots from all their rows;
incremental equals `--full`, and equals a naive recomputation in Python."""

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.views.lots import FailedLotDelivery, buyers_of_failed_lots
from pipelines.views.refresh import refresh
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

MONDAY = date(2026, 1, 5)
REFERENCE = {
    "organisations": [
        {"org_id": "B01", "name": "Buyer One", "role": "buyer"},
        {"org_id": "B02", "name": "Buyer Two", "role": "buyer"},
        {"org_id": "S1", "name": "Supplier", "role": "supplier", "sponsor_id": "B01"},
        {"org_id": "S2", "name": "Other supplier", "role": "supplier", "sponsor_id": "B02"},
    ],
    "sites": [{"site_id": "P1", "supplier_id": s} for s in ("S1", "S2")],
    "lines": [
        {"line_id": line, "site_id": "P1", "supplier_id": s}
        for line in ("L1", "L2", "L3")
        for s in ("S1", "S2")
    ],
    "parts": [{"part_number": "X", "supplier_id": s} for s in ("S1", "S2")],
}


def day(n: int) -> date:
    return MONDAY + timedelta(days=n)


def made(
    lot: str,
    line: str,
    start: datetime,
    hours: float,
    good: float,
    scrap: float,
    supplier: str = "S1",
) -> dict[str, Any]:
    end = start + timedelta(hours=hours)
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": end,
        "supplier_id": supplier,
        "line_id": line,
        "work_order_id": "WO1",
        "part_number": "X",
        "lot_id": lot,
        "quantity_good": good,
        "quantity_scrap": scrap,
        "planned_quantity": None,
        "start_time": start,
        "end_time": end,
        "unit": "H87",
    }


def inspected(
    lot: str, when: datetime, result: str, defects: int, supplier: str = "S1", line: str = "L1"
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": when,
        "supplier_id": supplier,
        "line_id": line,
        "part_number": "X",
        "lot_id": lot,
        "inspection_stage": "FINAL",
        "inspected_quantity": 50,
        "defect_quantity": defects,
        "defects": [],
        "measurements": [],
        "result": result,
    }


def shipped(
    shipment_id: str,
    lots: list[str],
    when: datetime,
    buyer: str,
    quantity: float = 100.0,
    supplier: str = "S1",
    reported: datetime | None = None,
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": reported or when,
        "supplier_id": supplier,
        "buyer_id": buyer,
        "shipment_id": shipment_id,
        "po_number": f"PO-{buyer}",
        "part_number": "X",
        "lot_ids": lots,
        "quantity": quantity,
        "unit": "H87",
        "promised_date": when.date() + timedelta(days=2),
        "shipped_at": when,
        "delivered_at": None,
        "ordered_quantity": quantity,
    }


def utc(value: datetime | None) -> datetime | None:
    """A timestamp as read back (SQLite: naive UTC) as an aware UTC one."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def traces(engine: Any) -> dict[tuple[str, str], dict[str, Any]]:
    from sqlalchemy import select

    from pipelines.views.lots import lot_trace

    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(lot_trace))]
    for r in rows:
        r["produced_first"], r["produced_last"] = utc(r["produced_first"]), utc(r["produced_last"])
    return {(r["supplier_id"], r["lot_id"]): r for r in rows}


def failed(engine: Any, supplier: str | None = None) -> list[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        found = buyers_of_failed_lots(conn, supplier)
    assert all(isinstance(f, FailedLotDelivery) for f in found)
    return [(f.buyer_id, f.lot_id, f.shipment_id, f.inspections_failed) for f in found]


def test_lot_trace_by_hand(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    current = load_settings()
    reference(engine, REFERENCE)
    land(
        engine,
        EventType.PRODUCTION,
        [
            # Lot A: line L2 reported first, then L1 twice; lines come out in order.
            made("A", "L2", at(day(0), 10), 1, 100, 0),
            made("A", "L1", at(day(0), 6), 2, 900, 100),
            made("A", "L1", at(day(0), 8), 2, 800, 50),
            # Lot B on L2 on Tuesday.
            made("B", "L2", at(day(1), 6), 2, 500, 5),
            # Lot D runs 23:00 Monday to 00:30 Tuesday local: Tuesday's (end_time).
            made("D", "L3", at(day(0), 23), 1.5, 70, 1),
        ],
    )
    land(
        engine,
        EventType.QUALITY,
        [
            inspected("A", at(day(0), 12), "PASS", 1),
            inspected("A", at(day(0), 14), "FAIL", 5),
            inspected("B", at(day(1), 9), "PASS", 0),
            inspected("B", at(day(1), 10), "CONDITIONAL", 2),  # not a failure
            inspected("D", at(day(1), 2), "FAIL", 9),  # failed, never shipped
        ],
    )
    land(
        engine,
        EventType.SHIPMENT,
        [
            shipped("SH1", ["A"], at(day(2), 9), "B01"),
            # Lot A to a second buyer, with lot B; A is listed twice: one row.
            shipped("SH2", ["A", "B", "A"], at(day(3), 9), "B02", 250),
            # Lot C was bought in: shipped, never produced or inspected here.
            shipped("SH3", ["C"], at(day(3), 15), "B01"),
        ],
    )
    refresh(engine, load_settings())
    lots = traces(engine)
    assert set(lots) == {("S1", "A"), ("S1", "B"), ("S1", "C"), ("S1", "D")}
    a = lots[("S1", "A")]
    assert (a["production_reports"], a["good"], a["scrap"], a["lines"]) == (3, 1800, 150, "L1,L2")
    assert (a["produced_first"], a["produced_last"]) == (at(day(0), 6), at(day(0), 11))
    assert (a["inspections"], a["inspections_failed"], a["defects"]) == (2, 1, 6)
    assert (a["shipments"], a["buyers"]) == (2, 2)
    assert (a["first_day"], a["last_day"]) == (day(0), day(3))
    b = lots[("S1", "B")]
    assert (b["good"], b["lines"], b["inspections"], b["inspections_failed"]) == (500, "L2", 2, 0)
    assert (b["defects"], b["shipments"], b["buyers"]) == (2, 1, 1)
    c = lots[("S1", "C")]
    assert (c["production_reports"], c["good"], c["scrap"], c["lines"]) == (0, None, None, None)
    assert (c["produced_first"], c["inspections"], c["defects"]) == (None, 0, None)
    assert (c["shipments"], c["buyers"], c["first_day"], c["last_day"]) == (1, 1, day(3), day(3))
    d = lots[("S1", "D")]
    assert (d["first_day"], d["last_day"], d["lines"]) == (day(1), day(1), "L3")
    assert (d["inspections_failed"], d["shipments"]) == (1, 0)

    shipments = table_rows(engine, "lot_shipments")
    assert [(r[1], r[2], r[4], r[6]) for r in shipments] == [
        ("A", "SH1", "B01", 100.0),
        ("A", "SH2", "B02", 250.0),
        ("B", "SH2", "B02", 250.0),
        ("C", "SH3", "B01", 100.0),
    ]
    # Lot A failed an inspection and went to both buyers; D failed but was not shipped.
    assert failed(engine) == [("B01", "A", "SH1", 1), ("B02", "A", "SH2", 1)]
    assert failed(engine, "S2") == []

    # A late inspection (Saturday) fails lot B (made Tuesday), and SH3 is corrected: it
    # left on Friday, carrying lot B instead of C. B is recomputed from all its rows; C, touched
    # through SH3's earlier report (Thursday's), has none left.
    land(engine, EventType.QUALITY, [inspected("B", at(day(5), 11), "FAIL", 4)])
    land(
        engine,
        EventType.SHIPMENT,
        [shipped("SH3", ["B"], at(day(4), 8), "B01", reported=at(day(4), 9))],
    )
    refresh(engine, current)
    lots = traces(engine)
    assert ("S1", "C") not in lots
    b = lots[("S1", "B")]
    assert (b["production_reports"], b["good"], b["inspections"], b["inspections_failed"]) == (
        1,
        500,
        3,
        1,
    )
    assert (b["defects"], b["shipments"], b["buyers"], b["last_day"]) == (6, 2, 2, day(5))
    assert failed(engine, "S1") == [
        ("B01", "A", "SH1", 1),
        ("B01", "B", "SH3", 1),
        ("B02", "A", "SH2", 1),
        ("B02", "B", "SH2", 1),
    ]
    assert_full_equals_incremental(engine, current)


# -- property: the view equals a naive recomputation, incremental equals full ----------

LOTS = ["L-0", "L-1", "L-2", "L-3"]


def naive(
    production: list[dict[str, Any]], quality: list[dict[str, Any]], shipments: list[dict]
) -> tuple[dict, set]:
    """lot_trace (key -> values) and lot_shipments (rows) recomputed in Python."""
    latest: dict[tuple, dict[str, Any]] = {}
    for s in shipments:
        key = (s["supplier_id"], s["shipment_id"], s["part_number"])
        if key not in latest or (s["event_time"], s["event_id"]) > (
            latest[key]["event_time"],
            latest[key]["event_id"],
        ):
            latest[key] = s
    shipped_rows = {
        (s["supplier_id"], lot, s["shipment_id"], s["buyer_id"], s["quantity"])
        for s in latest.values()
        for lot in s["lot_ids"]
    }
    lots: dict[tuple, dict[str, Any]] = defaultdict(lambda: {"p": [], "q": [], "s": [], "days": []})
    for p in production:
        lot = lots[(p["supplier_id"], p["lot_id"])]
        lot["p"].append(p)
        lot["days"].append(p["business_day"])
    for q in quality:
        lot = lots[(q["supplier_id"], q["lot_id"])]
        lot["q"].append(q)
        lot["days"].append(q["business_day"])
    for s in latest.values():
        for lot_id in set(s["lot_ids"]):
            lot = lots[(s["supplier_id"], lot_id)]
            lot["s"].append(s)
            lot["days"].append(s["business_day"])
    out = {}
    for key, lot in lots.items():
        p, q, s = lot["p"], lot["q"], lot["s"]
        out[key] = (
            min(lot["days"]),
            max(lot["days"]),
            len(p),
            min(r["start_time"] for r in p) if p else None,
            max(r["end_time"] for r in p) if p else None,
            sum(r["quantity_good"] for r in p) if p else None,
            sum(r["quantity_scrap"] for r in p) if p else None,
            ",".join(sorted({r["line_id"] for r in p})) or None,
            len(q),
            sum(r["result"] == "FAIL" for r in q),
            sum(r["defect_quantity"] for r in q) if q else None,
            len(s),
            len({r["buyer_id"] for r in s}),
        )
    return out, shipped_rows


@st.composite
def lot_events(draw: st.DrawFn) -> tuple[EventType, dict[str, Any]]:
    """A production, quality or shipment row of a few lots over two weeks."""
    supplier = draw(st.sampled_from(["S1", "S1", "S2"]))  # S1's rows meet more often
    when = at(day(draw(st.integers(0, 13))), draw(st.sampled_from([0.25, 7, 15.5, 23.5])))
    kind = draw(st.sampled_from([EventType.PRODUCTION, EventType.QUALITY, EventType.SHIPMENT]))
    if kind is EventType.PRODUCTION:
        row = made(
            draw(st.sampled_from(LOTS)),
            draw(st.sampled_from(["L1", "L2", "L3"])),
            when,
            draw(st.sampled_from([0.5, 1, 2])),
            float(draw(st.integers(0, 900))),
            float(draw(st.integers(0, 50))),
            supplier,
        )
    elif kind is EventType.QUALITY:
        row = inspected(
            draw(st.sampled_from(LOTS)),
            when,
            draw(st.sampled_from(["PASS", "FAIL", "CONDITIONAL"])),
            draw(st.integers(0, 10)),
            supplier,
        )
    else:
        row = shipped(
            draw(st.sampled_from(["SH1", "SH2"])),
            draw(st.lists(st.sampled_from(LOTS), max_size=3)),
            when,
            draw(st.sampled_from(["B01", "B02"])),
            float(draw(st.integers(1, 500))),
            supplier,
            reported=when + timedelta(hours=draw(st.integers(0, 100))),
        )
    return kind, row


def test_lot_trace_is_the_naive_recomputation(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    current = load_settings()

    batch = st.lists(lot_events(), min_size=1, max_size=10)

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(batches=st.lists(batch, min_size=1, max_size=4))
    def check(batches: list[list[tuple[EventType, dict[str, Any]]]]) -> None:
        wipe(engine)
        reference(engine, REFERENCE)
        landed: dict[EventType, list[dict[str, Any]]] = defaultdict(list)
        for n, batch in enumerate(batches):
            for kind in (EventType.PRODUCTION, EventType.QUALITY, EventType.SHIPMENT):
                rows = [row for k, row in batch if k is kind]
                if n % 2 and landed[kind]:
                    rows.append(dict(landed[kind][0]))  # sent again: the landing PK drops it
                seen = {r["event_id"] for r in landed[kind]}
                landed[kind].extend(
                    land(engine, kind, [r for r in rows if r["event_id"] not in seen])
                )
            refresh(engine, current)
        expected, expected_shipped = naive(
            landed[EventType.PRODUCTION], landed[EventType.QUALITY], landed[EventType.SHIPMENT]
        )
        got = {
            key: (
                r["first_day"],
                r["last_day"],
                r["production_reports"],
                r["produced_first"],
                r["produced_last"],
                r["good"],
                r["scrap"],
                r["lines"],
                r["inspections"],
                r["inspections_failed"],
                r["defects"],
                r["shipments"],
                r["buyers"],
            )
            for key, r in traces(engine).items()
        }
        assert got == expected
        got_shipped = {(r[0], r[1], r[2], r[4], r[6]) for r in table_rows(engine, "lot_shipments")}
        assert got_shipped == expected_shipped
        assert_full_equals_incremental(engine, current)

    check()
    engine.dispose()
