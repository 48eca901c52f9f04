"""carbon_monthly: energy by source, and energy and grid CO2e per good unit, per supplier,
site and month (the site's local month of each reading's period_end and each production
report's end_time).

readings: energy readings at the site that month. kwh_grid, kwh_solar, kwh_gas,
kwh_other: Σ energy_kwh by energy_source (kWh). GRID is electricity bought from the grid;
SOLAR on-site photovoltaic electricity; GAS the energy of the gas burnt on site (kWh of
fuel, e.g. boilers and furnaces); OTHER anything else metered (district heat, steam,
diesel). kwh_total = their sum. renewable_share = kwh_solar / kwh_total (only SOLAR
counts as renewable). good_units = Σ quantity_good of the site's production that month.
kwh_per_good_unit = kwh_total / good_units (kWh per unit).
kg_co2e = kwh_grid * emission_factor (kg CO2e): grid electricity only (Scope 2,
location-based); GAS and OTHER are not converted, they need factors per fuel that the
events do not carry. kg_co2e_per_good_unit = kg_co2e / good_units.
emission_factor: the grid factor used (kg CO2e per kWh, setting
SANGSAENG_GRID_EMISSION_FACTOR, Korea's national electricity factor by default); each
row keeps the factor it was computed with, and `estimate` is always true: a national
average factor is secondary data, not the supplier's own measurement.
A site-month with production but no readings has NULL energy figures; a month without
good units has NULL per-unit figures; null_reason says which.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Double,
    Index,
    Integer,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    select,
    true,
    union,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Subquery

from pipelines.landing.models import LANDING
from pipelines.views.base import Scope, View, same_month
from pipelines.views.sql import month_start, ratio
from sangsaeng.db import METADATA
from schemas.topics import EventType

SOURCES = ("GRID", "SOLAR", "GAS", "OTHER")
NO_READINGS = "no energy readings at the site this month"
ZERO_ENERGY = "the site's energy readings total 0 kWh this month"
NO_GOOD_UNITS = "no good units produced at the site this month"

carbon_monthly = Table(
    "carbon_monthly",
    METADATA,
    Column("supplier_id", String(64), primary_key=True),
    Column("site_id", String(), primary_key=True),
    Column("month", Date, primary_key=True, comment="First day of the site's local month."),
    Column("readings", Integer, nullable=False, comment="Energy readings counted."),
    Column("kwh_grid", Double, comment="Σ energy_kwh from the grid (kWh)."),
    Column("kwh_solar", Double, comment="Σ energy_kwh of on-site solar (kWh)."),
    Column("kwh_gas", Double, comment="Σ energy_kwh of gas burnt on site (kWh)."),
    Column("kwh_other", Double, comment="Σ energy_kwh of other sources (kWh)."),
    Column("kwh_total", Double, comment="Σ energy_kwh, every source (kWh)."),
    Column("renewable_share", Double, comment="kwh_solar / kwh_total."),
    Column("good_units", Double, comment="Σ quantity_good at the site (units)."),
    Column("kwh_per_good_unit", Double, comment="kwh_total / good_units."),
    Column("kg_co2e", Double, comment="kwh_grid * emission_factor (grid only)."),
    Column("kg_co2e_per_good_unit", Double, comment="kg_co2e / good_units."),
    Column("estimate", Boolean, nullable=False, comment="Always true: secondary data."),
    Column("emission_factor", Double, nullable=False, comment="Grid kg CO2e per kWh used."),
    Column("null_reason", String(80), comment="Why energy or per-unit figures are NULL."),
    Index("ix_carbon_monthly_supplier_month", "supplier_id", "month"),
    comment="Energy by source, kWh and grid CO2e per good unit, per site and month.",
)


def recompute(conn: Connection, scope: Scope) -> int:
    scope.delete(conn, carbon_monthly, "month")
    e = LANDING[EventType.ENERGY].c
    p = LANDING[EventType.PRODUCTION].c
    e_month, p_month = month_start(e.business_day), month_start(p.business_day)
    by_source = {
        source: func.sum(case((e.energy_source == source, e.energy_kwh), else_=0.0))
        for source in SOURCES
    }
    energy = (
        select(
            e.supplier_id,
            e.site_id,
            e_month.label("month"),
            func.count().label("readings"),
            *(kwh.label(source.lower()) for source, kwh in by_source.items()),
            func.sum(e.energy_kwh).label("total"),
        )
        .select_from(scope.source(LANDING[EventType.ENERGY]))
        .where(scope.where())
        .group_by(e.supplier_id, e.site_id, e_month)
        .subquery("site_energy")
    )
    production = (
        select(
            p.supplier_id,
            p.site_id,
            p_month.label("month"),
            func.sum(p.quantity_good).label("good"),
        )
        .select_from(scope.source(LANDING[EventType.PRODUCTION]))
        .where(scope.where())
        .group_by(p.supplier_id, p.site_id, p_month)
        .subquery("site_output")
    )
    keys = union(
        select(energy.c.supplier_id, energy.c.site_id, energy.c.month),
        select(production.c.supplier_id, production.c.site_id, production.c.month),
    ).subquery("site_month")

    def joined(a: Subquery) -> ColumnElement[bool]:
        return and_(
            a.c.supplier_id == keys.c.supplier_id,
            a.c.site_id == keys.c.site_id,
            a.c.month == keys.c.month,
        )

    factor = literal(scope.settings.grid_emission_factor, Double)
    kg = energy.c.grid * factor
    good = production.c.good
    query = select(
        keys.c.supplier_id,
        keys.c.site_id,
        keys.c.month,
        func.coalesce(energy.c.readings, 0),
        energy.c.grid,
        energy.c.solar,
        energy.c.gas,
        energy.c.other,
        energy.c.total,
        ratio(energy.c.solar, energy.c.total),
        good,
        ratio(energy.c.total, good),
        kg,
        ratio(kg, good),
        true(),
        factor,
        case(
            (energy.c.readings.is_(None), literal(NO_READINGS)),
            (energy.c.total == 0, literal(ZERO_ENERGY)),
            (func.coalesce(good, 0) <= 0, literal(NO_GOOD_UNITS)),
            else_=None,
        ),
    ).select_from(keys.outerjoin(energy, joined(energy)).outerjoin(production, joined(production)))
    columns = [c.name for c in carbon_monthly.columns]
    return conn.execute(insert(carbon_monthly).from_select(columns, query)).rowcount


VIEW = View(
    name="carbon_monthly",
    title="Energy by source, kWh and grid kg CO2e per good unit, per site and month (estimate)",
    tables=(carbon_monthly,),
    reads=frozenset({EventType.ENERGY, EventType.PRODUCTION}),
    key_range=same_month,
    recompute=recompute,
    day_column="month",
    ratios=("renewable_share",),
    totals=(
        ("kwh_total", EventType.ENERGY, "energy_kwh"),
        ("good_units", EventType.PRODUCTION, "quantity_good"),
        ("readings", EventType.ENERGY, "event_id"),
    ),
)
