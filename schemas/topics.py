"""The one place that names topics and maps event types to their Avro records.

Supplier topics are `sup.<supplier_id>.<event_type>` (tenant isolation by prefixed
ACLs on `sup.<supplier_id>.`); dead letters go to `dlq.<event_type>`. Subjects in
the registry follow RecordNameStrategy: the record's full name.
"""

import re
from enum import StrEnum

NAMESPACE = "io.sangsaeng"
SUPPLIER_TOPIC_PREFIX = "sup."
DLQ_TOPIC_PREFIX = "dlq."

# Kafka allows [a-zA-Z0-9._-] in topic names; a supplier id may not contain the "."
# that separates the parts of ours.
SUPPLIER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class EventType(StrEnum):
    """The kinds of event a supplier's MES sends, one topic per supplier and type."""

    PRODUCTION = "production"
    QUALITY = "quality"
    MACHINE_STATUS = "machine_status"
    SHIPMENT = "shipment"
    ENERGY = "energy"

    @property
    def record_name(self) -> str:
        """Full name of the Avro record, which is also its registry subject."""
        return f"{NAMESPACE}.{RECORDS[self]}"


RECORDS: dict[EventType, str] = {
    EventType.PRODUCTION: "ProductionEvent",
    EventType.QUALITY: "QualityInspectionEvent",
    EventType.MACHINE_STATUS: "MachineStatusEvent",
    EventType.SHIPMENT: "ShipmentEvent",
    EventType.ENERGY: "EnergyReadingEvent",
}

SUPPLIER_TOPIC_PATTERN = re.compile(
    r"^sup\.(?P<supplier_id>[A-Za-z0-9_-]{1,64})\.(?P<event_type>"
    + "|".join(e.value for e in EventType)
    + r")$"
)


def check_supplier_id(supplier_id: str) -> str:
    """`supplier_id` if it is usable in a topic name; `ValueError` saying why not."""
    if not SUPPLIER_ID.match(supplier_id):
        raise ValueError(
            f"supplier id {supplier_id!r} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
        )
    return supplier_id


def supplier_topic(supplier_id: str, event_type: EventType | str) -> str:
    """`sup.<supplier_id>.<event_type>`; `ValueError` for a bad id or unknown type."""
    return f"{SUPPLIER_TOPIC_PREFIX}{check_supplier_id(supplier_id)}.{EventType(event_type).value}"


def dlq_topic(event_type: EventType | str) -> str:
    """`dlq.<event_type>`: where records refused for that event type are sent."""
    return f"{DLQ_TOPIC_PREFIX}{EventType(event_type).value}"


def parse_supplier_topic(topic: str) -> tuple[str, EventType] | None:
    """(supplier_id, event_type) of a supplier topic, None for any other topic."""
    found = SUPPLIER_TOPIC_PATTERN.match(topic)
    if not found:
        return None
    return found["supplier_id"], EventType(found["event_type"])


def subject_for(event_type: EventType | str) -> str:
    """Registry subject of an event type (RecordNameStrategy)."""
    return EventType(event_type).record_name
