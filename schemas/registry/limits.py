"""What a schema sent to the registry may cost: size, field count and nesting depth.

Register, lookup and the compatibility tests parse a schema with recursive parsers
(`avro`, fastavro) and compare it with stored ones: open endpoints whose CPU cost
grows with the schema. `check_limits` bounds a schema with one iterative walk of its
JSON, before any recursive parsing; a schema within the limits is also one every read
endpoint can return (the reads return the stored text, they do not re-parse it).

The limits sit far below where anything breaks: records nested ~85 deep (~255 JSON
levels) used to register and then 500 on `/schemas/ids/{id}/schema` (pydantic's
serialisation depth), and the parsers give up past ~150 records.
"""

import json
from typing import Any

from schemas.registry.errors import RegistryError, invalid_schema

# The schema text, UTF-8 encoded (Confluent's own limit is of this order).
MAX_SCHEMA_BYTES = 256 * 1024
# A request body: the schema text JSON-escaped inside `{"schema": ...}`, with room for
# the escaping; bigger bodies get 413 before any JSON parsing (`sangsaeng.http.BodyLimit`).
MAX_BODY_BYTES = 4 * MAX_SCHEMA_BYTES
# Record fields in the whole schema, nested records included (each counted where defined).
MAX_FIELDS = 2_000
# Records, arrays and maps inside one another (a union adds no level, its branches do).
MAX_DEPTH = 32
# JSON objects and arrays inside one another anywhere in the schema document (defaults
# and custom properties included). Records nested MAX_DEPTH deep with a union at each
# level need 4 * MAX_DEPTH = 128; this leaves room for defaults.
MAX_JSON_DEPTH = 160

_CONTAINERS = ("record", "error", "array", "map")


def _over(what: str, found: int, limit: int, advice: str) -> RegistryError:
    return invalid_schema(f"{what} is {found}, over the registry's limit of {limit}: {advice}")


def _load(schema_text: str) -> Any:
    size = len(schema_text.encode("utf-8", "surrogatepass"))
    if size > MAX_SCHEMA_BYTES:
        raise _over(
            "schema size (bytes)",
            size,
            MAX_SCHEMA_BYTES,
            "split the schema, or shorten its docs and defaults",
        )
    try:
        return json.loads(schema_text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise invalid_schema(f"not JSON: {type(exc).__name__}") from None


def _roles(value: dict[str, Any], role: str) -> tuple[dict[str, str], int, int]:
    """For an object being a `role`: what its keys hold, the nesting it adds, its fields."""
    if role == "field":
        return {"type": "type"}, 0, 0
    if role != "type":
        return {}, 0, 0
    kind = value.get("type")
    adds = 1 if kind in _CONTAINERS else 0
    if kind in ("record", "error"):
        fields = value.get("fields")
        return {"fields": "fields"}, adds, len(fields) if isinstance(fields, list) else 0
    if kind == "array":
        return {"items": "type"}, adds, 0
    if kind == "map":
        return {"values": "type"}, adds, 0
    return {"type": "type"}, adds, 0  # {"type": {...}}: a type wrapped in an object


def check_limits(schema_text: str) -> Any:
    """The schema's JSON if within the limits; `RegistryError` 42201 naming the limit.

    Raises 42201 for text that is not JSON too. Walks the document with its own stack:
    never recursion, whatever the input.
    """
    document = _load(schema_text)
    fields = 0
    # (value, JSON depth of value, Avro nesting depth around it, what the value is)
    stack: list[tuple[Any, int, int, str]] = [(document, 1, 0, "type")]
    while stack:
        value, json_depth, depth, role = stack.pop()
        if not isinstance(value, dict | list):
            continue
        if json_depth > MAX_JSON_DEPTH:
            raise _over(
                "JSON nesting depth (objects and arrays inside one another)",
                json_depth,
                MAX_JSON_DEPTH,
                "flatten the nested records, defaults or custom properties",
            )
        if isinstance(value, list):
            # A union's branches are types; a record's fields are fields; else data.
            child = {"type": "type", "fields": "field"}.get(role, "data")
            stack.extend((item, json_depth + 1, depth, child) for item in value)
            continue
        kinds, adds, count = _roles(value, role)
        depth += adds
        if depth > MAX_DEPTH:
            raise _over(
                "nesting depth (records, arrays and maps inside one another)",
                depth,
                MAX_DEPTH,
                "flatten the nested records, e.g. into fields of one record",
            )
        fields += count
        if fields > MAX_FIELDS:
            raise _over(
                "field count (all records' fields together)",
                fields,
                MAX_FIELDS,
                "split the schema into smaller ones",
            )
        stack.extend(
            (item, json_depth + 1, depth, kinds.get(key, "data")) for key, item in value.items()
        )
    return document
