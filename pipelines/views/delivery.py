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
`view_refresh_key` under a second refresh id (one range per week: its Monday) and
recomputes that scope; a full rebuild runs the same statements over every shipment.
"""

import uuid

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
from sqlalchemy.sql import ColumnElement, Subquery

from pipelines.landing.models import LANDING
from pipelines.views.base import Scope, View, same_day
from pipelines.views.keys import view_refresh_key
from pipelines.views.sql import duration_ms, ratio, week_start
from sangsaeng.db import METADATA
from schemas.topics import EventType

DAY_MS = 86_400_000
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


def current_shipments(where: ColumnElement[bool] | None = None) -> Subquery:
    """The latest report of each shipment (supplier_id, shipment_id, part_number), with
    the landing table's columns; `where` restricts the reports looked at (it must keep
    or drop whole shipments, e.g. by supplier)."""
    s = LANDING[EventType.SHIPMENT]
    latest_first = func.row_number().over(
        partition_by=(s.c.supplier_id, s.c.shipment_id, s.c.part_number),
        order_by=(s.c.event_time.desc(), s.c.event_id.desc()),
    )
    ranked = select(s, latest_first.label("report_rank"))
    if where is not None:
        ranked = ranked.where(where)
    reports = ranked.subquery("shipment_report")
    return (
        select(*[reports.c[c.name] for c in s.c])
        .where(reports.c.report_rank == 1)
        .subquery("current_shipment")
    )


def reports_of_touched(scope: Scope) -> Subquery:
    """Every report (old ones too) of the shipments reported in `scope`'s days."""
    s = LANDING[EventType.SHIPMENT]
    touched = (
        select(s.c.supplier_id, s.c.shipment_id, s.c.part_number)
        .select_from(scope.source(s))
        .where(scope.where())
        .distinct()
        .subquery("touched_shipment")
    )
    report = LANDING[EventType.SHIPMENT].alias("touched_report")
    same = and_(
        report.c.supplier_id == touched.c.supplier_id,
        report.c.shipment_id == touched.c.shipment_id,
        report.c.part_number == touched.c.part_number,
    )
    return select(report).select_from(report.join(touched, same)).subquery("touched_reports")


def suppliers_of(refresh_id: str) -> ColumnElement[bool]:
    """Shipments of the suppliers with key ranges under `refresh_id`."""
    k = view_refresh_key.alias("supplier_key")
    s = LANDING[EventType.SHIPMENT]
    return s.c.supplier_id.in_(select(k.c.supplier_id).where(k.c.refresh_id == refresh_id))


def _week_scope(conn: Connection, scope: Scope) -> Scope:
    """The promised weeks `scope`'s shipments make stale, as a scope of their own."""
    if scope.full:
        return scope
    reports = reports_of_touched(scope)
    week = week_start(reports.c.promised_date)
    weeks = select(reports.c.supplier_id, week.label("week")).distinct().subquery("stale_week")
    weeks_id = str(uuid.uuid4())
    conn.execute(
        insert(view_refresh_key).from_select(
            ["refresh_id", "supplier_id", "first_day", "last_day"],
            select(literal(weeks_id), weeks.c.supplier_id, weeks.c.week, weeks.c.week),
        )
    )
    return Scope(weeks_id, scope.settings)


def recompute(conn: Connection, scope: Scope) -> int:
    weeks = _week_scope(conn, scope)
    weeks.delete(conn, delivery_weekly, "week")
    current = current_shipments(None if weeks.full else suppliers_of(str(weeks.refresh_id)))
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
        .select_from(weeks.source(current, week))
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
