"""Quality views (tables declared first; definitions follow in the module docstring)."""

from sqlalchemy import BigInteger, Column, Date, Double, Index, Integer, String, Table, Text

from sangsaeng.db import METADATA

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
    Column("code", String(100), nullable=False, comment="Defect code (supplier's catalogue)."),
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
    Column("characteristic", String(100), nullable=False),
    Column("week", Date, nullable=False, comment="Monday of the local day's ISO week."),
    Column("unit", String(16), comment="Unit of the values and limits."),
    Column("n", Integer, nullable=False, comment="Measurements counted."),
    Column("mean", Double, nullable=False, comment="Mean of the values (unit)."),
    Column("stddev", Double, comment="Sample standard deviation, n - 1 (unit); NULL if n < 2."),
    Column("lsl", Double, comment="Lower specification limit (unit)."),
    Column("usl", Double, comment="Upper specification limit (unit)."),
    Column("cp", Double, comment="(usl - lsl) / (6 stddev)."),
    Column("cpk", Double, comment="min(usl - mean, mean - lsl) / (3 stddev)."),
    Column("null_reason", Text, comment="Why cp and cpk are NULL."),
    Index("ix_capability_weekly_supplier_week", "supplier_id", "week"),
    comment="Weekly process capability per supplier, part and characteristic.",
)
