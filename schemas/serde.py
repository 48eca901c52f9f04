"""Avro serde in Confluent's wire format: magic byte 0, 4-byte big-endian schema id, Avro.

Subjects follow RecordNameStrategy (the record's full name). Writers are strict: a
record with an unknown field or missing a field without default is refused, with
the field named. Readers resolve each writer schema into the reader's current
contract, so events written with an older schema read as current records with the
new fields' defaults. Errors name topic, partition and offset.
"""

import io
import json
import struct
from collections.abc import Mapping
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.validation import ValidationError, validate
from kafka.serializer import Deserializer, Serializer

from sangsaeng.errors import TerminalError
from schemas.contracts import contract_text
from schemas.registry.client import RegistryClient, RegistryClientError
from schemas.topics import EventType

MAGIC_BYTE = 0
HEADER = struct.Struct(">bI")


# Why a record could not be read, as stable codes (quarantine reasons use them).
NOT_CONFLUENT_FRAMING = "not_confluent_framing"
UNKNOWN_SCHEMA_ID = "unknown_schema_id"
WRONG_RECORD = "schema_of_wrong_record"
UNDECODABLE = "undecodable_avro"
INVALID_RECORD = "invalid_record"


class SerializationError(TerminalError):
    """A record could not be encoded or decoded; says where, which field and why (`code`)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = INVALID_RECORD,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        where = ", ".join(
            f"{k}={v}"
            for k, v in (
                ("topic", topic),
                ("partition", partition),
                ("offset", offset),
                ("field", field),
            )
            if v is not None
        )
        super().__init__(f"{message}" + (f" [{where}]" if where else ""))
        self.topic, self.partition, self.offset, self.field = topic, partition, offset, field
        self.code = code


def full_name(schema: Mapping[str, Any]) -> str:
    """The full name of a record schema (`namespace.name`)."""
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def frame(schema_id: int) -> bytes:
    """The 5-byte Confluent header for `schema_id`."""
    return HEADER.pack(MAGIC_BYTE, schema_id)


def explain(record: Any, parsed: Any, exc: Exception) -> tuple[str, str | None]:
    """A message naming the offending field, found by fastavro's validator."""
    try:
        validate(record, parsed, raise_errors=True, strict=True)
    except ValidationError as error:
        first = error.errors[0]
        return f"{first.field} is {first.datum!r}, expected {first.schema}", first.field
    except Exception as error:  # validation only words the message; never fail here
        return f"{type(error).__name__}: {error}", None
    return f"{type(exc).__name__}: {exc}", None


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """The exception's message, one line, at most `limit` characters, no NUL characters."""
    text = str(exc).strip().splitlines()
    line = (text[0] if text else "").replace("\x00", "\\x00")
    return line if len(line) <= limit else line[: limit - 3] + "..."


class AvroSerializer(Serializer):
    """Encodes records of one schema; the id is resolved on first use (registered if asked)."""

    def __init__(
        self, registry: RegistryClient, schema: str, *, auto_register: bool = True
    ) -> None:
        obj = json.loads(schema)
        self.registry, self.schema_text, self.auto_register = registry, schema, auto_register
        self.subject = full_name(obj)
        self.parsed = parse_schema(obj)
        self._fields = frozenset(f["name"] for f in obj.get("fields", ()))
        self._required = frozenset(f["name"] for f in obj.get("fields", ()) if "default" not in f)
        self._header: bytes | None = None

    @classmethod
    def for_event_type(
        cls, registry: RegistryClient, event_type: EventType | str, **kwargs: Any
    ) -> "AvroSerializer":
        """A serializer for the contract of `event_type`."""
        return cls(registry, contract_text(EventType(event_type)), **kwargs)

    @property
    def header(self) -> bytes:
        """The frame of this schema, its id resolved with the registry on first use."""
        if self._header is None:
            try:
                schema_id = self.registry.id_for(
                    self.subject, self.schema_text, auto_register=self.auto_register
                )
            except RegistryClientError as exc:
                if exc.status != 404:
                    raise
                raise RegistryClientError(
                    exc.status,
                    exc.error_code,
                    f"{exc.message} ({self.subject} is not registered in this version: register "
                    "the contracts with `sangsaeng schemas register`, as a user of role write)",
                ) from None
            self._header = frame(schema_id)
        return self._header

    def encode(self, record: Mapping[str, Any], *, topic: str | None = None) -> bytes:
        """Confluent-framed Avro bytes of `record`; `SerializationError` naming the field."""
        out = io.BytesIO(self._header or self.header)
        out.seek(0, io.SEEK_END)
        self._write(out, record, topic)
        return out.getvalue()

    def encode_body(self, record: Mapping[str, Any], *, topic: str | None = None) -> bytes:
        """The Avro body alone (no frame, no registry needed); prepend `header` to send."""
        out = io.BytesIO()
        self._write(out, record, topic)
        return out.getvalue()

    def _write(self, out: io.BytesIO, record: Mapping[str, Any], topic: str | None) -> None:
        try:
            # fastavro's own strict mode costs a third of the throughput; missing fields
            # without a default already fail, so only unknown fields need checking here.
            if not self._fields.issuperset(record):
                unknown = sorted(set(record) - self._fields)
                raise SerializationError(
                    f"cannot encode {self.subject}: unknown field(s) {', '.join(unknown)}",
                    topic=topic,
                    field=unknown[0],
                )
            schemaless_writer(out, self.parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            missing = sorted(self._required.difference(record))
            if missing:
                message, field = f"{missing[0]} is missing (required, no default)", missing[0]
            else:
                message, field = explain(record, self.parsed, exc)
            raise SerializationError(
                f"cannot encode {self.subject}: {message}", topic=topic, field=field
            ) from None

    def serialize(self, topic: str, headers: Any, data: Any) -> bytes:  # kafka-python's API
        return self.encode(data, topic=topic)


class AvroDeserializer(Deserializer):
    """Decodes Confluent-framed Avro, resolving writers into `readers` (by full name).

    With no `readers`, records read as they were written. With readers, a record whose
    schema is not one of theirs is refused ("schema of the wrong record").
    """

    def __init__(
        self, registry: RegistryClient, readers: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self.registry = registry
        self.readers = {name: parse_schema(dict(s)) for name, s in (readers or {}).items()}
        self._writers: dict[int, tuple[Any, Any, str]] = {}

    @classmethod
    def for_contracts(
        cls,
        registry: RegistryClient,
        contracts: Mapping[EventType, Mapping[str, Any]] | None = None,
    ) -> "AvroDeserializer":
        """A deserializer reading every event as its type's contract (`contracts`, or the
        ones shipped in schemas/avro)."""
        readers = {}
        for event_type in EventType:
            schema = (
                dict(contracts[event_type])
                if contracts is not None
                else json.loads(contract_text(event_type))
            )
            readers[full_name(schema)] = schema
        return cls(registry, readers)

    def _schemas(self, schema_id: int, where: dict[str, Any]) -> tuple[Any, Any, str]:
        if schema_id not in self._writers:
            try:
                writer_obj = json.loads(self.registry.schema(schema_id))
            except RegistryClientError as exc:
                if exc.status != 404:  # credentials refused, throttled: not the record's fault
                    raise
                raise SerializationError(  # unknown id: 40403 from the registry
                    f"unknown schema id {schema_id}: {exc}", code=UNKNOWN_SCHEMA_ID, **where
                ) from None
            writer = parse_schema(writer_obj)
            reader = None
            is_record = isinstance(writer_obj, dict) and writer_obj.get("type") == "record"
            name = full_name(writer_obj) if is_record else json.dumps(writer_obj)[:80]
            if self.readers:
                if name not in self.readers:
                    raise SerializationError(
                        f"schema of the wrong record: written as {name}, expected one of "
                        f"{', '.join(sorted(self.readers))}",
                        code=WRONG_RECORD,
                        **where,
                    )
                reader = self.readers[name]
                if reader == writer:  # the current contract: no resolution needed (faster)
                    reader = None
            self._writers[schema_id] = (writer, reader, name)
        return self._writers[schema_id]

    def decode(
        self,
        data: bytes | None,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        expected: str | None = None,
    ) -> dict[str, Any]:
        """The record in `data`; `SerializationError` saying what is wrong and where.

        With `expected` (a record's full name, e.g. the one a topic carries), a record
        written with any other schema is refused as "schema of the wrong record".
        """
        if not data or len(data) < HEADER.size or data[0] != MAGIC_BYTE:
            raise SerializationError(
                "not Confluent wire format (expected magic byte 0 and a 4-byte schema id)",
                code=NOT_CONFLUENT_FRAMING,
                topic=topic,
                partition=partition,
                offset=offset,
            )
        schema_id = HEADER.unpack_from(data)[1]
        pair = self._writers.get(schema_id)
        if pair is None:
            pair = self._schemas(schema_id, dict(topic=topic, partition=partition, offset=offset))
        if expected is not None and pair[2] != expected:
            raise SerializationError(
                f"schema of the wrong record: written as {pair[2]} (schema id {schema_id}), "
                f"this topic carries {expected}",
                code=WRONG_RECORD,
                topic=topic,
                partition=partition,
                offset=offset,
            )
        body = io.BytesIO(data)
        body.seek(HEADER.size)
        try:
            record = schemaless_reader(body, pair[0], pair[1])
        except Exception as exc:  # whatever the bytes hold, only this record fails
            # Truncated bytes (EOFError), an enum index or union branch out of range
            # (IndexError), a timestamp past year 9999 (OverflowError), a uuid or UTF-8
            # that does not parse (ValueError): a producer can write any of them.
            raise SerializationError(
                f"cannot decode with schema id {schema_id}: {type(exc).__name__}: "
                f"{_first_line(exc)} (truncated, not written with that schema, or a value "
                "out of range)",
                code=UNDECODABLE,
                topic=topic,
                partition=partition,
                offset=offset,
            ) from None
        if body.tell() != len(data):
            raise SerializationError(
                f"{len(data) - body.tell()} bytes left after the record of schema id {schema_id}"
                " (not written with that schema)",
                code=UNDECODABLE,
                topic=topic,
                partition=partition,
                offset=offset,
            )
        return record  # type: ignore[return-value]

    def deserialize(self, topic: str, headers: Any, data: bytes) -> dict[str, Any]:
        return self.decode(data, topic=topic)
