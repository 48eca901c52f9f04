"""delivery_weekly: on time, in full and OTIF per supplier, buyer, part and promised week.

A shipment is one (supplier_id, shipment_id, part_number). When the MES reports it
again (once delivered, or corrected) its latest report counts: the greatest event_time,
then the greatest event_id; a shipment reported twice is never counted twice.

week: the Monday of the ISO week of promised_date (the date promised to the buyer), so
a shipment counts in the week it was due, wherever it was shipped.
shipments: the shipments promised that week.
on_time: shipped on or before the promised date: the local day of shipped_at at the
supplier's site (its business_day) <= promised_date.
with_order: shipments that carry ordered_quantity (contract version 2; version 1 events
read as NULL). in_full: of those, quantity >= ordered_quantity (more than ordered counts
as in full). on_time_in_full: of those, on time and in full.
on_time_pct = 100 * on_time / shipments (%).
in_full_pct = 100 * in_full / with_order, otif_pct = 100 * on_time_in_full / with_order
(%): NULL when no shipment of the week carries an ordered quantity (otif_null_reason).
quantity, ordered: Σ quantity, Σ ordered_quantity (where sent), in the shipments' units.
delivered: shipments with delivered_at. mean_transit_days = mean(delivered_at -
shipped_at) over them, in days; NULL when none was delivered.

Incremental: ingest touches (supplier, shipped day), but rows are keyed by the promised
week. A touched day makes stale the promised weeks of every report of the shipments
reported that day (earlier reports included: a later one may move a shipment to another
week). `recompute` derives those weeks in SQL from the scoped shipments, writes them to
`view_refresh_key` under a second refresh id (one Monday-to-Sunday range per week) and
recomputes that scope: the shipments with a report promised in those weeks, ranked over
all their reports. The landing table's indexes on (supplier_id, shipment_id) and
(supplier_id, promised_date) serve both lookups; a full rebuild ranks every shipment.
"""

import uuid
from datetime import timedelta

from sqlalchemy import (
    Column,
    Date,
    Double,
    Index,
    Integer,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause, Subquery

from pipelines.landing.models import LANDING
from pipelines.views.base import Scope, View, same_day
from pipelines.views.keys import view_refresh_key
from pipelines.views.sql import duration_ms, ratio, week_start
from sangsaeng.db import METADATA
from schemas.topics import EventType

DAY_MS = 86_400_000
SHIPMENT_COLUMNS = tuple(LANDING[EventType.SHIPMENT].columns)
NO_ORDER_QUANTITY = "no shipment promised this week carries ordered_quantity"

delivery_weekly = Table(
    "delivery_weekly",
    METADATA,
    Column("supplier_id", String(64), primary_key=True),
    Column("buyer_id", String(), primary_key=True),
    Column("part_number", String(), primary_key=True),
    Column("week", Date, primary_key=True, comment="Monday of promised_date's ISO week."),
    Column("shipments", Integer, nullable=False, comment="Shipments promised that week."),
    Column("on_time", Integer, nullable=False, comment="Shipped on or before promised_date."),
    Column("with_order", Integer, nullable=False, comment="Shipments with ordered_quantity."),
    Column("in_full", Integer, nullable=False, comment="quantity >= ordered_quantity."),
    Column("on_time_in_full", Integer, nullable=False, comment="Both, of with_order."),
    Column("delivered", Integer, nullable=False, comment="Shipments with delivered_at."),
    Column("quantity", Double, nullable=False, comment="Σ quantity shipped."),
    Column("ordered", Double, comment="Σ ordered_quantity where sent."),
    Column("on_time_pct", Double, nullable=False, comment="100 * on_time / shipments (%)."),
    Column("in_full_pct", Double, comment="100 * in_full / with_order (%)."),
    Column("otif_pct", Double, comment="100 * on_time_in_full / with_order (%)."),
    Column("otif_null_reason", String(120), comment="Why in_full_pct and otif_pct are NULL."),
    Column("mean_transit_days", Double, comment="mean(delivered_at - shipped_at), days."),
    Index("ix_delivery_weekly_supplier_week", "supplier_id", "week"),
    comment="On time, in full and OTIF per supplier, buyer, part and promised week.",
)


def current_shipments(reports: FromClause | None = None) -> Subquery:
    """The latest report of each shipment (supplier_id, shipment_id, part_number) in
    `reports` (the landing table's columns, holding every report of the shipments in it;
    the landing table by default)."""
    src = LANDING[EventType.SHIPMENT] if reports is None else reports
    latest_first = func.row_number().over(
        partition_by=(src.c.supplier_id, src.c.shipment_id, src.c.part_number),
        order_by=(src.c.event_time.desc(), src.c.event_id.desc()),
    )
    ranked = select(*[src.c[c.name] for c in SHIPMENT_COLUMNS], latest_first.label("rank"))
    ranked = ranked.subquery("shipment_report")
    return (
        select(*[ranked.c[c.name] for c in SHIPMENT_COLUMNS])
        .where(ranked.c.rank == 1)
        .subquery("current_shipment")
    )


def touched_shipments(scope: Scope) -> Subquery:
    """The shipments (supplier_id, shipment_id, part_number) reported in `scope`'s days."""
    s = LANDING[EventType.SHIPMENT].alias("touched_report")
    return (
        select(s.c.supplier_id, s.c.shipment_id, s.c.part_number)
        .select_from(scope.source(s))
        .where(scope.where())
        .distinct()
        .subquery("touched_shipment")
    )


def reports_of(shipments: Subquery, name: str = "report") -> Subquery:
    """Every report (earlier ones too) of `shipments`, read by (supplier, shipment id)."""
    r = LANDING[EventType.SHIPMENT].alias(f"{name}_of")
    same = and_(
        r.c.supplier_id == shipments.c.supplier_id,
        r.c.shipment_id == shipments.c.shipment_id,
        r.c.part_number == shipments.c.part_number,
    )
    return select(r).select_from(r.join(shipments, same)).subquery(name)


def _stale_weeks(conn: Connection, scope: Scope) -> Scope:
    """The promised weeks `scope`'s shipments make stale, as a scope of their own:
    Monday to Sunday ranges under a second refresh id."""
    if scope.full:
        return scope
    reports = reports_of(touched_shipments(scope))
    week = week_start(reports.c.promised_date)
    found = conn.execute(select(reports.c.supplier_id, week).distinct()).all()
    weeks_id = str(uuid.uuid4())
    if found:
        conn.execute(
            insert(view_refresh_key),
            [
                {
                    "refresh_id": weeks_id,
                    "supplier_id": supplier,
                    "first_day": monday,
                    "last_day": monday + timedelta(days=6),
                }
                for supplier, monday in found
            ],
        )
    return Scope(weeks_id, scope.settings)


def recompute(conn: Connection, scope: Scope) -> int:
    weeks = _stale_weeks(conn, scope)
    weeks.delete(conn, delivery_weekly, "week")
    if weeks.full:
        current = current_shipments()
        shipments: FromClause = current
    else:
        # Every report of the shipments with a report promised in the weeks: the latest
        # may lie elsewhere, and only the latest counts.
        s = LANDING[EventType.SHIPMENT].alias("in_week")
        in_weeks = (
            select(s.c.supplier_id, s.c.shipment_id, s.c.part_number)
            .select_from(weeks.source(s, s.c.promised_date))
            .where(weeks.where())
            .distinct()
            .subquery("in_weeks")
        )
        current = current_shipments(reports_of(in_weeks))
        shipments = weeks.source(current, current.c.promised_date)
    cs = current.c
    with_order = func.count(cs.ordered_quantity)
    on_time = cs.business_day <= cs.promised_date
    in_full = and_(cs.ordered_quantity.is_not(None), cs.quantity >= cs.ordered_quantity)
    on_time_in_full = func.count(case((and_(on_time, in_full), 1)))
    delivered = func.count(cs.delivered_at)
    week = week_start(cs.promised_date)
    query = (
        select(
            cs.supplier_id,
            cs.buyer_id,
            cs.part_number,
            week,
            func.count(),
            func.count(case((on_time, 1))),
            with_order,
            func.count(case((in_full, 1))),
            on_time_in_full,
            delivered,
            func.sum(cs.quantity),
            func.sum(cs.ordered_quantity),
            ratio(func.count(case((on_time, 1))) * 100, func.count()),
            ratio(func.count(case((in_full, 1))) * 100, with_order),
            ratio(on_time_in_full * 100, with_order),
            case((with_order == 0, literal(NO_ORDER_QUANTITY)), else_=None),
            ratio(func.sum(duration_ms(cs.shipped_at, cs.delivered_at)), delivered * DAY_MS),
        )
        .select_from(shipments)
        .where(weeks.where())
        .group_by(cs.supplier_id, cs.buyer_id, cs.part_number, week)
    )
    columns = [c.name for c in delivery_weekly.columns]
    rows = conn.execute(insert(delivery_weekly).from_select(columns, query)).rowcount
    if not scope.full:
        done = view_refresh_key.c.refresh_id == weeks.refresh_id
        conn.execute(delete(view_refresh_key).where(done))
    return rows


VIEW = View(
    name="delivery_weekly",
    title="On time, in full and OTIF per supplier, buyer, part and promised week",
    tables=(delivery_weekly,),
    reads=frozenset({EventType.SHIPMENT}),
    key_range=same_day,  # the shipped days; recompute maps them to promised weeks
    recompute=recompute,
    day_column="week",
)
