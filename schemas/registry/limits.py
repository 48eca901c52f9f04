"""What a schema sent to the registry may cost: size, field count and nesting depth.

Register, lookup and the compatibility tests parse a schema with recursive parsers
(`avro`, fastavro) and compare it with stored ones: open endpoints whose CPU cost
grows with the schema. `check_limits` bounds a schema with one iterative walk of its
JSON, before any recursive parsing; a schema within the limits is also one every read
endpoint can return (the reads return the stored text, they do not re-parse it).

Nesting depth counts named types where they are referenced, not only where they are
defined: records declared side by side, each holding the one before by name, nest no
deeper in the JSON than two but as deep as the chain once the compatibility check follows
the names (a chain of 500 used to register and then make the check recurse to its limit).
A reference to a type being defined around it (a recursive type, legal Avro) counts once.

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


_PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double", "bytes", "string"))
_NAMED = ("record", "error", "enum", "fixed")


class _Heights:
    """How deep each named type goes once references are followed, walked without recursion.

    A type's height is its own level (1 for records, arrays and maps) plus its deepest
    child's; a reference to a finished named type adds that type's height (memoised, so a
    chain costs one step per link). A reference to a named type still being defined
    around it, i.e. already on the path, adds nothing there: recursion counts once.

    Such a back reference leaves a debt: entered from outside, e.g. `B` referenced after
    `A {b: B {a: "A"}}`, a path runs B, A, then A's other children. So a type remembers
    the enclosing types it refers back to (`pending`), and its height seen from outside
    adds theirs once they are finished: an upper bound, never an undercount, which matters
    because undercounts would compound (a chain of such pairs). Self references, the usual
    recursive type, owe nothing.
    """

    def __init__(self) -> None:
        # fullname -> (height with back references counted as 0, enclosing types it
        # refers back to); set when the type's definition ends.
        self.done: dict[str, tuple[int, frozenset[str]]] = {}
        self.open: set[str] = set()  # named types being defined around the walk
        # resolved heights, valid until a named type opens or closes
        self.cache: dict[str, tuple[int, frozenset[str]]] = {}

    def seen_from_outside(self, name: str) -> tuple[int, frozenset[str]]:
        """The height of finished `name` where referenced, and the open types it still owes."""
        if name in self.cache:
            return self.cache[name]
        height, pending = self.done[name]
        extra, owed = 0, set[str]()
        # `pending` holds types that enclosed `name`'s definition: a strictly shorter
        # chain each step, bounded by the (already checked) nesting of definitions.
        for outer in pending:
            if outer in self.open:
                owed.add(outer)
            elif outer in self.done:
                more, still = self.seen_from_outside(outer)
                extra = max(extra, more)
                owed |= still
        self.cache[name] = (height + extra, frozenset(owed))
        return self.cache[name]

    def reference(self, name: str, namespace: str | None) -> tuple[int, frozenset[str]]:
        """A type given by name: primitive, finished, open (on the path) or unknown."""
        if name in _PRIMITIVES:
            return 0, frozenset()
        candidates = [name] if "." in name or not namespace else [f"{namespace}.{name}", name]
        for full in candidates:
            if full in self.open:
                return 0, frozenset((full,))
            if full in self.done:
                return self.seen_from_outside(full)
        return 0, frozenset()  # not defined (yet): the parsers refuse it

    def of(self, document: Any) -> int:
        """The nesting depth of the whole schema, named types followed."""
        # Frames: ("type", value, namespace) to visit; ("close", kind, fullname, children)
        # to combine the last `children` results.
        results: list[tuple[int, frozenset[str]]] = []
        work: list[tuple[Any, ...]] = [("type", document, None)]
        while work:
            frame = work.pop()
            if frame[0] == "close":
                _, adds, fullname, children = frame
                parts = [results.pop() for _ in range(children)]
                height = adds + max((h for h, _ in parts), default=0)
                pending = frozenset().union(*(p for _, p in parts))
                if fullname is not None:
                    self.open.discard(fullname)
                    pending -= {fullname}
                    self.done.setdefault(fullname, (height, pending))
                    self.cache.clear()
                results.append((height, pending))
                continue
            _, value, namespace = frame
            if isinstance(value, str):
                results.append(self.reference(value, namespace))
                continue
            if isinstance(value, list):  # a union: its branches
                children = [v for v in value if isinstance(v, str | dict | list)]
            elif isinstance(value, dict):
                children, namespace, fullname = self._enter(value, namespace)
                kind = value.get("type")
                adds = 1 if kind in _CONTAINERS else 0
                work.append(("close", adds, fullname, len(children)))
                work.extend(("type", child, namespace) for child in reversed(children))
                continue
            else:
                children = []
            work.append(("close", 0, None, len(children)))
            work.extend(("type", child, namespace) for child in reversed(children))
        return results[0][0] if results else 0

    def _enter(
        self, value: dict[str, Any], namespace: str | None
    ) -> tuple[list[Any], str | None, str | None]:
        """A type object's child types, the namespace inside it and its full name if named."""
        kind = value.get("type")
        fullname = None
        if kind in _NAMED and isinstance(value.get("name"), str):
            name = value["name"]
            if "." in name:
                fullname, namespace = name, name.rsplit(".", 1)[0]
            else:
                given = value.get("namespace")
                namespace = (given or None) if isinstance(given, str) else namespace
                fullname = f"{namespace}.{name}" if namespace else name
            self.open.add(fullname)
            self.cache.clear()
        if kind in ("record", "error"):
            fields = value.get("fields")
            found = fields if isinstance(fields, list) else []
            children = [f["type"] for f in found if isinstance(f, dict) and "type" in f]
        elif kind == "array":
            children = [value["items"]] if "items" in value else []
        elif kind == "map":
            children = [value["values"]] if "values" in value else []
        elif kind in _NAMED:
            children = []
        else:
            children = [kind] if kind is not None else []  # {"type": ...}: a wrapped type
        children = [c for c in children if isinstance(c, str | dict | list)]
        return children, namespace, fullname


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
    # Within the limits as written; now as the compatibility check reads it, names followed.
    depth = _Heights().of(document)
    if depth > MAX_DEPTH:
        raise _over(
            "nesting depth with named types followed (records, arrays and maps inside one "
            "another, a named type counted where it is referenced)",
            depth,
            MAX_DEPTH,
            "flatten the chain of named records that hold one another",
        )
    return document
