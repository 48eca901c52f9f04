"""Quality views: daily yield, a weekly defect Pareto and weekly process capability.

quality_daily, per supplier, site, line, part, inspection stage and business day (the
local day of the inspection's event_time at the site): inspections (events), inspected
= Σ inspected_quantity, defective = Σ defect_quantity (pieces), fail_count = events
with result FAIL, yield = 1 - defective / inspected, ppm = defective / inspected *
1,000,000 (defective parts per million). yield and ppm are NULL when nothing was
inspected (inspected = 0), with `yield_null_reason`.

quality_defects, per supplier, part, week (the Monday of the business day's ISO week),
defect code and severity: count = Σ defects[].count over the inspections of the week
(occurrences, not pieces: one piece may show two defects). Codes reported with count 0
are kept, as reported. A Pareto reads it ordered by count.

capability_weekly, per supplier, part, characteristic and week, over every value of
measurements[] of the week's inspections (all stages): n, mean, stddev = the sample
standard deviation (n - 1), lsl, usl, cp = (usl - lsl) / (6 stddev), cpk = min(usl -
mean, mean - lsl) / (3 stddev). Limits: the week's strictest, i.e. the highest lsl and
the lowest usl any of its measurements carries, so a specification changed during the
week never flatters the index; `limits_varied` says the limits were not the same on
every measurement (one without a limit counts as different). cp and cpk are NULL, with
`null_reason` (every reason that applies, "; "-joined), when n < 25, when lsl or usl is
missing (no measurement of the week carries it), when the values come in more than one
unit, when stddev is 0 or when lsl is not below usl.

n, mean and Σ (x - mean)² are computed in SQL (the mean first, by a window, so the sum
of squares does not cancel catastrophically as n Σx² - (Σx)² would); the square root
and the indices are finished in Python from those aggregated rows, because SQLite has
`sqrt` only when built with its math functions.
"""

import math
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Double,
    Index,
    Integer,
    String,
    Table,
    Text,
    case,
    cast,
    func,
    insert,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Connection

from pipelines.landing.models import LANDING
from pipelines.views.base import Scope, View, same_day, same_week
from pipelines.views.sql import (
    KEEP_ROWCOUNT,
    json_array_elements,
    json_field,
    ratio,
    real,
    week_start,
)
from sangsaeng.db import METADATA
from schemas.topics import EventType

MIN_CAPABILITY_SAMPLES = 25  # below this, Cp and Cpk are too uncertain to publish

NOTHING_INSPECTED = "nothing inspected"
FEW_MEASUREMENTS = f"fewer than {MIN_CAPABILITY_SAMPLES} measurements"
NO_LSL = "no lower specification limit"
NO_USL = "no upper specification limit"
MIXED_UNITS = "values in more than one unit"
NO_SPREAD = "no variation (stddev 0)"
LIMITS_INVERTED = "lsl is not below usl"

quality_daily = Table(
    "quality_daily",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column("site_id", String(64), nullable=False),
    Column("line_id", String(64), nullable=False),
    Column("part_number", String(100), nullable=False),
    Column("inspection_stage", String(32), nullable=False),
    Column("day", Date, nullable=False, comment="Local day of event_time at the site."),
    Column("inspections", Integer, nullable=False, comment="Inspection events counted."),
    Column("inspected", BigInteger, nullable=False, comment="Σ inspected_quantity (pieces)."),
    Column("defective", BigInteger, nullable=False, comment="Σ defect_quantity (pieces)."),
    Column("fail_count", Integer, nullable=False, comment="Inspections with result FAIL."),
    Column("yield", Double, comment="1 - defective / inspected (NULL: nothing inspected)."),
    Column(
        "ppm", Double, comment="defective / inspected * 1,000,000 (defective parts per million)."
    ),
    Column("yield_null_reason", Text, comment="Why yield and ppm are NULL."),
    Index("ix_quality_daily_supplier_day", "supplier_id", "day"),
    comment="Daily inspections, yield and ppm per supplier, site, line, part and stage.",
)

quality_defects = Table(
    "quality_defects",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column("part_number", String(100), nullable=False),
    Column("week", Date, nullable=False, comment="Monday of the local day's ISO week."),
    Column("code", Text, nullable=False, comment="Defect code (supplier's catalogue)."),
    Column("severity", String(16), nullable=False, comment="MINOR, MAJOR or CRITICAL."),
    Column("count", BigInteger, nullable=False, comment="Σ defects[].count (occurrences)."),
    Index("ix_quality_defects_supplier_week", "supplier_id", "week"),
    comment="Weekly defect occurrences per supplier, part, code and severity (a Pareto).",
)

capability_weekly = Table(
    "capability_weekly",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column("part_number", String(100), nullable=False),
    Column("characteristic", Text, nullable=False),
    Column("week", Date, nullable=False, comment="Monday of the local day's ISO week."),
    Column("unit", Text, comment="Unit of the values and limits."),
    Column("n", Integer, nullable=False, comment="Measurements counted."),
    Column("mean", Double, nullable=False, comment="Mean of the values (unit)."),
    Column("stddev", Double, comment="Sample standard deviation, n - 1 (unit); NULL if n < 2."),
    Column("lsl", Double, comment="Lower specification limit (unit)."),
    Column("usl", Double, comment="Upper specification limit (unit)."),
    Column("cp", Double, comment="(usl - lsl) / (6 stddev)."),
    Column("cpk", Double, comment="min(usl - mean, mean - lsl) / (3 stddev)."),
    Column("null_reason", Text, comment="Why cp and cpk are NULL."),
    Column(
        "limits_varied",
        Boolean,
        comment="The week's measurements did not all carry the same lsl and usl.",
    ),
    Index("ix_capability_weekly_supplier_week", "supplier_id", "week"),
    comment="Weekly process capability per supplier, part and characteristic.",
)


def recompute_daily(conn: Connection, scope: Scope) -> int:
    scope.delete(conn, quality_daily)
    q = LANDING[EventType.QUALITY].c
    inspected, defective = func.sum(q.inspected_quantity), func.sum(q.defect_quantity)
    share = ratio(defective, inspected)  # NULL when nothing was inspected
    query = (
        select(
            q.supplier_id,
            q.site_id,
            q.line_id,
            q.part_number,
            q.inspection_stage,
            q.business_day,
            func.count(),
            inspected,
            defective,
            func.sum(case((q.result == "FAIL", 1), else_=0)),
            1.0 - share,
            share * 1_000_000.0,
            case((inspected > 0, None), else_=NOTHING_INSPECTED),
        )
        .select_from(scope.source(LANDING[EventType.QUALITY]))
        .where(scope.where())
        .group_by(
            q.supplier_id,
            q.site_id,
            q.line_id,
            q.part_number,
            q.inspection_stage,
            q.business_day,
        )
    )
    columns = [c.name for c in quality_daily.columns]
    return conn.execute(
        insert(quality_daily).from_select(columns, query), execution_options=KEEP_ROWCOUNT
    ).rowcount


def recompute_defects(conn: Connection, scope: Scope) -> int:
    scope.delete(conn, quality_defects, "week")
    landing = LANDING[EventType.QUALITY]
    q = landing.c
    defect = json_array_elements(q.defects, "defect")
    # Unnest in a subquery and group outside it, so GROUP BY names plain columns.
    rows = (
        select(
            q.supplier_id,
            q.part_number,
            week_start(q.business_day).label("week"),
            json_field(defect.c.value, "code").label("code"),
            json_field(defect.c.value, "severity").label("severity"),
            cast(json_field(defect.c.value, "count"), BigInteger).label("count"),
        )
        .select_from(scope.source(landing).join(defect, true()))
        .where(scope.where())
        .subquery("defects")
    )
    query = select(
        rows.c.supplier_id,
        rows.c.part_number,
        rows.c.week,
        rows.c.code,
        rows.c.severity,
        func.sum(rows.c.count),
    ).group_by(rows.c.supplier_id, rows.c.part_number, rows.c.week, rows.c.code, rows.c.severity)
    columns = [c.name for c in quality_defects.columns]
    return conn.execute(
        insert(quality_defects).from_select(columns, query), execution_options=KEEP_ROWCOUNT
    ).rowcount


def capability(
    n: int,
    mean: float,
    squares: float,
    *,
    lsl: float | None,
    usl: float | None,
    units: int,
    constant: bool = False,
) -> tuple[float | None, float | None, float | None, str | None]:
    """(stddev, cp, cpk, null_reason) from n, the mean, Σ (x - mean)², the limits, the
    number of distinct units and whether every value was the same (see the module's
    docstring)."""
    if n < 2:
        stddev = None
    elif constant:
        # exactly 0: a computed mean of equal values can be an ulp off, which would leave
        # a spurious tiny spread (and an enormous Cp)
        stddev = 0.0
    else:
        stddev = math.sqrt(max(squares, 0.0) / (n - 1))
    reasons = []
    if n < MIN_CAPABILITY_SAMPLES:
        reasons.append(FEW_MEASUREMENTS)
    if lsl is None:
        reasons.append(NO_LSL)
    if usl is None:
        reasons.append(NO_USL)
    if units > 1:
        reasons.append(MIXED_UNITS)
    if stddev == 0.0:
        reasons.append(NO_SPREAD)
    if lsl is not None and usl is not None and lsl >= usl:
        reasons.append(LIMITS_INVERTED)
    if reasons or stddev is None or lsl is None or usl is None:
        return stddev, None, None, "; ".join(reasons)
    cp = (usl - lsl) / (6 * stddev)
    cpk = min(usl - mean, mean - lsl) / (3 * stddev)
    return stddev, cp, cpk, None


def capability_rows(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """The aggregated measurements of the scope's weeks, finished into view rows."""
    landing = LANDING[EventType.QUALITY]
    q = landing.c
    item = json_array_elements(q.measurements, "measurement")
    keys = ("supplier_id", "part_number", "characteristic", "week")
    values = (
        select(
            q.supplier_id,
            q.part_number,
            json_field(item.c.value, "characteristic").label("characteristic"),
            week_start(q.business_day).label("week"),
            real(json_field(item.c.value, "value")).label("x"),
            real(json_field(item.c.value, "lsl")).label("lsl"),
            real(json_field(item.c.value, "usl")).label("usl"),
            json_field(item.c.value, "unit").label("unit"),
        )
        .select_from(scope.source(landing).join(item, true()))
        .where(scope.where())
        .subquery("values")
    )
    v = values.c
    with_mean = select(
        values,
        func.avg(v.x).over(partition_by=[v[k] for k in keys]).label("mu"),
    ).subquery("with_mean")
    m = with_mean.c
    n = func.count(m.x)
    query = (
        select(
            *[m[k] for k in keys],
            func.min(m.unit).label("unit"),
            func.count(m.unit.distinct()).label("units"),
            n.label("n"),
            func.avg(m.x).label("mean"),
            func.sum((m.x - m.mu) * (m.x - m.mu)).label("squares"),
            (func.min(m.x) == func.max(m.x)).label("constant"),
            func.max(m.lsl).label("lsl"),
            func.min(m.usl).label("usl"),
            or_(
                func.min(m.lsl) != func.max(m.lsl),
                func.min(m.usl) != func.max(m.usl),
                func.count(m.lsl).between(1, n - 1),
                func.count(m.usl).between(1, n - 1),
            ).label("varied"),
        )
        .where(m.x.is_not(None))
        .group_by(*[m[k] for k in keys])
    )
    out = []
    for row in conn.execute(query).mappings():
        stddev, cp, cpk, reason = capability(
            row["n"],
            row["mean"],
            row["squares"] or 0.0,
            lsl=row["lsl"],
            usl=row["usl"],
            units=row["units"],
            constant=bool(row["constant"]),
        )
        out.append(
            {
                **{k: row[k] for k in keys},
                "unit": row["unit"],
                "n": row["n"],
                "mean": row["mean"],
                "stddev": stddev,
                "lsl": row["lsl"],
                "usl": row["usl"],
                "cp": cp,
                "cpk": cpk,
                "null_reason": reason,
                "limits_varied": bool(row["varied"]),
            }
        )
    return out


def recompute_capability(conn: Connection, scope: Scope) -> int:
    scope.delete(conn, capability_weekly, "week")
    rows = capability_rows(conn, scope)
    if rows:
        conn.execute(insert(capability_weekly), rows)
    return len(rows)


DAILY = View(
    name="quality_daily",
    title="Inspections, yield, ppm and failed inspections per line, part, stage and day",
    tables=(quality_daily,),
    reads=frozenset({EventType.QUALITY}),
    key_range=same_day,
    recompute=recompute_daily,
    ratios=("yield",),
    totals=(
        ("inspected", EventType.QUALITY, "inspected_quantity"),
        ("defective", EventType.QUALITY, "defect_quantity"),
        ("inspections", EventType.QUALITY, "event_id"),  # a count: rows of the landing table
    ),
)

DEFECTS = View(
    name="quality_defects",
    title="Defect occurrences per part, code and severity and week (a Pareto)",
    tables=(quality_defects,),
    reads=frozenset({EventType.QUALITY}),
    key_range=same_week,
    recompute=recompute_defects,
    day_column="week",
)

CAPABILITY = View(
    name="capability_weekly",
    title="Process capability (n, mean, stddev, Cp, Cpk) per part, characteristic and week",
    tables=(capability_weekly,),
    reads=frozenset({EventType.QUALITY}),
    key_range=same_week,
    recompute=recompute_capability,
    day_column="week",
)
