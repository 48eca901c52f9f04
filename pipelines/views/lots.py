"""lot_trace and lot_shipments: each lot from production through inspection to the
buyers that received it (the traceability the basic smart-factory level promises).

lot_trace, one row per (supplier_id, lot_id) seen in production, quality or shipment rows:
first_day, last_day: the first and last business day (site-local) of any of its rows.
production_reports: production events of the lot; produced_first = min(start_time),
produced_last = max(end_time); good, scrap = Σ quantity_good, Σ quantity_scrap (units);
lines: its production line, or the distinct lines joined by ',' in order. All NULL when
no production of the lot was reported (production_reports = 0).
inspections: quality inspections of the lot; inspections_failed: those with result
FAIL (CONDITIONAL is not a failure); defects = Σ defect_quantity (NULL when none).
shipments, buyers: shipments carrying the lot and the distinct buyers they went to.

lot_shipments, one row per lot and shipment carrying it (a shipment's latest report,
as in delivery_weekly): the lot ids come from the shipment's `lot_ids` JSON array.
quantity is the whole shipment's (a shipment does not say how much of each lot it holds).

Incremental: a lot is keyed by lot, not by day. A touched (supplier, day) makes stale
every lot in that supplier's production, quality or shipment rows of that day (for a
shipment, the lots of all its reports: a later report may drop a lot). Those lots go to
`lot_refresh_key` under the refresh id and lot_trace recomputes them from all their rows,
whatever their day (the landing tables' (supplier_id, lot_id) indexes serve it).
lot_shipments is recomputed per shipment instead: the rows of each shipment reported in
the touched days, from its latest report. A full rebuild runs the same statements over
every lot and shipment.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
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
    true,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, FromClause, Subquery

from pipelines.landing.models import LANDING
from pipelines.views.base import Scope, View, same_day
from pipelines.views.delivery import current_shipments, reports_of, touched_shipments
from pipelines.views.sql import comma_list, json_strings
from sangsaeng.db import METADATA
from schemas.topics import EventType

lot_trace = Table(
    "lot_trace",
    METADATA,
    Column("supplier_id", String(64), primary_key=True),
    Column("lot_id", String(), primary_key=True),
    Column("first_day", Date, nullable=False, comment="First business day of any row."),
    Column("last_day", Date, nullable=False, comment="Last business day of any row."),
    Column("production_reports", Integer, nullable=False, comment="Production events."),
    Column("produced_first", DateTime(timezone=True), comment="min(start_time)."),
    Column("produced_last", DateTime(timezone=True), comment="max(end_time)."),
    Column("good", Double, comment="Σ quantity_good (units)."),
    Column("scrap", Double, comment="Σ quantity_scrap (units)."),
    Column("lines", String(), comment="Production line(s), ',' between, in order."),
    Column("inspections", Integer, nullable=False, comment="Quality inspections."),
    Column("inspections_failed", Integer, nullable=False, comment="Inspections with FAIL."),
    Column("defects", Double, comment="Σ defect_quantity of its inspections."),
    Column("shipments", Integer, nullable=False, comment="Shipments carrying the lot."),
    Column("buyers", Integer, nullable=False, comment="Distinct buyers of those shipments."),
    comment="Each lot: production, inspections and shipments.",
)

lot_shipments = Table(
    "lot_shipments",
    METADATA,
    Column("supplier_id", String(64), primary_key=True),
    Column("lot_id", String(), primary_key=True),
    Column("shipment_id", String(), primary_key=True),
    Column("part_number", String(), primary_key=True),
    Column("buyer_id", String(), nullable=False),
    Column("po_number", String(), nullable=False),
    Column("quantity", Double, nullable=False, comment="The whole shipment's quantity."),
    Column("shipped_at", DateTime(timezone=True), nullable=False),
    Column("shipped_day", Date, nullable=False, comment="Local day of shipped_at."),
    Column("promised_date", Date, nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Index("ix_lot_shipments_shipment", "supplier_id", "shipment_id", "part_number"),
    comment="Which buyer received which lot: one row per lot and shipment carrying it.",
)

lot_refresh_key = Table(
    "lot_refresh_key",
    METADATA,
    Column("refresh_id", String(36), primary_key=True),
    Column("supplier_id", String(64), primary_key=True),
    Column("lot_id", String(), primary_key=True),
    comment="Scratch: the lots one lot_trace refresh recomputes (empty between).",
)


@dataclass(frozen=True)
class _Lots:
    """The lots a refresh recomputes (`refresh_id` None: every lot)."""

    refresh_id: str | None

    def _match(self, supplier: Any, lot: Any) -> ColumnElement[bool]:
        k = lot_refresh_key.c
        return and_(k.refresh_id == self.refresh_id, k.supplier_id == supplier, k.lot_id == lot)

    def source(self, table: Table) -> FromClause:
        """`table`'s rows of the lots (joined to the lot keys; `table` itself when full)."""
        if self.refresh_id is None:
            return table
        return table.join(lot_refresh_key, self._match(table.c.supplier_id, table.c.lot_id))

    def delete(self, conn: Connection, table: Table) -> None:
        """Delete `table`'s rows of the lots (all of them when full)."""
        if self.refresh_id is None:
            conn.execute(delete(table))
            return
        k = lot_refresh_key.c
        chosen = select(k.supplier_id, k.lot_id).where(k.refresh_id == self.refresh_id)
        conn.execute(delete(table).where(tuple_(table.c.supplier_id, table.c.lot_id).in_(chosen)))


def _stale_lots(conn: Connection, scope: Scope) -> _Lots:
    """Write the lots `scope`'s rows make stale to `lot_refresh_key`."""
    if scope.full:
        return _Lots(None)
    found = []
    for event_type in (EventType.PRODUCTION, EventType.QUALITY):
        t = LANDING[event_type].alias(f"touched_{event_type.value}")
        found.append(
            select(t.c.supplier_id, t.c.lot_id).select_from(scope.source(t)).where(scope.where())
        )
    reports = reports_of(touched_shipments(scope))
    lot = json_strings(reports.c.lot_ids, "touched_lot")
    found.append(select(reports.c.supplier_id, lot.c.value).select_from(reports.join(lot, true())))
    lots = union(*found).subquery("stale_lot")
    conn.execute(
        insert(lot_refresh_key).from_select(
            ["refresh_id", "supplier_id", "lot_id"],
            select(literal(scope.refresh_id), lots.c.supplier_id, lots.c.lot_id),
        )
    )
    return _Lots(scope.refresh_id)


def _refresh_lot_shipments(conn: Connection, scope: Scope) -> None:
    """Recompute lot_shipments for the shipments reported in `scope` (all when full): a
    shipment's rows change only when a new report of it lands."""
    ls = lot_shipments.c
    if scope.full:
        conn.execute(delete(lot_shipments))
        current = current_shipments()
    else:
        touched = touched_shipments(scope)
        keys = select(touched.c.supplier_id, touched.c.shipment_id, touched.c.part_number)
        conn.execute(
            delete(lot_shipments).where(
                tuple_(ls.supplier_id, ls.shipment_id, ls.part_number).in_(keys)
            )
        )
        current = current_shipments(reports_of(touched_shipments(scope)))
    lot = json_strings(current.c.lot_ids, "shipped_lot")
    cs = current.c
    rows = (
        select(
            cs.supplier_id,
            lot.c.value,
            cs.shipment_id,
            cs.part_number,
            cs.buyer_id,
            cs.po_number,
            cs.quantity,
            cs.shipped_at,
            cs.business_day,
            cs.promised_date,
            cs.delivered_at,
        )
        .distinct()  # a lot listed twice in one shipment is one row
        .select_from(current.join(lot, true()))
    )
    conn.execute(insert(lot_shipments).from_select([c.name for c in lot_shipments.columns], rows))


def _per_lot(lots: _Lots) -> tuple[Subquery, Subquery, Subquery, Subquery, Subquery]:
    """Aggregates per (supplier, lot): spans, production, lines, quality, shipments."""
    p = LANDING[EventType.PRODUCTION]
    q = LANDING[EventType.QUALITY]
    ls = lot_shipments
    production = (
        select(
            p.c.supplier_id,
            p.c.lot_id,
            func.count().label("reports"),
            func.min(p.c.start_time).label("first"),
            func.max(p.c.end_time).label("last"),
            func.sum(p.c.quantity_good).label("good"),
            func.sum(p.c.quantity_scrap).label("scrap"),
            func.min(p.c.business_day).label("first_day"),
            func.max(p.c.business_day).label("last_day"),
        )
        .select_from(lots.source(p))
        .group_by(p.c.supplier_id, p.c.lot_id)
        .subquery("lot_production")
    )
    line = (
        select(p.c.supplier_id, p.c.lot_id, p.c.line_id)
        .distinct()
        .select_from(lots.source(p))
        .subquery("lot_line")
    )
    by_lot = (line.c.supplier_id, line.c.lot_id)
    # Every row of a lot's window holds the whole ordered list; one per lot is kept.
    listed = select(
        line.c.supplier_id,
        line.c.lot_id,
        comma_list(line.c.line_id)
        .over(partition_by=by_lot, order_by=line.c.line_id, rows=(None, None))
        .label("lines"),
    ).subquery("lot_lines_listed")
    lines = (
        select(listed.c.supplier_id, listed.c.lot_id, func.max(listed.c.lines).label("lines"))
        .group_by(listed.c.supplier_id, listed.c.lot_id)
        .subquery("lot_lines")
    )
    quality = (
        select(
            q.c.supplier_id,
            q.c.lot_id,
            func.count().label("inspections"),
            func.count(case((q.c.result == "FAIL", 1))).label("failed"),
            func.sum(q.c.defect_quantity).label("defects"),
            func.min(q.c.business_day).label("first_day"),
            func.max(q.c.business_day).label("last_day"),
        )
        .select_from(lots.source(q))
        .group_by(q.c.supplier_id, q.c.lot_id)
        .subquery("lot_quality")
    )
    shipped = (
        select(
            ls.c.supplier_id,
            ls.c.lot_id,
            func.count().label("shipments"),
            func.count(ls.c.buyer_id.distinct()).label("buyers"),
            func.min(ls.c.shipped_day).label("first_day"),
            func.max(ls.c.shipped_day).label("last_day"),
        )
        .select_from(lots.source(ls))
        .group_by(ls.c.supplier_id, ls.c.lot_id)
        .subquery("lot_shipped")
    )
    spans = union_all(
        *(
            select(a.c.supplier_id, a.c.lot_id, a.c.first_day, a.c.last_day)
            for a in (production, quality, shipped)
        )
    ).subquery("lot_span_rows")
    span = (
        select(
            spans.c.supplier_id,
            spans.c.lot_id,
            func.min(spans.c.first_day).label("first_day"),
            func.max(spans.c.last_day).label("last_day"),
        )
        .group_by(spans.c.supplier_id, spans.c.lot_id)
        .subquery("lot_span")
    )
    return span, production, lines, quality, shipped


def recompute(conn: Connection, scope: Scope) -> int:
    lots = _stale_lots(conn, scope)
    _refresh_lot_shipments(conn, scope)
    lots.delete(conn, lot_trace)
    span, production, lines, quality, shipped = _per_lot(lots)

    def joined(a: Subquery) -> ColumnElement[bool]:
        return and_(a.c.supplier_id == span.c.supplier_id, a.c.lot_id == span.c.lot_id)

    query = select(
        span.c.supplier_id,
        span.c.lot_id,
        span.c.first_day,
        span.c.last_day,
        func.coalesce(production.c.reports, 0),
        production.c.first,
        production.c.last,
        production.c.good,
        production.c.scrap,
        lines.c.lines,
        func.coalesce(quality.c.inspections, 0),
        func.coalesce(quality.c.failed, 0),
        quality.c.defects,
        func.coalesce(shipped.c.shipments, 0),
        func.coalesce(shipped.c.buyers, 0),
    ).select_from(
        span.outerjoin(production, joined(production))
        .outerjoin(lines, joined(lines))
        .outerjoin(quality, joined(quality))
        .outerjoin(shipped, joined(shipped))
    )
    columns = [c.name for c in lot_trace.columns]
    rows = conn.execute(insert(lot_trace).from_select(columns, query)).rowcount
    if lots.refresh_id is not None:
        done = lot_refresh_key.c.refresh_id == lots.refresh_id
        conn.execute(delete(lot_refresh_key).where(done))
    return rows


@dataclass(frozen=True)
class FailedLotDelivery:
    """A shipment that carried a lot which failed at least one inspection."""

    supplier_id: str
    lot_id: str
    buyer_id: str
    shipment_id: str
    part_number: str
    shipped_at: datetime
    inspections_failed: int


def buyers_of_failed_lots(
    conn: Connection, supplier_id: str | None = None
) -> list[FailedLotDelivery]:
    """Which buyers received lots that failed an inspection: every shipment of such a
    lot (of `supplier_id`, or of every supplier), by supplier, buyer, lot and shipment."""
    t, ls = lot_trace.c, lot_shipments.c
    query = (
        select(
            ls.supplier_id,
            ls.lot_id,
            ls.buyer_id,
            ls.shipment_id,
            ls.part_number,
            ls.shipped_at,
            t.inspections_failed,
        )
        .select_from(
            lot_shipments.join(
                lot_trace, and_(t.supplier_id == ls.supplier_id, t.lot_id == ls.lot_id)
            )
        )
        .where(t.inspections_failed > 0)
        .order_by(ls.supplier_id, ls.buyer_id, ls.lot_id, ls.shipment_id, ls.part_number)
    )
    if supplier_id is not None:
        query = query.where(ls.supplier_id == supplier_id)
    return [FailedLotDelivery(*row) for row in conn.execute(query)]


VIEW = View(
    name="lot_trace",
    title="Each lot: production, inspections, and which buyer received it",
    tables=(lot_trace, lot_shipments),
    reads=frozenset({EventType.PRODUCTION, EventType.QUALITY, EventType.SHIPMENT}),
    key_range=same_day,  # the touched days; recompute maps them to the lots in them
    recompute=recompute,
    day_column="last_day",
    totals=(
        ("good", EventType.PRODUCTION, "quantity_good"),
        ("scrap", EventType.PRODUCTION, "quantity_scrap"),
        ("production_reports", EventType.PRODUCTION, "event_id"),
        ("inspections", EventType.QUALITY, "event_id"),
    ),
)
