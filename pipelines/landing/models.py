"""The landing tables (one per event type), the quarantine, duplicates and ingest offsets.

Landing tables follow the Avro contracts column for column (`landing_tables` derives
them from the contracts, so a new optional field reaches SQL without a second
definition: `sangsaeng db upgrade` compares these tables with the database and adds
the columns); arrays and nested records are stored as JSON. Each row keeps the Kafka
coordinates it was read from and its `business_day` (pipelines/landing/days.py), the
local day the views count it on. The quarantine keeps the original bytes so an event can
be retried after reference data was fixed. All of them are created by the migrations.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeEngine

from sangsaeng.db import METADATA as metadata
from sangsaeng.db import new_metadata
from schemas.contracts import contract
from schemas.topics import EventType

Contracts = Mapping[EventType, Mapping[str, Any]]  # event type -> Avro record schema


def utcnow() -> datetime:
    return datetime.now(UTC)


LOGICAL_TYPES: dict[str, TypeEngine[Any]] = {
    "uuid": String(36),
    "timestamp-millis": DateTime(timezone=True),
    "timestamp-micros": DateTime(timezone=True),
    "date": Date(),
}
PRIMITIVE_TYPES: dict[str, TypeEngine[Any]] = {
    "string": String(),
    "long": BigInteger(),
    "int": Integer(),
    "double": Double(),
    "float": Double(),
    "boolean": Integer(),
    "enum": String(32),
    "array": JSON(),
    "map": JSON(),
    "record": JSON(),
}


def _sql_type(avro: Any) -> tuple[TypeEngine[Any], bool]:
    """(SQL type, nullable) of an Avro field type."""
    if isinstance(avro, list):
        options = [o for o in avro if o != "null"]
        sql, _ = _sql_type(options[0] if len(options) == 1 else {"type": "record"})
        return sql, "null" in avro
    if isinstance(avro, dict):
        logical = LOGICAL_TYPES.get(avro.get("logicalType", ""))
        return (logical, False) if logical is not None else _sql_type(avro["type"])
    return PRIMITIVE_TYPES[avro], False


def _server_default(field: Mapping[str, Any]) -> Any:
    """The SQL default of a field with a scalar Avro default (None: no default / null)."""
    default = field.get("default")
    logical = isinstance(field["type"], dict) and "logicalType" in field["type"]
    if default is None or logical or isinstance(default, list | dict):
        return None
    if isinstance(default, bool):
        return text("1" if default else "0")
    if isinstance(default, int | float):
        return text(repr(default))
    return str(default)


def landing_column(field: Mapping[str, Any]) -> Column[Any]:
    """The landing column of one contract field (a non-null default becomes the SQL
    default, so rows landed before the field existed read as the field's default)."""
    if field["name"] == "event_id":
        return Column("event_id", String(36), primary_key=True)
    sql, nullable = _sql_type(field["type"])
    return Column(
        field["name"],
        sql,
        nullable=nullable,
        server_default=_server_default(field),
        comment=field.get("doc"),
    )


# Indexes the views read by beyond (supplier, business day): lot_trace recomputes a lot
# from all its rows, whatever their day; delivery_weekly reads every report of a shipment
# and the shipments promised in a week.
VIEW_INDEXES: dict[EventType, dict[str, str]] = {
    EventType.PRODUCTION: {"lot": "lot_id"},
    EventType.QUALITY: {"lot": "lot_id"},
    EventType.SHIPMENT: {"shipment": "shipment_id", "promised": "promised_date"},
}


def _landing_table(event_type: EventType, schema: Mapping[str, Any], on: MetaData) -> Table:
    columns = [landing_column(f) for f in schema["fields"]]
    name = f"landing_{event_type.value}"
    names = {c.name for c in columns}
    for_views = [
        Index(f"ix_{name}_supplier_{suffix}", "supplier_id", column)
        for suffix, column in VIEW_INDEXES.get(event_type, {}).items()
        if column in names
    ]
    return Table(
        name,
        on,
        *columns,
        Column("kafka_topic", String(255), nullable=False),
        Column("kafka_partition", Integer, nullable=False),
        Column("kafka_offset", BigInteger, nullable=False),
        Column("kafka_timestamp", BigInteger, comment="Kafka's timestamp of the record (ms)."),
        Column("landed_at", DateTime(timezone=True), nullable=False, default=utcnow),
        Column(
            "business_day",
            Date,
            comment="The supplier's local day (site time zone) of the event's business time.",
        ),
        Index(f"ix_{name}_supplier_time", "supplier_id", "event_time"),
        Index(f"ix_{name}_supplier_day", "supplier_id", "business_day"),
        *for_views,
        comment=f"Validated {event_type.value} events, one row per event_id.",
    )


def default_contracts() -> dict[EventType, dict[str, Any]]:
    """The contracts shipped in `schemas/avro/`: what this release reads and lands."""
    return {e: contract(e) for e in EventType}


def landing_tables(contracts: Contracts, on: MetaData | None = None) -> dict[EventType, Table]:
    """The landing tables for `contracts`, on `on` (a fresh MetaData if None)."""
    on = on if on is not None else new_metadata()
    return {e: _landing_table(e, contracts[e], on) for e in EventType}


LANDING: dict[EventType, Table] = landing_tables(default_contracts(), metadata)

QUARANTINE_OPEN, QUARANTINE_LANDED, QUARANTINE_DUPLICATE = "open", "landed", "duplicate"

quarantine = Table(
    "quarantine",
    metadata,
    Column("quarantine_id", Integer, primary_key=True, autoincrement=True),
    Column("kafka_topic", String(255), nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("kafka_timestamp", BigInteger, nullable=False),
    Column("event_type", String(32)),
    Column("supplier_id", String(64), index=True),
    Column("event_id", String(64)),
    Column(
        "received_day",
        Date,
        comment="The supplier's local day of the record's Kafka timestamp.",
    ),
    Column("reasons", JSON, nullable=False),
    Column("payload", LargeBinary),
    Column("first_seen", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("status", String(16), nullable=False, default=QUARANTINE_OPEN),
    Column("attempts", Integer, nullable=False, default=1),
    Column("resolved_at", DateTime(timezone=True)),
    UniqueConstraint("kafka_topic", "kafka_partition", "kafka_offset"),
    Index("ix_quarantine_supplier_received", "supplier_id", "received_day"),  # data_readiness
    comment="Records refused by decoding or validation, with their original bytes.",
)

ingest_duplicate = Table(
    "ingest_duplicate",
    metadata,
    Column("kafka_topic", String(255), primary_key=True),
    Column("kafka_partition", Integer, primary_key=True),
    Column("kafka_offset", BigInteger, primary_key=True),
    Column("event_id", String(36), nullable=False, index=True),
    Column("seen_at", DateTime(timezone=True), nullable=False, default=utcnow),
    comment="Records whose event_id had already landed: counted once, recorded here.",
)

ingest_offsets = Table(
    "ingest_offsets",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, default=utcnow),
    comment="The next offset to read per partition, written with the rows it covers.",
)
