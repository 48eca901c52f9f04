"""oee_daily (tables declared first; the definition follows in the module docstring)."""

from sqlalchemy import BigInteger, Column, Date, Double, Index, Integer, String, Table, Text

from sangsaeng.db import METADATA

oee_daily = Table(
    "oee_daily",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column("site_id", String(64), nullable=False),
    Column("line_id", String(64), nullable=False),
    Column("day", Date, nullable=False, comment="Local day at the site."),
    Column("machines", Integer, nullable=False, comment="Machines that reported a state that day."),
    Column("apt_hours", Double, comment="Actual production time (RUNNING), machine average, h."),
    Column("pbt_hours", Double, comment="Planned busy time (RUNNING + DOWN), machine average, h."),
    Column("availability", Double, comment="APT / PBT (ISO 22400-2)."),
    Column("availability_null_reason", Text),
    Column("produced", BigInteger, comment="Σ (quantity_good + quantity_scrap) (units)."),
    Column("good", BigInteger, comment="Σ quantity_good (units)."),
    Column("effectiveness", Double, comment="Σ produced * ideal cycle time / APT."),
    Column("effectiveness_null_reason", Text),
    Column("quality_ratio", Double, comment="good / produced."),
    Column("quality_null_reason", Text),
    Column("oee", Double, comment="availability * effectiveness * quality_ratio."),
    Index("ix_oee_daily_supplier_day", "supplier_id", "day"),
    comment="Daily OEE per supplier, site and line (ISO 22400-2).",
)
