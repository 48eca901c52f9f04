"""production_daily: output per supplier, site, line, part, buyer and business day.

good, scrap: Σ quantity_good, Σ quantity_scrap (units). planned: Σ planned_quantity of
the reports that carry one (NULL when none does). attainment = Σ good of those reports /
planned. scrap_rate = scrap / (good + scrap). run_hours = Σ (end_time - start_time) in
hours. good_per_run_hour = good / run_hours (units per hour). The day is the local day
of end_time at the site.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Double,
    Index,
    Integer,
    String,
    Table,
    case,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection

from pipelines.landing.models import LANDING
from pipelines.views.base import Scope, View, same_day
from pipelines.views.sql import KEEP_ROWCOUNT, duration_ms, ratio, real
from sangsaeng.db import METADATA
from schemas.topics import EventType

production_daily = Table(
    "production_daily",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column("site_id", String(64), nullable=False),
    Column("line_id", String(64), nullable=False),
    Column("part_number", String(100), nullable=False),
    Column("buyer_id", String(64), comment="The customer the output is for, when sent."),
    Column("day", Date, nullable=False, comment="Local day of end_time at the site."),
    Column("reports", Integer, nullable=False, comment="Production events counted."),
    Column("good", BigInteger, nullable=False, comment="Σ quantity_good (units)."),
    Column("scrap", BigInteger, nullable=False, comment="Σ quantity_scrap (units)."),
    Column("planned", BigInteger, comment="Σ planned_quantity where sent (units)."),
    Column("attainment", Double, comment="Σ good of reports with a plan / planned."),
    Column("scrap_rate", Double, comment="scrap / (good + scrap)."),
    Column("run_hours", Double, nullable=False, comment="Σ (end_time - start_time), hours."),
    Column("good_per_run_hour", Double, comment="good / run_hours (units per hour)."),
    Index("ix_production_daily_supplier_day", "supplier_id", "day"),
    comment="Daily output per supplier, site, line, part and buyer.",
)


def recompute(conn: Connection, scope: Scope) -> int:
    scope.delete(conn, production_daily)
    p = LANDING[EventType.PRODUCTION].c
    good, scrap = func.sum(p.quantity_good), func.sum(p.quantity_scrap)
    planned = func.sum(p.planned_quantity)
    good_with_plan = func.sum(case((p.planned_quantity.is_not(None), p.quantity_good)))
    run_ms = func.sum(duration_ms(p.start_time, p.end_time))
    run_hours = real(run_ms) / 3_600_000.0
    query = (
        select(
            p.supplier_id,
            p.site_id,
            p.line_id,
            p.part_number,
            p.buyer_id,
            p.business_day,
            func.count(),
            good,
            scrap,
            planned,
            ratio(good_with_plan, planned),
            ratio(scrap, good + scrap),
            run_hours,
            ratio(good * 3_600_000.0, run_ms),
        )
        .select_from(scope.source(LANDING[EventType.PRODUCTION]))
        .where(scope.where())
        .group_by(p.supplier_id, p.site_id, p.line_id, p.part_number, p.buyer_id, p.business_day)
    )
    columns = [c.name for c in production_daily.columns]
    statement = insert(production_daily).from_select(columns, query)
    return conn.execute(statement, execution_options=KEEP_ROWCOUNT).rowcount


VIEW = View(
    name="production_daily",
    title="Output, scrap, plan attainment and units per run hour, per line, part and day",
    tables=(production_daily,),
    reads=frozenset({EventType.PRODUCTION}),
    key_range=same_day,
    recompute=recompute,
    ratios=("scrap_rate",),
    totals=(
        ("good", EventType.PRODUCTION, "quantity_good"),
        ("scrap", EventType.PRODUCTION, "quantity_scrap"),
        ("reports", EventType.PRODUCTION, "event_id"),  # a count: rows of the landing table
    ),
)
