"""The quality alert rules, evaluated over the views after each refresh:

- **ppm**: a part's defective parts per million at final and outgoing inspection, over
  an ISO week (quality_daily), above the part's limit (`part_threshold`, else
  DEFAULT_MAX_PPM), once at least MIN_INSPECTED pieces were inspected that week;
- **Cpk < 1.33**: a characteristic's weekly process capability (capability_weekly) from
  at least MIN_MEASUREMENTS measurements;
- **OTIF below target**: a buyer's on-time-in-full share of a part's shipments promised
  in a week (delivery_weekly) under OTIF_TARGET_PCT;
- **FAIL at final inspection of a lot already shipped**: a FINAL inspection with result
  FAIL (the landed quality events) after a shipment carrying its lot (lot_shipments).

Each finding becomes one alert per buyer who may receive it (`governance.alerts.
recipients`: an agreement in force sharing the view for `quality` and covering the part;
a lot's alert goes to the buyers it was shipped to, an OTIF one to that buyer only),
recorded once per rule, supplier, buyer and subject however often the rules run.
Rows from `since` on are looked at (the refresh that just ran touched the recent past).
"""

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection, Engine

from governance.alerts import NewAlert, recipients, record_alerts
from governance.models import AlertRule, PartThreshold
from pipelines.landing.models import LANDING
from pipelines.views.delivery import delivery_weekly
from pipelines.views.lots import lot_shipments
from pipelines.views.quality import capability_weekly, quality_daily
from schemas.topics import EventType

DEFAULT_MAX_PPM = 1_000.0
MIN_INSPECTED = 500
CPK_MIN = 1.33
MIN_MEASUREMENTS = 25
OTIF_TARGET_PCT = 95.0
STAGES = ("FINAL", "OUTGOING")  # what leaves the supplier: the ppm a buyer receives


@dataclass(frozen=True)
class Evaluation:
    """What one run of the rules found and recorded."""

    findings: int  # rule hits, before recipients
    created: list[str]  # ids of the alerts new this run


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def shipped_parts(conn: Connection, supplier_id: str) -> dict[str, set[str]]:
    d = delivery_weekly.c
    parts: dict[str, set[str]] = defaultdict(set)
    for buyer, part in conn.execute(
        select(d.buyer_id, d.part_number).where(d.supplier_id == supplier_id).distinct()
    ):
        parts[buyer].add(part)
    return parts


def _ppm(conn: Connection, since: date) -> Iterator[tuple[str, str, date, float, float, int]]:
    """(supplier, part, week, ppm, limit, inspected) over the limit."""
    q = quality_daily.c
    weeks: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
    rows = conn.execute(
        select(q.supplier_id, q.part_number, q.day, q.inspected, q.defective).where(
            q.day >= monday(since), q.inspection_stage.in_(STAGES)
        )
    )
    for supplier, part, day, inspected, defective in rows:
        totals = weeks[(supplier, part, monday(day))]
        totals[0] += inspected
        totals[1] += defective
    t = PartThreshold.__table__.c
    limits = {
        (s, p): m for s, p, m in conn.execute(select(t.supplier_id, t.part_number, t.max_ppm))
    }
    for (supplier, part, week), (inspected, defective) in sorted(weeks.items()):
        if inspected < MIN_INSPECTED:
            continue
        ppm = defective / inspected * 1_000_000
        limit = limits.get((supplier, part), DEFAULT_MAX_PPM)
        if ppm > limit:
            yield supplier, part, week, ppm, limit, inspected


def findings(conn: Connection, since: date, today: date) -> Iterator[NewAlert]:
    """Every alert the rules raise over the rows from `since` on, per recipient."""
    shipped: dict[str, dict[str, set[str]]] = {}

    def parts_of(supplier: str) -> dict[str, set[str]]:
        if supplier not in shipped:
            shipped[supplier] = shipped_parts(conn, supplier)
        return shipped[supplier]

    for supplier, part, week, ppm, limit, inspected in _ppm(conn, since):
        for buyer in recipients(
            conn,
            supplier,
            "quality_daily",
            today,
            part_number=part,
            shipped_parts=parts_of(supplier),
        ):
            yield NewAlert(
                AlertRule.PPM.value,
                supplier,
                buyer,
                f"ppm {part} week {week.isoformat()}",
                f"Part {part} of {supplier}: {ppm:,.0f} ppm defective at final/outgoing "
                f"inspection in the week of {week.isoformat()} ({inspected:,} pieces "
                f"inspected), above the limit of {limit:,.0f} ppm.",
                part_number=part,
                period=week,
                value=round(ppm, 1),
                threshold=limit,
            )

    c = capability_weekly.c
    for row in conn.execute(
        select(c.supplier_id, c.part_number, c.characteristic, c.week, c.cpk, c.n)
        .where(c.week >= monday(since), c.cpk.is_not(None), c.cpk < CPK_MIN)
        .where(c.n >= MIN_MEASUREMENTS)
        .order_by(c.supplier_id, c.week, c.part_number, c.characteristic)
    ):
        for buyer in recipients(
            conn,
            row.supplier_id,
            "capability_weekly",
            today,
            part_number=row.part_number,
            shipped_parts=parts_of(row.supplier_id),
        ):
            yield NewAlert(
                AlertRule.CPK.value,
                row.supplier_id,
                buyer,
                f"cpk {row.part_number} {row.characteristic} week {row.week.isoformat()}",
                f"Part {row.part_number} of {row.supplier_id}: Cpk {row.cpk:.2f} for "
                f"{row.characteristic} in the week of {row.week.isoformat()} ({row.n} "
                f"measurements), below {CPK_MIN}.",
                part_number=row.part_number,
                period=row.week,
                value=round(row.cpk, 3),
                threshold=CPK_MIN,
            )

    d = delivery_weekly.c
    for row in conn.execute(
        select(d.supplier_id, d.buyer_id, d.part_number, d.week, d.otif_pct, d.with_order)
        .where(d.week >= monday(since), d.otif_pct.is_not(None), d.otif_pct < OTIF_TARGET_PCT)
        .order_by(d.supplier_id, d.week, d.buyer_id, d.part_number)
    ):
        allowed = recipients(
            conn,
            row.supplier_id,
            "delivery_weekly",
            today,
            part_number=row.part_number,
            shipped_parts=parts_of(row.supplier_id),
        )
        if row.buyer_id in allowed:  # its own shipments only
            yield NewAlert(
                AlertRule.OTIF.value,
                row.supplier_id,
                row.buyer_id,
                f"otif {row.part_number} week {row.week.isoformat()}",
                f"Part {row.part_number} of {row.supplier_id}: {row.otif_pct:.1f} % of the "
                f"{row.with_order} shipments promised you in the week of "
                f"{row.week.isoformat()} were on time in full, under the target of "
                f"{OTIF_TARGET_PCT:.0f} %.",
                part_number=row.part_number,
                period=row.week,
                value=round(row.otif_pct, 2),
                threshold=OTIF_TARGET_PCT,
            )

    yield from _shipped_fails(conn, since, today, parts_of)


def _shipped_fails(
    conn: Connection,
    since: date,
    today: date,
    parts_of: Callable[[str], dict[str, set[str]]],
) -> Iterator[NewAlert]:
    q = LANDING[EventType.QUALITY].c
    s = lot_shipments.c
    rows = conn.execute(
        select(
            q.supplier_id,
            q.lot_id,
            s.buyer_id,
            s.part_number,
            func.min(q.event_time).label("inspected_at"),
            func.min(s.shipped_at).label("shipped_at"),
        )
        .join(
            lot_shipments,
            and_(
                s.supplier_id == q.supplier_id,
                s.lot_id == q.lot_id,
                s.shipped_at <= q.event_time,
            ),
        )
        .where(q.business_day >= since, q.inspection_stage == "FINAL", q.result == "FAIL")
        .group_by(q.supplier_id, q.lot_id, s.buyer_id, s.part_number)
        .order_by(q.supplier_id, q.lot_id, s.buyer_id, s.part_number)
    )
    for row in rows:
        allowed = recipients(
            conn,
            row.supplier_id,
            "lot_trace",
            today,
            part_number=row.part_number,
            shipped_parts=parts_of(row.supplier_id),
        )
        if row.buyer_id not in allowed:
            continue
        yield NewAlert(
            AlertRule.SHIPPED_FAIL.value,
            row.supplier_id,
            row.buyer_id,
            f"lot {row.lot_id} part {row.part_number}",
            f"Lot {row.lot_id} of {row.supplier_id} failed its final inspection at "
            f"{row.inspected_at.isoformat()} after it was shipped to you as part "
            f"{row.part_number} ({row.shipped_at.isoformat()}): check the parts you received.",
            part_number=row.part_number,
            lot_id=row.lot_id,
            period=row.inspected_at.date(),
        )


def evaluate(engine: Engine, since: date, today: date, now: datetime) -> Evaluation:
    """Run every rule over the rows from `since` on and record the new alerts."""
    with engine.begin() as conn:
        found = list(findings(conn, since, today))
        created = record_alerts(conn, found, now)
    return Evaluation(len(found), created)
