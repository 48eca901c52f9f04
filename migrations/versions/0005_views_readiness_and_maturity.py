"""Views: readiness and maturity: data_readiness and supplier_maturity.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.history import touch_history

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_readiness",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="The supplier's local (business) day."),
        sa.Column(
            "received",
            sa.Integer(),
            nullable=False,
            comment="Events landed with that business_day.",
        ),
        sa.Column(
            "period_hours", sa.Integer(), nullable=False, comment="The type's period (hours)."
        ),
        sa.Column(
            "first_hour",
            sa.Integer(),
            nullable=True,
            comment="First local hour (0-23) of the operating window.",
        ),
        sa.Column(
            "last_hour",
            sa.Integer(),
            nullable=True,
            comment="Last local hour (0-23) of the operating window.",
        ),
        sa.Column(
            "expected_periods",
            sa.Integer(),
            nullable=True,
            comment="The type's periods overlapping the window.",
        ),
        sa.Column(
            "received_periods",
            sa.Integer(),
            nullable=False,
            comment="Expected periods with at least one event of the type.",
        ),
        sa.Column(
            "periods_completeness",
            sa.Double(),
            nullable=True,
            comment="received_periods / expected_periods.",
        ),
        sa.Column(
            "optional_fields", sa.Integer(), nullable=False, comment="Optional contract fields."
        ),
        sa.Column(
            "fields_completeness",
            sa.Double(),
            nullable=True,
            comment="Share of non-null optional field values.",
        ),
        sa.Column(
            "freshness_median_s",
            sa.Double(),
            nullable=True,
            comment="Median (kafka_timestamp - event_time), s.",
        ),
        sa.Column(
            "freshness_p95_s",
            sa.Double(),
            nullable=True,
            comment="95th percentile of the same lag, s.",
        ),
        sa.Column(
            "quarantined", sa.Integer(), nullable=False, comment="Open quarantine rows that day."
        ),
        sa.Column(
            "quarantine_rate",
            sa.Double(),
            nullable=True,
            comment="quarantined / (received + quarantined).",
        ),
        sa.Column(
            "score",
            sa.Double(),
            nullable=True,
            comment="0-100, the weighted formula of the module docstring.",
        ),
        sa.Column("null_reason", sa.Text(), nullable=True, comment="Why some values are NULL."),
        comment="Received vs expected, completeness, freshness and quarantine per feed and day.",
    )
    with op.batch_alter_table("data_readiness", schema=None) as batch_op:
        batch_op.create_index(
            "ix_data_readiness_supplier_day", ["supplier_id", "day"], unique=False
        )

    op.create_table(
        "supplier_maturity",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column(
            "week",
            sa.Date(),
            nullable=False,
            comment="Monday of the ISO week of the business days.",
        ),
        sa.Column(
            "level",
            sa.String(length=32),
            nullable=False,
            comment="none, basic, intermediate 1, ...",
        ),
        sa.Column("level_rank", sa.Integer(), nullable=False, comment="0 (none) to 4 (advanced)."),
        sa.Column(
            "criteria_met", sa.Integer(), nullable=False, comment="Criteria met, of all levels."
        ),
        sa.Column(
            "evidence", sa.JSON(), nullable=False, comment="Per criterion: met, value, threshold."
        ),
        sa.Column(
            "evidence_text",
            sa.Text(),
            nullable=False,
            comment="The evidence, one line a criterion.",
        ),
        sa.Column(
            "next_step",
            sa.Text(),
            nullable=False,
            comment="What to send or fix for the next level.",
        ),
        comment="The smart-factory level the data shows, per supplier and week, with evidence.",
    )
    with op.batch_alter_table("supplier_maturity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_supplier_maturity_supplier_week", ["supplier_id", "week"], unique=False
        )
    # A database with a history: its keys are stale in the new views.
    touch_history(
        "data_readiness",
        [
            "landing_production",
            "landing_quality",
            "landing_machine_status",
            "landing_shipment",
            "landing_energy",
        ],
        quarantine=True,
    )
    touch_history(
        "supplier_maturity",
        [
            "landing_production",
            "landing_quality",
            "landing_machine_status",
            "landing_shipment",
            "landing_energy",
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("supplier_maturity", schema=None) as batch_op:
        batch_op.drop_index("ix_supplier_maturity_supplier_week")

    op.drop_table("supplier_maturity")
    with op.batch_alter_table("data_readiness", schema=None) as batch_op:
        batch_op.drop_index("ix_data_readiness_supplier_day")

    op.drop_table("data_readiness")
