"""Views: quality and OEE: quality_daily, quality_defects, capability_weekly, oee_daily,
and the reference table ideal_cycle_time (seconds per unit of a part on a line) OEE needs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.history import touch_history

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "capability_weekly",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.Column("characteristic", sa.Text(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False, comment="Monday of the local day's ISO week."),
        sa.Column("unit", sa.Text(), nullable=True, comment="Unit of the values and limits."),
        sa.Column("n", sa.Integer(), nullable=False, comment="Measurements counted."),
        sa.Column("mean", sa.Double(), nullable=False, comment="Mean of the values (unit)."),
        sa.Column(
            "stddev",
            sa.Double(),
            nullable=True,
            comment="Sample standard deviation, n - 1 (unit); NULL if n < 2.",
        ),
        sa.Column("lsl", sa.Double(), nullable=True, comment="Lower specification limit (unit)."),
        sa.Column("usl", sa.Double(), nullable=True, comment="Upper specification limit (unit)."),
        sa.Column("cp", sa.Double(), nullable=True, comment="(usl - lsl) / (6 stddev)."),
        sa.Column(
            "cpk", sa.Double(), nullable=True, comment="min(usl - mean, mean - lsl) / (3 stddev)."
        ),
        sa.Column("null_reason", sa.Text(), nullable=True, comment="Why cp and cpk are NULL."),
        sa.Column(
            "limits_varied",
            sa.Boolean(),
            nullable=True,
            comment="The week's measurements did not all carry the same lsl and usl.",
        ),
        comment="Weekly process capability per supplier, part and characteristic.",
    )
    with op.batch_alter_table("capability_weekly", schema=None) as batch_op:
        batch_op.create_index(
            "ix_capability_weekly_supplier_week", ["supplier_id", "week"], unique=False
        )

    op.create_table(
        "ideal_cycle_time",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("ideal_cycle_seconds", sa.Double(), nullable=False),
        sa.CheckConstraint("ideal_cycle_seconds > 0", name=op.f("ck_ideal_cycle_time_positive")),
        sa.PrimaryKeyConstraint(
            "site_id", "line_id", "part_number", name=op.f("pk_ideal_cycle_time")
        ),
    )
    with op.batch_alter_table("ideal_cycle_time", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ideal_cycle_time_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "oee_daily",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="Local day at the site."),
        sa.Column(
            "machines",
            sa.Integer(),
            nullable=False,
            comment="Machines that reported a state that day.",
        ),
        sa.Column(
            "apt_hours",
            sa.Double(),
            nullable=True,
            comment="Actual production time (RUNNING), machine average, h.",
        ),
        sa.Column(
            "pbt_hours",
            sa.Double(),
            nullable=True,
            comment="Planned busy time (RUNNING + DOWN), machine average, h.",
        ),
        sa.Column("availability", sa.Double(), nullable=True, comment="APT / PBT (ISO 22400-2)."),
        sa.Column("availability_null_reason", sa.Text(), nullable=True),
        sa.Column(
            "produced",
            sa.BigInteger(),
            nullable=True,
            comment="Σ (quantity_good + quantity_scrap) (units).",
        ),
        sa.Column("good", sa.BigInteger(), nullable=True, comment="Σ quantity_good (units)."),
        sa.Column(
            "effectiveness",
            sa.Double(),
            nullable=True,
            comment="Σ produced * ideal cycle time / APT.",
        ),
        sa.Column("effectiveness_null_reason", sa.Text(), nullable=True),
        sa.Column("quality_ratio", sa.Double(), nullable=True, comment="good / produced."),
        sa.Column("quality_null_reason", sa.Text(), nullable=True),
        sa.Column(
            "oee",
            sa.Double(),
            nullable=True,
            comment="availability * effectiveness * quality_ratio.",
        ),
        sa.Column(
            "effectiveness_note",
            sa.Text(),
            nullable=True,
            comment="Set when effectiveness exceeds 1.",
        ),
        comment="Daily OEE per supplier, site and line (ISO 22400-2).",
    )
    with op.batch_alter_table("oee_daily", schema=None) as batch_op:
        batch_op.create_index("ix_oee_daily_supplier_day", ["supplier_id", "day"], unique=False)

    op.create_table(
        "oee_day_end",
        sa.Column("refresh_id", sa.String(length=36), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "end_ms", sa.BigInteger(), nullable=False, comment="The next local midnight, epoch ms."
        ),
        sa.PrimaryKeyConstraint(
            "refresh_id", "supplier_id", "site_id", "day", name=op.f("pk_oee_day_end")
        ),
        comment="Scratch: the end of each local day one oee_daily refresh clips at (empty between).",
    )
    op.create_table(
        "quality_daily",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.Column("inspection_stage", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="Local day of event_time at the site."),
        sa.Column(
            "inspections", sa.Integer(), nullable=False, comment="Inspection events counted."
        ),
        sa.Column(
            "inspected", sa.BigInteger(), nullable=False, comment="Σ inspected_quantity (pieces)."
        ),
        sa.Column(
            "defective", sa.BigInteger(), nullable=False, comment="Σ defect_quantity (pieces)."
        ),
        sa.Column(
            "fail_count", sa.Integer(), nullable=False, comment="Inspections with result FAIL."
        ),
        sa.Column(
            "yield",
            sa.Double(),
            nullable=True,
            comment="1 - defective / inspected (NULL: nothing inspected).",
        ),
        sa.Column(
            "ppm",
            sa.Double(),
            nullable=True,
            comment="defective / inspected * 1,000,000 (defective parts per million).",
        ),
        sa.Column(
            "yield_null_reason", sa.Text(), nullable=True, comment="Why yield and ppm are NULL."
        ),
        comment="Daily inspections, yield and ppm per supplier, site, line, part and stage.",
    )
    with op.batch_alter_table("quality_daily", schema=None) as batch_op:
        batch_op.create_index("ix_quality_daily_supplier_day", ["supplier_id", "day"], unique=False)

    op.create_table(
        "quality_defects",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.Column("week", sa.Date(), nullable=False, comment="Monday of the local day's ISO week."),
        sa.Column(
            "code",
            sa.Text(),
            nullable=False,
            comment="Defect code (supplier's catalogue).",
        ),
        sa.Column(
            "severity", sa.String(length=16), nullable=False, comment="MINOR, MAJOR or CRITICAL."
        ),
        sa.Column(
            "count", sa.BigInteger(), nullable=False, comment="Σ defects[].count (occurrences)."
        ),
        comment="Weekly defect occurrences per supplier, part, code and severity (a Pareto).",
    )
    with op.batch_alter_table("quality_defects", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_defects_supplier_week", ["supplier_id", "week"], unique=False
        )
    # A database with a history: its keys are stale in the new views.
    touch_history("quality_daily", ["landing_quality"])
    touch_history("quality_defects", ["landing_quality"])
    touch_history("capability_weekly", ["landing_quality"])
    touch_history("oee_daily", ["landing_machine_status", "landing_production"])


def downgrade() -> None:
    with op.batch_alter_table("quality_defects", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_defects_supplier_week")

    op.drop_table("quality_defects")
    with op.batch_alter_table("quality_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_daily_supplier_day")

    op.drop_table("quality_daily")
    with op.batch_alter_table("oee_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_oee_daily_supplier_day")

    op.drop_table("oee_day_end")
    op.drop_table("oee_daily")
    with op.batch_alter_table("ideal_cycle_time", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ideal_cycle_time_supplier_id"))

    op.drop_table("ideal_cycle_time")
    with op.batch_alter_table("capability_weekly", schema=None) as batch_op:
        batch_op.drop_index("ix_capability_weekly_supplier_week")

    op.drop_table("capability_weekly")
