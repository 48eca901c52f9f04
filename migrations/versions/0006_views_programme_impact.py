"""Views: programme impact: programme_impact (each supplier's metrics before and after its
smart-factory go-live) and programme_impact_rollup (per sector and sponsor).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.history import touch_history

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "programme_impact",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column(
            "metric",
            sa.String(length=32),
            nullable=False,
            comment="good_per_run_hour, oee, scrap_rate, ppm.",
        ),
        sa.Column(
            "go_live",
            sa.Date(),
            nullable=True,
            comment="organisation.go_live when computed (NULL: none).",
        ),
        sa.Column(
            "ramp_up_days", sa.Integer(), nullable=False, comment="Days from go-live left out."
        ),
        sa.Column(
            "days_before", sa.Integer(), nullable=False, comment="Days with a value before go-live."
        ),
        sa.Column(
            "days_after",
            sa.Integer(),
            nullable=False,
            comment="Days with a value after the ramp-up.",
        ),
        sa.Column(
            "mean_before",
            sa.Double(),
            nullable=True,
            comment="Mean daily value before go-live (metric's unit).",
        ),
        sa.Column(
            "mean_after",
            sa.Double(),
            nullable=True,
            comment="Mean daily value after the ramp-up (metric's unit).",
        ),
        sa.Column(
            "uplift_pct",
            sa.Double(),
            nullable=True,
            comment="100 * (mean_after - mean_before) / mean_before (per cent).",
        ),
        sa.Column(
            "ci_low_pct",
            sa.Double(),
            nullable=True,
            comment="Low end of the 95 % bootstrap interval (%).",
        ),
        sa.Column(
            "ci_high_pct",
            sa.Double(),
            nullable=True,
            comment="High end of the 95 % bootstrap interval (%).",
        ),
        sa.Column(
            "higher_is_better",
            sa.Boolean(),
            nullable=False,
            comment="The metric's good direction: false for scrap_rate and ppm.",
        ),
        sa.Column(
            "better",
            sa.Boolean(),
            nullable=True,
            comment="Whether uplift_pct moved the good direction.",
        ),
        sa.Column(
            "null_reason",
            sa.Text(),
            nullable=True,
            comment="Why uplift_pct or the interval is NULL.",
        ),
        sa.PrimaryKeyConstraint("supplier_id", "metric", name=op.f("pk_programme_impact")),
        comment="Each supplier's metrics before and after its smart-factory go-live.",
    )
    op.create_table(
        "programme_impact_rollup",
        sa.Column("group_kind", sa.String(length=16), nullable=False, comment="sector or sponsor."),
        sa.Column(
            "group_id",
            sa.String(length=100),
            nullable=False,
            comment="The sector, or the sponsor's id.",
        ),
        sa.Column(
            "metric",
            sa.String(length=32),
            nullable=False,
            comment="good_per_run_hour, oee, scrap_rate, ppm.",
        ),
        sa.Column(
            "suppliers", sa.Integer(), nullable=False, comment="Suppliers with an uplift_pct."
        ),
        sa.Column(
            "uplift_pct",
            sa.Double(),
            nullable=True,
            comment="Mean of the suppliers' uplift_pct (per cent).",
        ),
        sa.Column(
            "ci_low_pct",
            sa.Double(),
            nullable=True,
            comment="Low end of the 95 % bootstrap interval (%).",
        ),
        sa.Column(
            "ci_high_pct",
            sa.Double(),
            nullable=True,
            comment="High end of the 95 % bootstrap interval (%).",
        ),
        sa.Column(
            "higher_is_better",
            sa.Boolean(),
            nullable=False,
            comment="The metric's good direction: false for scrap_rate and ppm.",
        ),
        sa.Column(
            "better",
            sa.Boolean(),
            nullable=True,
            comment="Whether uplift_pct moved the good direction.",
        ),
        sa.Column(
            "null_reason",
            sa.Text(),
            nullable=True,
            comment="Why uplift_pct or the interval is NULL.",
        ),
        sa.PrimaryKeyConstraint(
            "group_kind", "group_id", "metric", name=op.f("pk_programme_impact_rollup")
        ),
        comment="Mean supplier uplift per sector and per sponsor, with a bootstrap interval.",
    )
    # A database with a history: its keys are stale in the new views.
    touch_history(
        "programme_impact", ["landing_production", "landing_quality", "landing_machine_status"]
    )


def downgrade() -> None:
    op.drop_table("programme_impact_rollup")
    op.drop_table("programme_impact")
