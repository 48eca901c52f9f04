"""The landing tables (one per event type), the quarantine, duplicates and ingest offsets.

Landing tables follow the Avro contracts column for column (generated from the
`.avsc` files, so a new optional field reaches SQL without a second definition);
arrays and nested records are stored as JSON. Each row keeps the Kafka coordinates it
was read from. The quarantine keeps the original bytes so an event can be retried
after reference data was fixed.
"""

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
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeEngine

from sangsaeng.db import new_metadata
from schemas.contracts import contract
from schemas.topics import EventType

metadata = new_metadata()


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


def _landing_table(event_type: EventType) -> Table:
    columns: list[Column[Any]] = []
    for f in contract(event_type)["fields"]:
        sql, nullable = _sql_type(f["type"])
        if f["name"] == "event_id":
            columns.append(Column("event_id", String(36), primary_key=True))
        else:
            columns.append(Column(f["name"], sql, nullable=nullable, comment=f.get("doc")))
    name = f"landing_{event_type.value}"
    return Table(
        name,
        metadata,
        *columns,
        Column("kafka_topic", String(255), nullable=False),
        Column("kafka_partition", Integer, nullable=False),
        Column("kafka_offset", BigInteger, nullable=False),
        Column("landed_at", DateTime(timezone=True), nullable=False, default=utcnow),
        Index(f"ix_{name}_supplier_time", "supplier_id", "event_time"),
        comment=f"Validated {event_type.value} events, one row per event_id.",
    )


LANDING: dict[EventType, Table] = {e: _landing_table(e) for e in EventType}

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
    Column("reasons", JSON, nullable=False),
    Column("payload", LargeBinary),
    Column("first_seen", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("status", String(16), nullable=False, default=QUARANTINE_OPEN),
    Column("attempts", Integer, nullable=False, default=1),
    Column("resolved_at", DateTime(timezone=True)),
    UniqueConstraint("kafka_topic", "kafka_partition", "kafka_offset"),
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


def create_landing_tables(engine: Engine) -> None:
    """Create the landing, quarantine, duplicate and offset tables where missing."""
    metadata.create_all(engine)
