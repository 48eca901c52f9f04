"""Programme-wide summaries over the views, for the operator's terminal (the demo): the
maturity distribution against the national one, output and OEE per supplier, and the
productivity uplift by sector."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from governance.models import Organisation, Role
from pipelines.views.impact import Metric, programme_impact, programme_impact_rollup
from pipelines.views.maturity import LEVELS, supplier_maturity
from pipelines.views.oee import oee_daily
from pipelines.views.production import production_daily

# Share of government-supported SME smart factories per level (DOMAIN.md: a 2024 report).
NATIONAL_PCT = {"basic": 80.0, "intermediate 1": 18.7, "intermediate 2": 1.5, "advanced": 0.0}


def latest_levels(engine: Engine) -> dict[str, str]:
    """Each supplier's level in its latest week with a maturity row."""
    m = supplier_maturity.c
    latest = (
        select(m.supplier_id, func.max(m.week).label("week")).group_by(m.supplier_id).subquery()
    )
    query = select(m.supplier_id, m.level).join(
        latest, (latest.c.supplier_id == m.supplier_id) & (latest.c.week == m.week)
    )
    with engine.connect() as conn:
        return {supplier: level for supplier, level in conn.execute(query)}


def maturity_distribution(engine: Engine) -> list[dict[str, Any]]:
    """Suppliers per level (latest week each), with the programme's and the national share."""
    levels = latest_levels(engine)
    total = len(levels) or 1
    return [
        {
            "level": level.value,
            "suppliers": sum(1 for v in levels.values() if v == level.value),
            "share_pct": 100.0 * sum(1 for v in levels.values() if v == level.value) / total,
            "national_pct": NATIONAL_PCT.get(level.value),
        }
        for level in LEVELS
    ]


def supplier_output(engine: Engine) -> list[dict[str, Any]]:
    """Per supplier: sector, good units, good units per run hour, mean OEE, latest level."""
    organisations = Organisation.__table__
    p, o, org = production_daily.c, oee_daily.c, organisations.c
    output = (
        select(
            p.supplier_id,
            func.sum(p.good).label("good"),
            func.sum(p.run_hours).label("run_hours"),
        )
        .group_by(p.supplier_id)
        .subquery()
    )
    oee = (
        select(o.supplier_id, func.avg(o.oee).label("oee"))
        .where(o.oee.is_not(None))
        .group_by(o.supplier_id)
        .subquery()
    )
    query = (
        select(org.org_id, org.sector, output.c.good, output.c.run_hours, oee.c.oee)
        .select_from(organisations)
        .join(output, output.c.supplier_id == org.org_id)
        .outerjoin(oee, oee.c.supplier_id == org.org_id)
        .where(org.role == Role.SUPPLIER.value)
        .order_by(org.org_id)
    )
    levels = latest_levels(engine)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "supplier": r.org_id,
            "sector": r.sector,
            "good": int(r.good or 0),
            "good_per_run_hour": (r.good / r.run_hours) if r.run_hours else None,
            "oee": r.oee,
            "level": levels.get(r.org_id),
        }
        for r in rows
    ]


def uplift_by_sector(
    engine: Engine, metric: Metric = Metric.GOOD_PER_RUN_HOUR
) -> list[dict[str, Any]]:
    """The roll-up by sector of one metric's before/after uplift."""
    r = programme_impact_rollup.c
    query = (
        select(r.group_id, r.suppliers, r.uplift_pct, r.ci_low_pct, r.ci_high_pct, r.null_reason)
        .where(r.group_kind == "sector", r.metric == metric.value)
        .order_by(r.uplift_pct.desc())
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def largest_uplifts(
    engine: Engine, metric: Metric = Metric.GOOD_PER_RUN_HOUR, limit: int = 5
) -> list[dict[str, Any]]:
    """The suppliers with the largest uplift of `metric`, with their intervals."""
    i = programme_impact.c
    query = (
        select(
            i.supplier_id, i.days_before, i.days_after, i.uplift_pct, i.ci_low_pct, i.ci_high_pct
        )
        .where(i.metric == metric.value, i.uplift_pct.is_not(None))
        .order_by(i.uplift_pct.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
