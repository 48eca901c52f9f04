"""Views, core: the business day and Kafka timestamp on landing rows, the received day
on quarantine rows, the touched keys, and production_daily.

Rows landed before this revision get their business day computed here from their site's
time zone; their Kafka timestamp is not known any more and stays NULL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.history import touch_history

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "production_daily",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.Column(
            "buyer_id",
            sa.String(length=64),
            nullable=True,
            comment="The customer the output is for, when sent.",
        ),
        sa.Column("day", sa.Date(), nullable=False, comment="Local day of end_time at the site."),
        sa.Column("reports", sa.Integer(), nullable=False, comment="Production events counted."),
        sa.Column("good", sa.BigInteger(), nullable=False, comment="Σ quantity_good (units)."),
        sa.Column("scrap", sa.BigInteger(), nullable=False, comment="Σ quantity_scrap (units)."),
        sa.Column(
            "planned",
            sa.BigInteger(),
            nullable=True,
            comment="Σ planned_quantity where sent (units).",
        ),
        sa.Column(
            "attainment",
            sa.Double(),
            nullable=True,
            comment="Σ good of reports with a plan / planned.",
        ),
        sa.Column("scrap_rate", sa.Double(), nullable=True, comment="scrap / (good + scrap)."),
        sa.Column(
            "run_hours", sa.Double(), nullable=False, comment="Σ (end_time - start_time), hours."
        ),
        sa.Column(
            "good_per_run_hour",
            sa.Double(),
            nullable=True,
            comment="good / run_hours (units per hour).",
        ),
        comment="Daily output per supplier, site, line, part and buyer.",
    )
    with op.batch_alter_table("production_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_production_daily_supplier_day", ["supplier_id", "day"], unique=False
        )

    op.create_table(
        "view_refresh_key",
        sa.Column("refresh_id", sa.String(length=36), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint(
            "refresh_id", "supplier_id", "first_day", name=op.f("pk_view_refresh_key")
        ),
        comment="Scratch: the key ranges one refresh transaction recomputes (empty between).",
    )
    op.create_table(
        "view_touched",
        sa.Column("view", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("view", "supplier_id", "day", name=op.f("pk_view_touched")),
        comment="(supplier, business day) keys whose view rows are stale, per view.",
    )
    with op.batch_alter_table("landing_energy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kafka_timestamp",
                sa.BigInteger(),
                nullable=True,
                comment="Kafka's timestamp of the record (ms).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "business_day",
                sa.Date(),
                nullable=True,
                comment="The supplier's local day (site time zone) of the event's business time.",
            )
        )
        batch_op.create_index(
            "ix_landing_energy_supplier_day", ["supplier_id", "business_day"], unique=False
        )

    with op.batch_alter_table("landing_machine_status", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kafka_timestamp",
                sa.BigInteger(),
                nullable=True,
                comment="Kafka's timestamp of the record (ms).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "business_day",
                sa.Date(),
                nullable=True,
                comment="The supplier's local day (site time zone) of the event's business time.",
            )
        )
        batch_op.create_index(
            "ix_landing_machine_status_supplier_day", ["supplier_id", "business_day"], unique=False
        )

    with op.batch_alter_table("landing_production", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kafka_timestamp",
                sa.BigInteger(),
                nullable=True,
                comment="Kafka's timestamp of the record (ms).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "business_day",
                sa.Date(),
                nullable=True,
                comment="The supplier's local day (site time zone) of the event's business time.",
            )
        )
        batch_op.create_index(
            "ix_landing_production_supplier_day", ["supplier_id", "business_day"], unique=False
        )

    with op.batch_alter_table("landing_quality", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kafka_timestamp",
                sa.BigInteger(),
                nullable=True,
                comment="Kafka's timestamp of the record (ms).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "business_day",
                sa.Date(),
                nullable=True,
                comment="The supplier's local day (site time zone) of the event's business time.",
            )
        )
        batch_op.create_index(
            "ix_landing_quality_supplier_day", ["supplier_id", "business_day"], unique=False
        )

    with op.batch_alter_table("landing_shipment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kafka_timestamp",
                sa.BigInteger(),
                nullable=True,
                comment="Kafka's timestamp of the record (ms).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "business_day",
                sa.Date(),
                nullable=True,
                comment="The supplier's local day (site time zone) of the event's business time.",
            )
        )
        batch_op.create_index(
            "ix_landing_shipment_supplier_day", ["supplier_id", "business_day"], unique=False
        )

    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "received_day",
                sa.Date(),
                nullable=True,
                comment="The supplier's local day of the record's Kafka timestamp.",
            )
        )
        batch_op.create_index(
            "ix_quarantine_supplier_received", ["supplier_id", "received_day"], unique=False
        )

    _backfill_business_days()


BUSINESS_TIME = {
    "landing_production": "end_time",
    "landing_quality": "event_time",
    "landing_machine_status": "event_time",
    "landing_shipment": "shipped_at",
    "landing_energy": "period_end",
}


def _backfill_business_days() -> None:
    """Rows landed before this revision: their business day (site zone, else the
    supplier's, else Asia/Seoul), a received day for quarantined records, and their keys
    stale in production_daily, so the first `sangsaeng views refresh` builds it."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    def zone(name: str | None) -> ZoneInfo:
        try:
            return ZoneInfo(name or "Asia/Seoul")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("Asia/Seoul")

    conn = op.get_bind()
    suppliers = {
        org: tz for org, tz in conn.execute(sa.text("SELECT org_id, timezone FROM organisation"))
    }
    sites = {
        (supplier, site): tz
        for supplier, site, tz in conn.execute(
            sa.text("SELECT supplier_id, site_id, timezone FROM site")
        )
    }
    for table, column in BUSINESS_TIME.items():
        t = sa.table(
            table,
            sa.column("event_id", sa.String),
            sa.column("supplier_id", sa.String),
            sa.column("site_id", sa.String),
            sa.column(column, sa.DateTime(timezone=True)),
            sa.column("business_day", sa.Date),
        )
        while True:  # in chunks: a long history does not have to fit in memory
            rows = conn.execute(
                sa.select(t.c.event_id, t.c.supplier_id, t.c.site_id, t.c[column])
                .where(t.c.business_day.is_(None))
                .limit(20_000)
            ).all()
            if not rows:
                break
            updates = []
            for event_id, supplier, site, stored in rows:
                # SQLite hands back naive UTC
                when = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
                name = sites.get((supplier, site)) or suppliers.get(supplier)
                day = when.astimezone(zone(name)).date()
                updates.append({"id": event_id, "day": day})
            conn.execute(
                sa.update(t)
                .where(t.c.event_id == sa.bindparam("id"))
                .values(business_day=sa.bindparam("day")),
                updates,
            )
    q = sa.table(
        "quarantine",
        sa.column("quarantine_id", sa.Integer),
        sa.column("supplier_id", sa.String),
        sa.column("kafka_timestamp", sa.BigInteger),
        sa.column("received_day", sa.Date),
    )
    held = conn.execute(
        sa.select(q.c.quarantine_id, q.c.supplier_id, q.c.kafka_timestamp).where(
            q.c.supplier_id.is_not(None), q.c.received_day.is_(None)
        )
    ).all()
    days = [
        {
            "id": qid,
            "day": datetime.fromtimestamp(ms / 1000, zone(suppliers.get(supplier))).date(),
        }
        for qid, supplier, ms in held
    ]
    if days:
        conn.execute(
            sa.update(q)
            .where(q.c.quarantine_id == sa.bindparam("id"))
            .values(received_day=sa.bindparam("day")),
            days,
        )
    touch_history("production_daily", ["landing_production"])


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_supplier_received")
        batch_op.drop_column("received_day")

    with op.batch_alter_table("landing_shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_shipment_supplier_day")
        batch_op.drop_column("business_day")
        batch_op.drop_column("kafka_timestamp")

    with op.batch_alter_table("landing_quality", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_quality_supplier_day")
        batch_op.drop_column("business_day")
        batch_op.drop_column("kafka_timestamp")

    with op.batch_alter_table("landing_production", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_production_supplier_day")
        batch_op.drop_column("business_day")
        batch_op.drop_column("kafka_timestamp")

    with op.batch_alter_table("landing_machine_status", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_machine_status_supplier_day")
        batch_op.drop_column("business_day")
        batch_op.drop_column("kafka_timestamp")

    with op.batch_alter_table("landing_energy", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_energy_supplier_day")
        batch_op.drop_column("business_day")
        batch_op.drop_column("kafka_timestamp")

    op.drop_table("view_touched")
    op.drop_table("view_refresh_key")
    with op.batch_alter_table("production_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_production_daily_supplier_day")

    op.drop_table("production_daily")
