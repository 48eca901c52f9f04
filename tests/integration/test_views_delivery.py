"""delivery_weekly from hand-computed shipments, on SQLite and PostgreSQL: on time by the
supplier's local day against the promised date, in full against the ordered quantity
(version 1 shipments without one count for on time only), OTIF, transit days; rows keyed
by the promised week, a shipment reported again counted once (its latest report); a
late shipment re-touches the promised week it belongs to; incremental equals `--full`,
and equals a naive recomputation in Python after random batches."""

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.views.read import view_rows
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.support import upgraded_engine
from tests.views_support import assert_full_equals_incremental, at, land, reference, wipe

pytestmark = pytest.mark.integration

MONDAY = date(2026, 1, 5)
NEXT_MONDAY = MONDAY + timedelta(days=7)
REFERENCE = {
    "organisations": [
        {"org_id": "B01", "name": "Buyer One", "role": "buyer"},
        {"org_id": "B02", "name": "Buyer Two", "role": "buyer"},
        {"org_id": "S1", "name": "Supplier", "role": "supplier", "sponsor_id": "B01"},
        {"org_id": "S2", "name": "Other supplier", "role": "supplier", "sponsor_id": "B02"},
    ],
    "sites": [
        {"site_id": "P1", "supplier_id": "S1", "timezone": "Asia/Seoul"},
        {"site_id": "P1", "supplier_id": "S2", "timezone": "Asia/Seoul"},
    ],
    "parts": [{"part_number": p, "supplier_id": s} for p in ("X", "Y") for s in ("S1", "S2")],
}


def shipment(
    shipment_id: str,
    shipped: datetime,
    promised: date,
    quantity: float,
    ordered: float | None,
    delivered_after_hours: float | None = None,
    *,
    supplier: str = "S1",
    buyer: str = "B01",
    part: str = "X",
    reported: datetime | None = None,
    lots: list[str] | None = None,
) -> dict[str, Any]:
    delivered = (
        None if delivered_after_hours is None else shipped + timedelta(hours=delivered_after_hours)
    )
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": reported or shipped,
        "supplier_id": supplier,
        "buyer_id": buyer,
        "shipment_id": shipment_id,
        "po_number": f"PO-{buyer}",
        "part_number": part,
        "lot_ids": lots if lots is not None else [f"LOT-{shipment_id}"],
        "quantity": quantity,
        "unit": "H87",
        "promised_date": promised,
        "shipped_at": shipped,
        "delivered_at": delivered,
        "ordered_quantity": ordered,
    }


def rows_by_key(engine: Any) -> dict[tuple[str, str, str, date], dict[str, Any]]:
    return {
        (r["supplier_id"], r["buyer_id"], r["part_number"], r["week"]): r
        for r in view_rows(engine, "delivery_weekly")
    }


def day(n: int) -> date:
    return MONDAY + timedelta(days=n)


def test_delivery_weekly_by_hand(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    current = load_settings()
    reference(engine, REFERENCE)
    land(
        engine,
        EventType.SHIPMENT,
        [
            # Promised in the week of Monday 2026-01-05, to B01, part X:
            # on time, in full; delivered after 24 h
            shipment("SH1", at(day(0), 10), day(2), 100, 100, 24),
            # on time, short (90 of 100); 36 h
            shipment("SH2", at(day(1), 9), day(3), 90, 100, 36),
            # 23:30 local on the promised day: on time; in full; not delivered yet
            shipment("SH3", at(day(3), 23.5), day(3), 50, 50),
            # 00:30 local Saturday (still Friday in UTC), promised Friday: LATE; more
            # than ordered counts as in full; 12 h
            shipment("SH4", at(day(5), 0.5), day(4), 60, 50, 12),
            # a version 1 shipment (no ordered quantity): on time only; 12 h
            shipment("SH5", at(day(2), 8), day(4), 70, None, 12),
            # Shipped in that week but promised Monday 2026-01-12: counts there.
            shipment("SH6", at(day(4), 15), day(7), 40, None),
            # Another buyer and part: on time and in full, 48 h in transit.
            shipment("SH7", at(day(0), 11), day(1), 10, 10, 48, buyer="B02", part="Y"),
        ],
    )
    refresh(engine, current)
    rows = rows_by_key(engine)
    assert set(rows) == {
        ("S1", "B01", "X", MONDAY),
        ("S1", "B01", "X", NEXT_MONDAY),
        ("S1", "B02", "Y", MONDAY),
    }
    w1 = rows[("S1", "B01", "X", MONDAY)]
    counts = ("shipments", "on_time", "with_order", "in_full", "on_time_in_full", "delivered")
    assert tuple(w1[c] for c in counts) == (5, 4, 4, 3, 2, 4)
    assert (w1["quantity"], w1["ordered"]) == (370, 300)
    assert w1["on_time_pct"] == pytest.approx(80.0)
    assert w1["in_full_pct"] == pytest.approx(75.0)
    assert w1["otif_pct"] == pytest.approx(50.0)
    assert w1["otif_null_reason"] is None
    assert w1["mean_transit_days"] == pytest.approx((24 + 36 + 12 + 12) / 4 / 24)  # 0.875

    w2 = rows[("S1", "B01", "X", NEXT_MONDAY)]
    assert tuple(w2[c] for c in counts) == (1, 1, 0, 0, 0, 0)
    assert (w2["on_time_pct"], w2["in_full_pct"], w2["otif_pct"]) == (100.0, None, None)
    assert w2["otif_null_reason"] == "no shipment promised this week carries ordered_quantity"
    assert (w2["ordered"], w2["mean_transit_days"]) == (None, None)

    other = rows[("S1", "B02", "Y", MONDAY)]
    assert (other["otif_pct"], other["mean_transit_days"]) == (100.0, 2.0)

    # SH6 is reported again once delivered (36 h after it left): still one shipment.
    sh6_delivered = shipment("SH6", at(day(4), 15), day(7), 40, None, 36, reported=at(day(6), 3))
    land(engine, EventType.SHIPMENT, [sh6_delivered])
    done = {d.view: d for d in refresh(engine, current)}
    assert done["delivery_weekly"].keys == 1  # (S1, Friday 01-09), the shipped day
    w2 = rows_by_key(engine)[("S1", "B01", "X", NEXT_MONDAY)]
    assert (w2["shipments"], w2["delivered"], w2["mean_transit_days"]) == (1, 1, 1.5)

    # A correction: SH6 left on Saturday, promised for Thursday, so late in the first
    # week. Its old week (touched through its earlier reports, of Friday) empties.
    moved = shipment("SH6", at(day(5), 15), day(3), 40, 40, 36, reported=at(day(7), 9))
    # ...and a late event for the first week: shipped Tuesday, reported a week on.
    late = shipment("SH8", at(day(1), 14), day(4), 30, 30, reported=at(day(8), 9))
    land(engine, EventType.SHIPMENT, [moved, late])
    refresh(engine, current)
    rows = rows_by_key(engine)
    assert ("S1", "B01", "X", NEXT_MONDAY) not in rows
    w1 = rows[("S1", "B01", "X", MONDAY)]
    # + SH6 (late, in full) + SH8 (on time, in full)
    assert tuple(w1[c] for c in counts) == (7, 5, 6, 5, 3, 5)
    assert w1["otif_pct"] == pytest.approx(50.0)
    assert w1["mean_transit_days"] == pytest.approx((24 + 36 + 12 + 12 + 36) / 5 / 24)
    assert_full_equals_incremental(engine, current)


# -- property: the view equals a naive recomputation, incremental equals full ----------


def naive(shipments: list[dict[str, Any]]) -> dict[tuple, tuple]:
    """delivery_weekly recomputed in Python from the landed shipment rows."""
    latest: dict[tuple, dict[str, Any]] = {}
    for s in shipments:
        key = (s["supplier_id"], s["shipment_id"], s["part_number"])
        if key not in latest or (s["event_time"], s["event_id"]) > (
            latest[key]["event_time"],
            latest[key]["event_id"],
        ):
            latest[key] = s
    weeks: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for s in latest.values():
        monday = s["promised_date"] - timedelta(days=s["promised_date"].weekday())
        weeks[(s["supplier_id"], s["buyer_id"], s["part_number"], monday)].append(s)
    out = {}
    for key, group in weeks.items():
        local_day = [(s["shipped_at"] + timedelta(hours=9)).date() for s in group]
        on_time = [d <= s["promised_date"] for d, s in zip(local_day, group, strict=True)]
        ordered = [s for s in group if s["ordered_quantity"] is not None]
        in_full = [s["quantity"] >= s["ordered_quantity"] for s in ordered]
        otif = sum(
            1
            for s, ok in zip(group, on_time, strict=True)
            if ok and s["ordered_quantity"] is not None and s["quantity"] >= s["ordered_quantity"]
        )
        transit = [
            round((s["delivered_at"] - s["shipped_at"]).total_seconds() * 1000)
            for s in group
            if s["delivered_at"] is not None
        ]
        out[key] = (
            len(group),
            sum(on_time),
            len(ordered),
            sum(in_full),
            otif,
            len(transit),
            sum(s["quantity"] for s in group),
            sum(s["ordered_quantity"] for s in ordered) if ordered else None,
            100 * sum(on_time) / len(group),
            100 * sum(in_full) / len(ordered) if ordered else None,
            100 * otif / len(ordered) if ordered else None,
            sum(transit) / (len(transit) * 86_400_000) if transit else None,
        )
    return out


def viewed(engine: Any) -> dict[tuple, tuple]:
    columns = (
        "shipments",
        "on_time",
        "with_order",
        "in_full",
        "on_time_in_full",
        "delivered",
        "quantity",
        "ordered",
        "on_time_pct",
        "in_full_pct",
        "otif_pct",
        "mean_transit_days",
    )
    return {key: tuple(r[c] for c in columns) for key, r in rows_by_key(engine).items()}


SHIPMENT_IDS = ["SH0", "SH1", "SH2"]  # few: many reports are later ones of a shipment


@st.composite
def a_shipment(draw: st.DrawFn) -> dict[str, Any]:
    """A shipment report; ids repeat, so some are later reports of the same shipment."""
    shipped_day = draw(st.integers(0, 20))
    shipped = at(day(shipped_day), draw(st.sampled_from([0.5, 9, 16.25, 23.75])))
    return shipment(
        draw(st.sampled_from(SHIPMENT_IDS)),
        shipped,
        day(shipped_day + draw(st.integers(-3, 6))),
        float(draw(st.integers(1, 200))),
        draw(st.one_of(st.none(), st.integers(1, 200).map(float))),
        draw(st.one_of(st.none(), st.integers(1, 96))),
        supplier=draw(st.sampled_from(["S1", "S1", "S2"])),
        buyer=draw(st.sampled_from(["B01", "B02"])),
        part=draw(st.sampled_from(["X", "Y"])),
        reported=shipped + timedelta(hours=draw(st.integers(0, 200))),
    )


def test_delivery_weekly_is_the_naive_recomputation(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    current = load_settings()

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(batches=st.lists(st.lists(a_shipment(), min_size=1, max_size=8), min_size=1, max_size=4))
    def check(batches: list[list[dict[str, Any]]]) -> None:
        wipe(engine)
        reference(engine, REFERENCE)
        landed: list[dict[str, Any]] = []
        for batch in batches:
            # A batch may repeat an event already landed: ingest drops it (landing PK).
            resent = [dict(landed[0])] if landed and len(batch) % 3 == 0 else []
            seen = {x["event_id"] for x in landed}
            landed.extend(
                land(
                    engine,
                    EventType.SHIPMENT,
                    [s for s in batch + resent if s["event_id"] not in seen],
                )
            )
            refresh(engine, current)
        got, expected = viewed(engine), naive(landed)
        assert set(got) == set(expected)
        for key, values in expected.items():
            assert got[key] == pytest.approx(values), key
        assert_full_equals_incremental(engine, current)

    check()
    engine.dispose()
