"""Views: delivery_weekly, lot_trace with lot_shipments (and the lot_refresh_key scratch
table), carbon_monthly; the landing indexes they read by (a lot's rows, a shipment's
reports, a promised week's shipments).

The column ShipmentEvent version 2 adds (landing_shipment.ordered_quantity) is not
created here: `sangsaeng db upgrade` adds it from the contract diff
(migrations/contract_columns.py), as it will for every field a contract gains.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.history import touch_history

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carbon_monthly",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column(
            "month", sa.Date(), nullable=False, comment="First day of the site's local month."
        ),
        sa.Column("readings", sa.Integer(), nullable=False, comment="Energy readings counted."),
        sa.Column(
            "kwh_grid", sa.Double(), nullable=True, comment="Σ energy_kwh from the grid (kWh)."
        ),
        sa.Column(
            "kwh_solar", sa.Double(), nullable=True, comment="Σ energy_kwh of on-site solar (kWh)."
        ),
        sa.Column(
            "kwh_gas",
            sa.Double(),
            nullable=True,
            comment="Σ energy_kwh of gas burnt on site (kWh).",
        ),
        sa.Column(
            "kwh_other", sa.Double(), nullable=True, comment="Σ energy_kwh of other sources (kWh)."
        ),
        sa.Column(
            "kwh_total", sa.Double(), nullable=True, comment="Σ energy_kwh, every source (kWh)."
        ),
        sa.Column("renewable_share", sa.Double(), nullable=True, comment="kwh_solar / kwh_total."),
        sa.Column(
            "good_units", sa.Double(), nullable=True, comment="Σ quantity_good at the site (units)."
        ),
        sa.Column(
            "kwh_per_good_unit", sa.Double(), nullable=True, comment="kwh_total / good_units."
        ),
        sa.Column(
            "kg_co2e", sa.Double(), nullable=True, comment="kwh_grid * emission_factor (grid only)."
        ),
        sa.Column(
            "kg_co2e_per_good_unit", sa.Double(), nullable=True, comment="kg_co2e / good_units."
        ),
        sa.Column("estimate", sa.Boolean(), nullable=False, comment="Always true: secondary data."),
        sa.Column(
            "emission_factor", sa.Double(), nullable=False, comment="Grid kg CO2e per kWh used."
        ),
        sa.Column(
            "null_reason",
            sa.String(length=80),
            nullable=True,
            comment="Why energy or per-unit figures are NULL.",
        ),
        sa.PrimaryKeyConstraint("supplier_id", "site_id", "month", name=op.f("pk_carbon_monthly")),
        comment="Energy by source, kWh and grid CO2e per good unit, per site and month.",
    )
    with op.batch_alter_table("carbon_monthly", schema=None) as batch_op:
        batch_op.create_index(
            "ix_carbon_monthly_supplier_month", ["supplier_id", "month"], unique=False
        )

    op.create_table(
        "delivery_weekly",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(), nullable=False),
        sa.Column("part_number", sa.String(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False, comment="Monday of promised_date's ISO week."),
        sa.Column(
            "shipments", sa.Integer(), nullable=False, comment="Shipments promised that week."
        ),
        sa.Column(
            "on_time", sa.Integer(), nullable=False, comment="Shipped on or before promised_date."
        ),
        sa.Column(
            "with_order", sa.Integer(), nullable=False, comment="Shipments with ordered_quantity."
        ),
        sa.Column("in_full", sa.Integer(), nullable=False, comment="quantity >= ordered_quantity."),
        sa.Column("on_time_in_full", sa.Integer(), nullable=False, comment="Both, of with_order."),
        sa.Column(
            "delivered", sa.Integer(), nullable=False, comment="Shipments with delivered_at."
        ),
        sa.Column("quantity", sa.Double(), nullable=False, comment="Σ quantity shipped."),
        sa.Column("ordered", sa.Double(), nullable=True, comment="Σ ordered_quantity where sent."),
        sa.Column(
            "on_time_pct", sa.Double(), nullable=False, comment="100 * on_time / shipments (%)."
        ),
        sa.Column(
            "in_full_pct", sa.Double(), nullable=True, comment="100 * in_full / with_order (%)."
        ),
        sa.Column(
            "otif_pct",
            sa.Double(),
            nullable=True,
            comment="100 * on_time_in_full / with_order (%).",
        ),
        sa.Column(
            "otif_null_reason",
            sa.String(length=120),
            nullable=True,
            comment="Why in_full_pct and otif_pct are NULL.",
        ),
        sa.Column(
            "mean_transit_days",
            sa.Double(),
            nullable=True,
            comment="mean(delivered_at - shipped_at), days.",
        ),
        sa.PrimaryKeyConstraint(
            "supplier_id", "buyer_id", "part_number", "week", name=op.f("pk_delivery_weekly")
        ),
        comment="On time, in full and OTIF per supplier, buyer, part and promised week.",
    )
    with op.batch_alter_table("delivery_weekly", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_weekly_supplier_week", ["supplier_id", "week"], unique=False
        )

    op.create_table(
        "lot_refresh_key",
        sa.Column("refresh_id", sa.String(length=36), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("lot_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint(
            "refresh_id", "supplier_id", "lot_id", name=op.f("pk_lot_refresh_key")
        ),
        comment="Scratch: the lots one lot_trace refresh recomputes (empty between).",
    )
    op.create_table(
        "lot_shipments",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("lot_id", sa.String(), nullable=False),
        sa.Column("shipment_id", sa.String(), nullable=False),
        sa.Column("part_number", sa.String(), nullable=False),
        sa.Column("buyer_id", sa.String(), nullable=False),
        sa.Column("po_number", sa.String(), nullable=False),
        sa.Column(
            "quantity", sa.Double(), nullable=False, comment="The whole shipment's quantity."
        ),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_day", sa.Date(), nullable=False, comment="Local day of shipped_at."),
        sa.Column("promised_date", sa.Date(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "supplier_id", "lot_id", "shipment_id", "part_number", name=op.f("pk_lot_shipments")
        ),
        comment="Which buyer received which lot: one row per lot and shipment carrying it.",
    )
    op.create_table(
        "lot_trace",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("lot_id", sa.String(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False, comment="First business day of any row."),
        sa.Column("last_day", sa.Date(), nullable=False, comment="Last business day of any row."),
        sa.Column("production_reports", sa.Integer(), nullable=False, comment="Production events."),
        sa.Column(
            "produced_first", sa.DateTime(timezone=True), nullable=True, comment="min(start_time)."
        ),
        sa.Column(
            "produced_last", sa.DateTime(timezone=True), nullable=True, comment="max(end_time)."
        ),
        sa.Column("good", sa.Double(), nullable=True, comment="Σ quantity_good (units)."),
        sa.Column("scrap", sa.Double(), nullable=True, comment="Σ quantity_scrap (units)."),
        sa.Column(
            "lines",
            sa.String(),
            nullable=True,
            comment="Production line(s), ',' between, in order.",
        ),
        sa.Column("inspections", sa.Integer(), nullable=False, comment="Quality inspections."),
        sa.Column(
            "inspections_failed", sa.Integer(), nullable=False, comment="Inspections with FAIL."
        ),
        sa.Column(
            "defects", sa.Double(), nullable=True, comment="Σ defect_quantity of its inspections."
        ),
        sa.Column("shipments", sa.Integer(), nullable=False, comment="Shipments carrying the lot."),
        sa.Column(
            "buyers", sa.Integer(), nullable=False, comment="Distinct buyers of those shipments."
        ),
        sa.PrimaryKeyConstraint("supplier_id", "lot_id", name=op.f("pk_lot_trace")),
        comment="Each lot: production, inspections and shipments.",
    )

    with op.batch_alter_table("lot_shipments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lot_shipments_shipment", ["supplier_id", "shipment_id", "part_number"], unique=False
        )

    # What the views read by beyond (supplier, day): a lot's rows whatever their day, a
    # shipment's reports and the shipments promised in a week (pipelines/landing/models.py).
    with op.batch_alter_table("landing_shipment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_landing_shipment_supplier_promised", ["supplier_id", "promised_date"], unique=False
        )
        batch_op.create_index(
            "ix_landing_shipment_supplier_shipment", ["supplier_id", "shipment_id"], unique=False
        )

    with op.batch_alter_table("landing_production", schema=None) as batch_op:
        batch_op.create_index(
            "ix_landing_production_supplier_lot", ["supplier_id", "lot_id"], unique=False
        )

    with op.batch_alter_table("landing_quality", schema=None) as batch_op:
        batch_op.create_index(
            "ix_landing_quality_supplier_lot", ["supplier_id", "lot_id"], unique=False
        )
    # A database with a history: its keys are stale in the new views.
    touch_history("delivery_weekly", ["landing_shipment"])
    touch_history("lot_trace", ["landing_production", "landing_quality", "landing_shipment"])
    touch_history("carbon_monthly", ["landing_energy", "landing_production"])


def downgrade() -> None:
    with op.batch_alter_table("landing_shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_shipment_supplier_shipment")
        batch_op.drop_index("ix_landing_shipment_supplier_promised")

    with op.batch_alter_table("landing_quality", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_quality_supplier_lot")

    with op.batch_alter_table("landing_production", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_production_supplier_lot")

    op.drop_table("lot_trace")
    with op.batch_alter_table("lot_shipments", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_shipments_shipment")

    op.drop_table("lot_shipments")
    op.drop_table("lot_refresh_key")
    with op.batch_alter_table("delivery_weekly", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_weekly_supplier_week")

    op.drop_table("delivery_weekly")
    with op.batch_alter_table("carbon_monthly", schema=None) as batch_op:
        batch_op.drop_index("ix_carbon_monthly_supplier_month")

    op.drop_table("carbon_monthly")
