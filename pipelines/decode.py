"""Decode a micro-batch of Kafka records into typed events, and poison into rejections.

A record that cannot be read (not Confluent framing, unknown schema id, truncated
bytes, a schema of another record than its topic carries, a value the reader cannot
represent such as a timestamp past year 9999) becomes a `Rejected` with the reason,
never an exception that stops the batch: whatever the reader raises is the reason.
Only a transient failure (the registry unreachable) propagates: then nothing of the
batch is written and the next run reads it again.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sangsaeng.errors import TransientError
from schemas.serde import UNDECODABLE, AvroDeserializer, SerializationError
from schemas.topics import EventType, parse_supplier_topic

UNKNOWN_TOPIC = "not_a_supplier_topic"


class SourceRecord(Protocol):
    """What a Kafka record carries (kafka-python's `ConsumerRecord` has exactly this)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...  # epoch ms, when the broker got (or producer sent) it
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a record was refused: the rule (a stable name), the field and value, in words."""

    rule: str
    message: str
    field: str | None = None
    value: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The reason as stored (quarantine) and sent (dead letters): no NUL characters,
        which PostgreSQL cannot store, whatever a value or an exception held."""
        return {
            "rule": self.rule,
            "field": _no_nul(self.field),
            "value": _no_nul(self.value),
            "message": _no_nul(self.message),
        }


def _no_nul(text: str | None) -> str | None:
    return text.replace("\x00", "\\x00") if text else text


@dataclass(slots=True)
class Event:
    """A decoded record: its payload as the current contract reads it, and where it came from."""

    source: SourceRecord
    event_type: EventType
    supplier_id: str  # the topic's: the identity the platform trusts
    payload: dict[str, Any]

    @property
    def event_id(self) -> str:
        return self.payload["event_id"]  # type: ignore[no-any-return]


@dataclass(slots=True)
class Rejected:
    """A record refused by decoding or validation, with every reason found."""

    source: SourceRecord
    event_type: EventType | None
    supplier_id: str | None
    event_id: str | None
    reasons: list[Reason]


@dataclass
class Decoded:
    """A decoded micro-batch: events per type in offset order, and the unreadable records."""

    events: dict[EventType, list[Event]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)


def decode_batch(records: Iterable[SourceRecord], deserializer: AvroDeserializer) -> Decoded:
    """Every record decoded or rejected; raises only `TransientError` (registry down)."""
    out = Decoded()
    topics: dict[str, tuple[str, EventType] | None] = {}
    for record in records:
        topic = record.topic
        if topic not in topics:
            topics[topic] = parse_supplier_topic(topic)
        parsed = topics[topic]
        if parsed is None:
            out.rejected.append(
                Rejected(
                    record,
                    None,
                    None,
                    None,
                    [Reason(UNKNOWN_TOPIC, f"{topic} is not a sup.<supplier>.<type> topic")],
                )
            )
            continue
        supplier_id, event_type = parsed
        try:
            payload = deserializer.decode(
                record.value,
                topic=topic,
                partition=record.partition,
                offset=record.offset,
                expected=event_type.record_name,
            )
            # fastavro reads the uuid logical type as uuid.UUID; rows and keys use the text.
            payload["event_id"] = str(payload["event_id"])
        except TransientError:
            raise  # the registry is unreachable: the whole batch waits for the next run
        except SerializationError as exc:
            out.rejected.append(
                Rejected(record, event_type, supplier_id, None, [Reason(exc.code, str(exc))])
            )
            continue
        except Exception as exc:  # whatever a producer wrote, it refuses this record only
            message = f"cannot decode: {type(exc).__name__}: {exc}"
            out.rejected.append(
                Rejected(record, event_type, supplier_id, None, [Reason(UNDECODABLE, message)])
            )
            continue
        out.events.setdefault(event_type, []).append(
            Event(record, event_type, supplier_id, payload)
        )
    return out
