"""Views: programme_impact_daily, the daily values programme_impact compares, so a refresh
reads a supplier's history from one indexed table instead of the daily views.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.history import touch_history

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "programme_impact_daily",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column(
            "metric",
            sa.String(length=32),
            nullable=False,
            comment="good_per_run_hour, oee, scrap_rate, ppm.",
        ),
        sa.Column(
            "day", sa.Date(), nullable=False, comment="Local day (site timezone) of the values."
        ),
        sa.Column(
            "value", sa.Double(), nullable=False, comment="The metric's daily value (its unit)."
        ),
        sa.PrimaryKeyConstraint(
            "supplier_id", "metric", "day", name=op.f("pk_programme_impact_daily")
        ),
        comment="Each supplier's daily value of the impact metrics (what programme_impact "
        "compares).",
    )
    # A database with a history: every day of it fills the new table at the next refresh
    # (the bootstrap changed too, so every supplier's interval is recomputed).
    touch_history(
        "programme_impact", ["landing_production", "landing_quality", "landing_machine_status"]
    )


def downgrade() -> None:
    op.drop_table("programme_impact_daily")
