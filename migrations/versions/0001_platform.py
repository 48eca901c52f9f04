"""The platform database as of the first migration: registry, parties, landing,
quarantine, duplicates and offsets.

The landing tables are a snapshot of the contracts' columns at this revision; fields
that contracts gain later are added by `sangsaeng db upgrade` from the contract diff
(migrations/contract_columns.py), not by a revision of their own.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_duplicate",
        sa.Column("kafka_topic", sa.String(length=255), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "kafka_topic", "kafka_partition", "kafka_offset", name=op.f("pk_ingest_duplicate")
        ),
        comment="Records whose event_id had already landed: counted once, recorded here.",
    )
    with op.batch_alter_table("ingest_duplicate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_duplicate_event_id"), ["event_id"], unique=False
        )

    op.create_table(
        "ingest_offsets",
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition", name=op.f("pk_ingest_offsets")),
        comment="The next offset to read per partition, written with the rows it covers.",
    )
    op.create_table(
        "landing_energy",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column(
            "event_time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the event happened on the shop floor (UTC, epoch milliseconds).",
        ),
        sa.Column(
            "supplier_id",
            sa.String(),
            nullable=False,
            comment="Supplier (SME) that sends the event; must equal the supplier of the topic or API key.",
        ),
        sa.Column(
            "site_id",
            sa.String(),
            nullable=False,
            comment="Plant (ISA-95 site) of the supplier where the event happened.",
        ),
        sa.Column(
            "source_system",
            sa.String(),
            nullable=False,
            comment="System that produced the event, e.g. the MES product and version.",
        ),
        sa.Column(
            "buyer_id",
            sa.String(),
            nullable=True,
            comment="Customer (sponsoring buyer) the parts are for, when known.",
        ),
        sa.Column(
            "meter_id", sa.String(), nullable=False, comment="Energy meter id within the site."
        ),
        sa.Column(
            "line_id",
            sa.String(),
            nullable=True,
            comment="Production line the meter measures, if it measures one line.",
        ),
        sa.Column(
            "energy_kwh",
            sa.Double(),
            nullable=False,
            comment="Energy consumed in the period, kilowatt-hours; >= 0.",
        ),
        sa.Column(
            "period_start",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Start of the metering period (UTC, epoch milliseconds).",
        ),
        sa.Column(
            "period_end",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="End of the metering period (UTC, epoch milliseconds); > period_start.",
        ),
        sa.Column(
            "energy_source",
            sa.String(length=32),
            nullable=False,
            comment="Source: GRID electricity, on-site SOLAR, GAS, or OTHER.",
        ),
        sa.Column("kafka_topic", sa.String(length=255), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_landing_energy")),
        comment="Validated energy events, one row per event_id.",
    )
    with op.batch_alter_table("landing_energy", schema=None) as batch_op:
        batch_op.create_index(
            "ix_landing_energy_supplier_time", ["supplier_id", "event_time"], unique=False
        )

    op.create_table(
        "landing_machine_status",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column(
            "event_time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the event happened on the shop floor (UTC, epoch milliseconds).",
        ),
        sa.Column(
            "supplier_id",
            sa.String(),
            nullable=False,
            comment="Supplier (SME) that sends the event; must equal the supplier of the topic or API key.",
        ),
        sa.Column(
            "site_id",
            sa.String(),
            nullable=False,
            comment="Plant (ISA-95 site) of the supplier where the event happened.",
        ),
        sa.Column(
            "source_system",
            sa.String(),
            nullable=False,
            comment="System that produced the event, e.g. the MES product and version.",
        ),
        sa.Column(
            "buyer_id",
            sa.String(),
            nullable=True,
            comment="Customer (sponsoring buyer) the parts are for, when known.",
        ),
        sa.Column(
            "line_id",
            sa.String(),
            nullable=False,
            comment="Production line the machine belongs to.",
        ),
        sa.Column(
            "machine_id",
            sa.String(),
            nullable=False,
            comment="Machine (ISA-95 equipment) id within the site.",
        ),
        sa.Column(
            "state",
            sa.String(length=32),
            nullable=False,
            comment="State entered at event_time: RUNNING, IDLE, DOWN (unplanned stop), SETUP or MAINTENANCE.",
        ),
        sa.Column(
            "reason_code",
            sa.String(),
            nullable=True,
            comment="Reason for the state (e.g. a downtime reason code), when the MES records one.",
        ),
        sa.Column("kafka_topic", sa.String(length=255), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_landing_machine_status")),
        comment="Validated machine_status events, one row per event_id.",
    )
    with op.batch_alter_table("landing_machine_status", schema=None) as batch_op:
        batch_op.create_index(
            "ix_landing_machine_status_supplier_time", ["supplier_id", "event_time"], unique=False
        )

    op.create_table(
        "landing_production",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column(
            "event_time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the event happened on the shop floor (UTC, epoch milliseconds).",
        ),
        sa.Column(
            "supplier_id",
            sa.String(),
            nullable=False,
            comment="Supplier (SME) that sends the event; must equal the supplier of the topic or API key.",
        ),
        sa.Column(
            "site_id",
            sa.String(),
            nullable=False,
            comment="Plant (ISA-95 site) of the supplier where the event happened.",
        ),
        sa.Column(
            "source_system",
            sa.String(),
            nullable=False,
            comment="System that produced the event, e.g. the MES product and version.",
        ),
        sa.Column(
            "buyer_id",
            sa.String(),
            nullable=True,
            comment="Customer (sponsoring buyer) the parts are for, when known.",
        ),
        sa.Column(
            "line_id",
            sa.String(),
            nullable=False,
            comment="Production line (ISA-95 work unit) within the site.",
        ),
        sa.Column(
            "work_order_id",
            sa.String(),
            nullable=False,
            comment="Work order (production order) the output belongs to.",
        ),
        sa.Column(
            "part_number",
            sa.String(),
            nullable=False,
            comment="Supplier's part number of the item produced (the buyer's part number where agreed).",
        ),
        sa.Column(
            "lot_id",
            sa.String(),
            nullable=False,
            comment="Production lot or batch id, for traceability by lot.",
        ),
        sa.Column(
            "quantity_good",
            sa.Double(),
            nullable=False,
            comment="Good output in this period, in `unit`; >= 0.",
        ),
        sa.Column(
            "quantity_scrap",
            sa.Double(),
            nullable=False,
            comment="Scrapped output in this period, in `unit`; >= 0.",
        ),
        sa.Column(
            "planned_quantity",
            sa.Double(),
            nullable=True,
            comment="Planned output for the same period, in `unit`, when the MES plans it.",
        ),
        sa.Column(
            "start_time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Start of the reported production period (UTC, epoch milliseconds).",
        ),
        sa.Column(
            "end_time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="End of the reported production period (UTC, epoch milliseconds); >= start_time.",
        ),
        sa.Column(
            "unit",
            sa.String(),
            nullable=False,
            comment="Unit of measure of the quantities, a UN/CEFACT Rec 20 code: H87 piece, KGM kilogram, MTR metre, LTR litre.",
        ),
        sa.Column("kafka_topic", sa.String(length=255), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_landing_production")),
        comment="Validated production events, one row per event_id.",
    )
    with op.batch_alter_table("landing_production", schema=None) as batch_op:
        batch_op.create_index(
            "ix_landing_production_supplier_time", ["supplier_id", "event_time"], unique=False
        )

    op.create_table(
        "landing_quality",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column(
            "event_time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the event happened on the shop floor (UTC, epoch milliseconds).",
        ),
        sa.Column(
            "supplier_id",
            sa.String(),
            nullable=False,
            comment="Supplier (SME) that sends the event; must equal the supplier of the topic or API key.",
        ),
        sa.Column(
            "site_id",
            sa.String(),
            nullable=False,
            comment="Plant (ISA-95 site) of the supplier where the event happened.",
        ),
        sa.Column(
            "source_system",
            sa.String(),
            nullable=False,
            comment="System that produced the event, e.g. the MES product and version.",
        ),
        sa.Column(
            "buyer_id",
            sa.String(),
            nullable=True,
            comment="Customer (sponsoring buyer) the parts are for, when known.",
        ),
        sa.Column(
            "line_id",
            sa.String(),
            nullable=False,
            comment="Production line (ISA-95 work unit) within the site.",
        ),
        sa.Column(
            "part_number", sa.String(), nullable=False, comment="Part number of the inspected item."
        ),
        sa.Column(
            "lot_id",
            sa.String(),
            nullable=False,
            comment="Lot or batch the inspected items come from.",
        ),
        sa.Column(
            "inspection_stage",
            sa.String(length=32),
            nullable=False,
            comment="Stage of the inspection: incoming material, in process, final, or outgoing (pre-shipment).",
        ),
        sa.Column(
            "inspected_quantity",
            sa.BigInteger(),
            nullable=False,
            comment="Number of pieces inspected; >= 0.",
        ),
        sa.Column(
            "defect_quantity",
            sa.BigInteger(),
            nullable=False,
            comment="Number of defective pieces found; 0 <= defect_quantity <= inspected_quantity.",
        ),
        sa.Column(
            "defects",
            sa.JSON(),
            nullable=False,
            comment="Defects by code; empty when none were found.",
        ),
        sa.Column(
            "measurements",
            sa.JSON(),
            nullable=False,
            comment="Measurements taken (for SPC and capability indices); may be empty.",
        ),
        sa.Column(
            "result",
            sa.String(length=32),
            nullable=False,
            comment="Decision: PASS, FAIL, or CONDITIONAL (accepted with a deviation).",
        ),
        sa.Column("kafka_topic", sa.String(length=255), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_landing_quality")),
        comment="Validated quality events, one row per event_id.",
    )
    with op.batch_alter_table("landing_quality", schema=None) as batch_op:
        batch_op.create_index(
            "ix_landing_quality_supplier_time", ["supplier_id", "event_time"], unique=False
        )

    op.create_table(
        "landing_shipment",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column(
            "event_time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the event happened on the shop floor (UTC, epoch milliseconds).",
        ),
        sa.Column(
            "supplier_id",
            sa.String(),
            nullable=False,
            comment="Supplier (SME) that sends the event; must equal the supplier of the topic or API key.",
        ),
        sa.Column(
            "site_id",
            sa.String(),
            nullable=False,
            comment="Plant (ISA-95 site) of the supplier where the event happened.",
        ),
        sa.Column(
            "source_system",
            sa.String(),
            nullable=False,
            comment="System that produced the event, e.g. the MES product and version.",
        ),
        sa.Column(
            "buyer_id",
            sa.String(),
            nullable=False,
            comment="Customer (sponsoring buyer) receiving the shipment.",
        ),
        sa.Column(
            "shipment_id",
            sa.String(),
            nullable=False,
            comment="Supplier's shipment (delivery note) id.",
        ),
        sa.Column(
            "po_number", sa.String(), nullable=False, comment="Buyer's purchase order number."
        ),
        sa.Column("part_number", sa.String(), nullable=False, comment="Part number shipped."),
        sa.Column(
            "lot_ids",
            sa.JSON(),
            nullable=False,
            comment="Lots contained in the shipment, for traceability from buyer back to production.",
        ),
        sa.Column(
            "quantity", sa.Double(), nullable=False, comment="Quantity shipped, in `unit`; > 0."
        ),
        sa.Column(
            "unit",
            sa.String(),
            server_default="H87",
            nullable=False,
            comment="Unit of measure of the quantities, a UN/CEFACT Rec 20 code: H87 piece, KGM kilogram, MTR metre, LTR litre.",
        ),
        sa.Column(
            "promised_date",
            sa.Date(),
            nullable=False,
            comment="Delivery date promised to the buyer (calendar date at the buyer's site).",
        ),
        sa.Column(
            "shipped_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the shipment left the supplier (UTC, epoch milliseconds).",
        ),
        sa.Column(
            "delivered_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When the buyer received it (UTC, epoch milliseconds); null until delivered.",
        ),
        sa.Column("kafka_topic", sa.String(length=255), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_landing_shipment")),
        comment="Validated shipment events, one row per event_id.",
    )
    with op.batch_alter_table("landing_shipment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_landing_shipment_supplier_time", ["supplier_id", "event_time"], unique=False
        )

    op.create_table(
        "line",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("machines", sa.JSON(), nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("site_id", "line_id", name=op.f("pk_line")),
    )
    with op.batch_alter_table("line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_line_supplier_id"), ["supplier_id"], unique=False)

    op.create_table(
        "organisation",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("sector", sa.String(length=100), nullable=True),
        sa.Column("sponsor_id", sa.String(length=64), nullable=True),
        sa.Column("go_live", sa.Date(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_organisation")),
    )
    op.create_table(
        "part",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("supplier_id", "part_number", name=op.f("pk_part")),
    )
    op.create_table(
        "quarantine",
        sa.Column("quarantine_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kafka_topic", sa.String(length=255), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("kafka_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=True),
        sa.Column("supplier_id", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("quarantine_id", name=op.f("pk_quarantine")),
        sa.UniqueConstraint(
            "kafka_topic", "kafka_partition", "kafka_offset", name=op.f("uq_quarantine_kafka_topic")
        ),
        comment="Records refused by decoding or validation, with their original bytes.",
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarantine_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "registry_config",
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("compatibility", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_registry_config")),
    )
    op.create_table(
        "registry_credential",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_registry_credential")),
    )
    op.create_table(
        "registry_schema",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("schema_type", sa.String(length=16), nullable=False),
        sa.Column("schema_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_schema")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_registry_schema_fingerprint")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "site",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site")),
    )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_supplier_id"), ["supplier_id"], unique=False)

    op.create_table(
        "api_key",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.org_id"], name=op.f("fk_api_key_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_api_key")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_org_id"), ["org_id"], unique=False)

    op.create_table(
        "registry_subject_version",
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("schema_id", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schema_id"],
            ["registry_schema.id"],
            name=op.f("fk_registry_subject_version_schema_id_registry_schema"),
        ),
        sa.PrimaryKeyConstraint("subject", "version", name=op.f("pk_registry_subject_version")),
    )
    with op.batch_alter_table("registry_subject_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_subject_version_schema_id"), ["schema_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registry_subject_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_subject_version_schema_id"))

    op.drop_table("registry_subject_version")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_org_id"))

    op.drop_table("api_key")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_supplier_id"))

    op.drop_table("site")
    op.drop_table("registry_schema")
    op.drop_table("registry_credential")
    op.drop_table("registry_config")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_supplier_id"))

    op.drop_table("quarantine")
    op.drop_table("part")
    op.drop_table("organisation")
    with op.batch_alter_table("line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_supplier_id"))

    op.drop_table("line")
    with op.batch_alter_table("landing_shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_shipment_supplier_time")

    op.drop_table("landing_shipment")
    with op.batch_alter_table("landing_quality", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_quality_supplier_time")

    op.drop_table("landing_quality")
    with op.batch_alter_table("landing_production", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_production_supplier_time")

    op.drop_table("landing_production")
    with op.batch_alter_table("landing_machine_status", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_machine_status_supplier_time")

    op.drop_table("landing_machine_status")
    with op.batch_alter_table("landing_energy", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_energy_supplier_time")

    op.drop_table("landing_energy")
    op.drop_table("ingest_offsets")
    with op.batch_alter_table("ingest_duplicate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_duplicate_event_id"))

    op.drop_table("ingest_duplicate")
