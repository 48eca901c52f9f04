"""Compatibility levels, decided by the Apache `avro` package's reader/writer checker.

BACKWARD: the new schema reads data written with the old one. FORWARD: the old
schema reads data written with the new one. FULL: both. Plain levels compare with
the latest version, *_TRANSITIVE ones with every live version.
"""

import json
from enum import StrEnum

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from avro.errors import AvroException
from fastavro import parse_schema
from fastavro.schema import SchemaParseException

from schemas.registry.errors import invalid_schema
from schemas.registry.limits import check_limits


class Compatibility(StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        return self.endswith("_TRANSITIVE")

    @property
    def checks_backward(self) -> bool:
        return self.startswith(("BACKWARD", "FULL"))

    @property
    def checks_forward(self) -> bool:
        return self.startswith(("FORWARD", "FULL"))


DEFAULT_COMPATIBILITY = Compatibility.BACKWARD_TRANSITIVE


def parse_avro(schema_text: str, *, stored: bool = False) -> avro.schema.Schema:
    """The parsed schema; `RegistryError` 42201 with the parser's message if invalid.

    Both parsers must accept it: `avro` (used for compatibility and the canonical
    form) and fastavro (used for data, and stricter on default values). A schema sent
    by a client must be within `limits` first (checked without recursion); a `stored`
    one is parsed as it is (it may predate the limits).
    """
    if stored:
        try:
            obj = json.loads(schema_text)
        except (ValueError, TypeError, RecursionError) as exc:
            raise invalid_schema(f"not JSON: {type(exc).__name__}") from None
    else:
        obj = check_limits(schema_text)
    try:
        parse_schema(obj)
        return avro.schema.parse(schema_text)
    except (
        AvroException,
        SchemaParseException,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise invalid_schema(f"{type(exc).__name__}: {exc}") from None


def canonical(schema: avro.schema.Schema) -> str:
    """The stored and returned form: compact JSON as `avro` writes it (docs kept)."""
    try:
        return json.dumps(schema.to_json(), separators=(",", ":"), ensure_ascii=False)
    except RecursionError:  # within the limits it cannot be; a 422 rather than a 500 anyway
        raise invalid_schema("too deeply nested to write out") from None


def _problems(reader: avro.schema.Schema, writer: avro.schema.Schema, what: str) -> list[str]:
    try:
        result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    except RecursionError:
        # The checker recurses on (reader type, writer type) pairs. The limits bound each
        # schema's depth, named types followed, but not the pairs: recursive types with
        # cycles of different lengths on the two sides (31 and 30 records, say) pair up
        # for as long as the cycles' least common multiple. A stored schema from before
        # the limits can be deep too. Either way a clear refusal, never a 500.
        raise invalid_schema(
            f"too deeply nested to compare ({what}): the checker follows both schemas' "
            f"named types, recursive ones included, further than it can recurse; flatten "
            f"the recursive records, or set the subject's compatibility to NONE"
        ) from None
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    kinds = ", ".join(sorted({i.value.upper() for i in result.incompatibilities}))
    where = ", ".join(sorted(result.locations - {"/"})) or "/"
    said = "; ".join(sorted(result.messages))
    return [f"{what}: {kinds} at {where}" + (f" ({said})" if said else "")]


def check(
    new: avro.schema.Schema,
    existing: list[tuple[int, avro.schema.Schema]],
    level: Compatibility,
) -> list[str]:
    """Messages saying why `new` breaks `level` against `existing` (version, schema) pairs,
    oldest first; empty when compatible."""
    if level is Compatibility.NONE or not existing:
        return []
    against = existing if level.transitive else existing[-1:]
    messages: list[str] = []
    for version, old in against:
        if level.checks_backward:
            messages += _problems(new, old, f"new schema cannot read version {version}")
        if level.checks_forward:
            messages += _problems(old, new, f"version {version} cannot read the new schema")
    return messages
