"""Turn what an MES sends into what the contract holds, refusing what the platform cannot carry.

One walker per contract, built once from its Avro schema, visits every field of an
event, nested ones too (`measurements[2].value`), and:
- reads logical types: a `timestamp-millis` field takes an aware datetime, epoch
  milliseconds or an ISO-8601 string with a UTC offset (a time without a zone is
  refused: a factory clock's local time is no point in time until it says its zone);
  a `date` field takes a date or an ISO-8601 date;
- refuses what would break a later stage although Avro could write it: NaN and
  infinity in a number (validation reads NaN as missing), a boolean where a number is
  expected (Python's `True` is an int), numbers out of their type's range, timestamps
  and dates outside the window of `connectors.sdk.limits.Window` (a decoder cannot
  read year 10000), an `event_time` beyond the horizon or ahead of the clock, NUL
  characters (PostgreSQL refuses them in text) and unpaired surrogates in any string,
  map key or array item.
Fields it has no rule for are left to the serializer, which names them too.
"""

import math
import numbers
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

from connectors.sdk.limits import Window, when
from schemas.contracts import contract
from schemas.topics import EventType

Check = Callable[[Any, Window], Any]
LONG = (-(2**63), 2**63 - 1)
INT = (-(2**31), 2**31 - 1)
DOUBLE_MAX = 1.7976931348623157e308
FLOAT_MAX = 3.4028234663852886e38
NUMERIC = {"int", "long", "float", "double"}


class CoercionError(ValueError):
    """A value could not be read as its field's type, or cannot be carried; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Refused(Exception):
    """A value refused deep in a record; containers add their step to `path` on the way up."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path: list[str] = []


def _field_path(steps: list[str]) -> str:
    return "".join(s if s.startswith("[") or i == 0 else "." + s for i, s in enumerate(steps))


def _logical(field_type: Any) -> str | None:
    """The logical type of a field, looking inside ["null", X] unions."""
    if isinstance(field_type, list):
        found = [_logical(t) for t in field_type if t != "null"]
        return found[0] if len(found) == 1 else None
    if isinstance(field_type, dict):
        return field_type.get("logicalType")
    return None


@cache
def logical_fields(event_type: EventType) -> dict[str, str]:
    """Top-level field name -> logical type, for the fields that have one."""
    found = {}
    for field in contract(event_type)["fields"]:
        logical = _logical(field["type"])
        if logical in ("timestamp-millis", "date"):
            found[field["name"]] = logical
    return found


def _depth(avro: Any) -> int:
    if isinstance(avro, list):
        return max((_depth(t) for t in avro), default=0)
    if not isinstance(avro, dict):
        return 0  # a primitive, or a named type defined (and counted) before
    kind = avro.get("type")
    if kind == "record":
        return 1 + max((_depth(f["type"]) for f in avro.get("fields", ())), default=0)
    if kind == "array":
        return 1 + _depth(avro["items"])
    if kind == "map":
        return 1 + _depth(avro["values"])
    return _depth(kind)


@cache
def nesting_depth(event_type: EventType) -> int:
    """How deep JSON arrays and objects nest in an event of this type (a record of
    scalars is 1; one holding an array of records is 3)."""
    return _depth(contract(event_type))


@cache
def max_event_depth() -> int:
    """How deep JSON nests in an event of the deepest type (one event, not a batch)."""
    return max(nesting_depth(e) for e in EventType)


# -- the rules, one checker per Avro type ---------------------------------------------


def _absent_hint(optional: bool) -> str:
    if optional:
        return "send null (or leave the field out) when there is no value"
    return "send a number (the field is required and has no empty value)"


JSON_KINDS: list[tuple[type | tuple[type, ...], str]] = [
    (type(None), "null"),
    (bool, "a boolean"),
    (numbers.Number, "a number"),
    (str, "text"),
    (Mapping, "an object"),
    ((list, tuple), "an array"),
]


def _json_kind(value: Any) -> str:
    """What a value is, in JSON's words."""
    for kind, words in JSON_KINDS:
        if isinstance(value, kind):
            return words
    return f"a {type(value).__name__}"


def _not_the_type(value: Any, expected: str) -> _Refused:
    if value is None:
        return _Refused(f"null, but the field is required: send {expected}")
    return _Refused(f"{value!r:.40} is {_json_kind(value)}, expected {expected}")


def _not_a_number(value: Any, optional: bool) -> str:
    if value is None:
        return "null, but the field is required: send a number"
    if isinstance(value, bool):
        return (
            f"{str(value).lower()} is a boolean where a number is expected: send the number "
            "(1 or 0, if that is what it means)"
        )
    if isinstance(value, str):
        return f"{value[:40]!r} is text where a number is expected: send a JSON number"
    return f"{type(value).__name__} {value!r:.40} is not a number: send a number"


def _non_finite(value: float, optional: bool) -> str:
    if math.isnan(value):
        return f"NaN is not a number the platform can carry: {_absent_hint(optional)}"
    sign = "-" if value < 0 else ""
    return (
        f"{sign}infinity is not a number the platform can carry (numbers beyond ±1.8e308 "
        "read as infinity): send a finite value"
        + (", or null when there is none" if optional else "")
    )


def _double(avro: str, optional: bool) -> Check:
    bound = DOUBLE_MAX if avro == "double" else FLOAT_MAX
    kind = "a double (±1.8e308)" if avro == "double" else "a 32-bit float (±3.4e38)"

    def check(value: Any, window: Window) -> Any:
        kind_of = type(value)
        if kind_of is float:
            if value - value != 0.0:  # NaN or ±infinity
                raise _Refused(_non_finite(value, optional))
        elif kind_of is not int:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise _Refused(_not_a_number(value, optional))
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if number - number != 0.0 and not isinstance(value, numbers.Integral):
                raise _Refused(_non_finite(number, optional))
        if not -bound <= value <= bound:
            raise _Refused(f"{_size(value)} is beyond the range of {kind}: send a smaller value")
        return value

    return check


def _integer(avro: str, optional: bool) -> Check:
    lo, hi = LONG if avro == "long" else INT
    kind = "a 64-bit integer" if avro == "long" else "a 32-bit integer"

    def check(value: Any, window: Window) -> Any:
        if type(value) is not int:
            value = _whole(value, optional)
        if not lo <= value <= hi:
            raise _Refused(f"{_size(value)} does not fit {kind}: send a smaller number")
        return value

    return check


def _size(number: Any) -> str:
    """A number too large for its type, short enough for a message."""
    try:
        return format(number, ".6g")
    except (OverflowError, ValueError, TypeError):
        return f"an integer of {int(number).bit_length()} bits"


def _whole(value: Any, optional: bool) -> int:
    """An integer from a value that is not exactly an `int`; `_Refused` if none."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _Refused(_not_a_number(value, optional))
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    if number - number != 0.0:
        raise _Refused(_non_finite(number, optional))
    if not number.is_integer():
        raise _Refused(f"{value!r} is not a whole number: send an integer")
    return int(number)


def _timestamp(event_time: bool, optional: bool) -> Check:
    def check(value: Any, window: Window) -> Any:
        if type(value) is str:
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise _Refused(f"{value[:60]!r} is not an ISO-8601 timestamp") from None
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise _Refused(f"{value.isoformat()} has no time zone (add +09:00 or Z)")
            if not window.lo_dt <= value <= window.hi_dt:
                raise _Refused(_outside(when(value), window))
            if event_time and not window.ev_lo_dt <= value <= window.ev_hi_dt:
                raise _Refused(_beyond_horizon(value, window))
            return value
        if isinstance(value, date):
            raise _Refused(f"{value.isoformat()} is a date, not a point in time: add the time")
        if type(value) is not int:
            value = _whole(value, optional)
        if not window.lo_ms <= value <= window.hi_ms:
            raise _Refused(_outside(when(value), window))
        if event_time and not window.ev_lo_ms <= value <= window.ev_hi_ms:
            raise _Refused(_beyond_horizon(value, window))
        return value

    return check


def _outside(what: str, window: Window) -> str:
    return (
        f"{what} is outside the times the platform accepts, {window.lo_date.isoformat()} to "
        f"{window.hi_date.isoformat()} (SANGSAENG_EVENT_TIME_MIN, "
        "SANGSAENG_EVENT_TIME_MAX_YEARS_AHEAD): check the clock, and send ISO-8601 or epoch "
        "milliseconds (not seconds, micro- or nanoseconds)"
    )


def _beyond_horizon(value: datetime | int, window: Window) -> str:
    limits = window.limits
    later = value > (window.ev_hi_dt if isinstance(value, datetime) else window.ev_hi_ms)
    if later:
        return (
            f"{when(value)} is ahead of this edge's clock ({when(window.now)}) by more than the "
            f"{limits.future_seconds:g} s allowed (SANGSAENG_EVENT_FUTURE_SECONDS): check the "
            "MES clock and its time zone"
        )
    return (
        f"{when(value)} is older than the platform's horizon of {limits.horizon_days:g} days "
        f"before now (SANGSAENG_EVENT_HORIZON_DAYS), so ingest would quarantine it: check the "
        "MES clock, or ask the operator about loading old data"
    )


def _date(optional: bool) -> Check:
    def check(value: Any, window: Window) -> Any:
        if type(value) is str:
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise _Refused(f"{value[:60]!r} is not an ISO-8601 date") from None
        if isinstance(value, date):
            day = value.date() if isinstance(value, datetime) else value
            if not window.lo_date <= day <= window.hi_date:
                raise _Refused(_outside(day.isoformat(), window))
            return value
        if type(value) is not int:
            value = _whole(value, optional)
        if not window.lo_days <= value <= window.hi_days:
            raise _Refused(_outside(f"day {value} after 1970-01-01", window))
        return value

    return check


def _text_problem(text: str) -> str | None:
    """Why a string cannot be carried (NUL, unpaired surrogate), or None."""
    if "\x00" in text:
        return (
            f"contains a NUL character (\\u0000) at position {text.index(chr(0))}, which the "
            "platform's database cannot store: remove it"
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"contains an unpaired surrogate (\\u{ord(text[exc.start]):04x}) at position "
                f"{exc.start}, which is not Unicode text: send valid UTF-8"
            )
    return None


def _string(value: Any, window: Window) -> Any:
    if not isinstance(value, str):
        raise _not_the_type(value, "string")
    if "\x00" in value or not value.isascii():
        problem = _text_problem(value)
        if problem:
            raise _Refused(problem)
    return value


def _enum(symbols: list[str]) -> Check:
    allowed = frozenset(symbols)
    listed = ", ".join(symbols)

    def check(value: Any, window: Window) -> Any:
        if type(value) is not str or value not in allowed:
            if isinstance(value, str):
                raise _Refused(f"{value[:40]!r} is not one of {listed}")
            raise _not_the_type(value, f"one of {listed}")
        return value

    return check


def _boolean(value: Any, window: Window) -> Any:
    if type(value) is not bool:
        raise _Refused(f"{value!r:.40} is not true or false")
    return value


def _array(items: Check) -> Check:
    def check(value: Any, window: Window) -> Any:
        if not isinstance(value, list | tuple):
            raise _not_the_type(value, "an array")
        changed = None
        for index, item in enumerate(value):
            try:
                new = items(item, window)
            except _Refused as exc:
                exc.path.insert(0, f"[{index}]")
                raise
            if new is not item:
                if changed is None:
                    changed = list(value)
                changed[index] = new
        return value if changed is None else changed

    return check


def _map(values: Check | None) -> Check:
    def check(value: Any, window: Window) -> Any:
        if not isinstance(value, Mapping):
            raise _not_the_type(value, "an object (a map)")
        changed = None
        for key, item in value.items():
            if isinstance(key, str):
                problem = _text_problem(key)
                if problem:
                    refused = _Refused(f"the key {key[:40]!r} {problem}")
                    refused.path.insert(0, f"[{key[:40]!r}]")
                    raise refused
            if values is None:
                continue
            try:
                new = values(item, window)
            except _Refused as exc:
                exc.path.insert(0, f"[{key[:40]!r}]")
                raise
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed

    return check


def _record(
    fields: list[tuple[str, Check]],
    names: frozenset[str],
    required: frozenset[str],
    *,
    top: bool = False,
) -> Check:
    """The check of a record. Nested records are checked whole here (missing and unknown
    fields, as the serializer does for the top level, which it names better: it knows
    which fields `prepare` fills). The top-level record is changed in place (a copy)."""
    # The commonest fields get a loop of their own with the check inlined (a record is
    # mostly strings and doubles, and a call per field would cost a third of `prepare`).
    texts = tuple((n, c) for n, c in fields if getattr(c, "kind", None) == "string")
    doubles = tuple((n, c) for n, c in fields if getattr(c, "kind", None) == "double")
    rest = [(n, c) for n, c in fields if getattr(c, "kind", None) not in ("string", "double")]

    def check(value: Any, window: Window) -> Any:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise _not_the_type(value, "a record (a JSON object)")
        if not top:
            _whole_record(value, names, required)
        _texts_and_doubles(value, texts, doubles, window)
        changed = value if top else None
        for name, field_check in rest:
            if name not in value:
                continue
            item = value[name]
            try:
                new = field_check(item, window)
            except _Refused as exc:
                raise _at(name, exc) from None
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[name] = new
        return value if changed is None else changed

    return check


def _whole_record(
    value: Mapping[str, Any], names: frozenset[str], required: frozenset[str]
) -> None:
    keys = value.keys()  # compared as sets without building one
    if keys == names:
        return
    if not keys >= required:
        missing = sorted(required.difference(keys))[0]
        raise _at(missing, _Refused("missing (required, no default)"))
    if not keys <= names:
        unknown = sorted(str(k) for k in value if k not in names)[0]
        raise _at(unknown, _Refused(f"unknown field (this record has {', '.join(sorted(names))})"))


def _texts_and_doubles(
    value: Mapping[str, Any],
    texts: tuple[tuple[str, Check], ...],
    doubles: tuple[tuple[str, Check], ...],
    window: Window,
) -> None:
    """The string and double fields of a record: the usual values checked inline, any
    other value by the field's own check (neither kind is ever converted)."""
    for name, full in texts:
        item = value.get(name)
        if type(item) is str:
            if "\x00" not in item and item.isascii():
                continue
        elif item is None and name not in value:
            continue  # missing: the record's check (or the serializer) says so
        try:
            full(item, window)
        except _Refused as exc:
            raise _at(name, exc) from None
    for name, full in doubles:
        item = value.get(name)
        kind = type(item)
        if kind is float:
            if item - item == 0.0:
                continue
        elif kind is int:
            if -DOUBLE_MAX <= item <= DOUBLE_MAX:
                continue
        elif item is None and name not in value:
            continue
        try:
            full(item, window)
        except _Refused as exc:
            raise _at(name, exc) from None


def _at(step: str, refused: _Refused) -> _Refused:
    refused.path.insert(0, step)
    return refused


def _kind(check: Check, kind: str) -> Check:
    check.kind = kind  # type: ignore[attr-defined]
    return check


def _optional(inner: Check) -> Check:
    def check(value: Any, window: Window) -> Any:
        return value if value is None else inner(value, window)

    return check


def _accepts(avro: Any) -> Callable[[Any], bool]:
    """Which Python values a branch of a union is for (the branch a value is checked by)."""
    name = avro.get("type") if isinstance(avro, dict) else avro
    logical = avro.get("logicalType") if isinstance(avro, dict) else None
    if logical == "timestamp-millis":
        return lambda v: isinstance(v, str | datetime | int | float) and not isinstance(v, bool)
    if logical == "date":
        return lambda v: isinstance(v, str | date | int) and not isinstance(v, bool)
    if name in NUMERIC:
        return lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool)
    kinds: dict[str, Any] = {
        "boolean": bool,
        "string": str,
        "enum": str,
        "bytes": bytes,
        "fixed": bytes,
        "array": list | tuple,
        "map": Mapping,
        "record": Mapping,
    }
    kind = kinds.get(name)
    return (lambda v: isinstance(v, kind)) if kind is not None else (lambda v: False)


# The checker of each primitive type, given whether its field is optional.
PRIMITIVES: dict[str, Callable[[bool], Check | None]] = {
    "double": lambda optional: _kind(_double("double", optional), "double"),
    "float": lambda optional: _double("float", optional),
    "long": lambda optional: _integer("long", optional),
    "int": lambda optional: _integer("int", optional),
    "string": lambda optional: _kind(_string, "string"),
    "boolean": lambda optional: _boolean,
    "null": lambda optional: None,
    "bytes": lambda optional: None,
}

# ... and of each logical type the walker reads.
LOGICAL: dict[tuple[str, str], Callable[[bool], Check]] = {
    ("long", "timestamp-millis"): lambda optional: _timestamp(False, optional),
    ("int", "date"): _date,
}


class _Compiler:
    """Builds the checker of an Avro schema (as written in its .avsc), once per contract."""

    def __init__(self) -> None:
        self.named: dict[str, list[Check | None]] = {}

    def compile(self, avro: Any, *, optional: bool = False, namespace: str = "") -> Check | None:
        """The checker of `avro`, or None when nothing in it needs checking."""
        if isinstance(avro, list):
            return self._union(avro, namespace)
        if isinstance(avro, str):
            if avro in PRIMITIVES:
                return PRIMITIVES[avro](optional)
            return self._reference(avro, namespace)
        return self._complex(avro, optional, namespace)

    def _complex(self, avro: Mapping[str, Any], optional: bool, namespace: str) -> Check | None:
        kind, logical = avro.get("type"), avro.get("logicalType")
        if (kind, logical) in LOGICAL:
            return LOGICAL[kind, logical](optional)
        if kind == "record":
            return self._record(avro, namespace)
        if kind in ("enum", "fixed"):  # named: later fields may refer to it by name
            check = _enum(list(avro["symbols"])) if kind == "enum" else None
            self.named[self._full(avro, namespace)] = [check]
            return check
        if kind == "array":
            items = self.compile(avro["items"], namespace=namespace)
            return None if items is None else _array(items)
        if kind == "map":
            return _map(self.compile(avro["values"], namespace=namespace))
        return self.compile(kind, optional=optional, namespace=namespace)

    @staticmethod
    def _full(avro: Mapping[str, Any], namespace: str) -> str:
        name = str(avro["name"])
        space = avro.get("namespace", namespace)
        return name if "." in name or not space else f"{space}.{name}"

    def _reference(self, name: str, namespace: str) -> Check | None:
        cell = self.named.get(name) or self.named.get(f"{namespace}.{name}")
        if cell is None:
            return None  # unknown name: the serializer refuses the schema, not us
        return lambda value, window: value if cell[0] is None else cell[0](value, window)

    def _record(self, avro: Mapping[str, Any], namespace: str, *, top: bool = False) -> Check:
        full = self._full(avro, namespace)
        cell: list[Check | None] = [None]
        self.named[full] = cell  # before the fields: a record may refer to itself
        space = full.rsplit(".", 1)[0] if "." in full else ""
        fields = []
        names = frozenset(f["name"] for f in avro.get("fields", ()))
        required = frozenset(f["name"] for f in avro.get("fields", ()) if "default" not in f)
        for field in avro.get("fields", ()):
            ftype = field["type"]
            if top and field["name"] == "event_time" and _logical(ftype) == "timestamp-millis":
                check = _timestamp(True, isinstance(ftype, list))
                check = _optional(check) if isinstance(ftype, list) else check
            else:
                check = self.compile(ftype, namespace=space)
            if check is not None:
                fields.append((field["name"], check))
        cell[0] = _record(fields, names, required, top=top)
        return cell[0]

    def _union(self, branches: list[Any], namespace: str) -> Check | None:
        others = [b for b in branches if b != "null"]
        nullable = len(others) < len(branches)
        if len(others) == 1:
            inner = self.compile(others[0], optional=nullable, namespace=namespace)
            if inner is None:
                return None
            kind = getattr(inner, "kind", None)
            # None passes the inlined string and double checks as it is
            return _kind(_optional(inner), kind) if kind else _optional(inner)
        picks = [
            (_accepts(b), self.compile(b, optional=nullable, namespace=namespace)) for b in others
        ]
        numeric = any(_accepts(b)(0.5) for b in others)
        takes_bool = any(_accepts(b)(True) for b in others)

        def check(value: Any, window: Window) -> Any:
            if value is None:
                return value
            for accepts, inner in picks:
                if accepts(value):
                    return value if inner is None else inner(value, window)
            if numeric and not takes_bool and isinstance(value, bool):
                raise _Refused(_not_a_number(value, nullable))
            raise _Refused(f"{value!r:.40} is {_json_kind(value)}, none of the types it may be")

        return check

    def top(self, avro: Mapping[str, Any]) -> Callable[[dict[str, Any], Window], dict[str, Any]]:
        """The checker of a whole event: changes the dict it is given (the caller's copy)."""
        check = self._record(avro, "", top=True)

        def walk(record: dict[str, Any], window: Window) -> dict[str, Any]:
            try:
                return check(record, window)
            except _Refused as exc:
                raise CoercionError(_field_path(exc.path), exc.message) from None

        return walk


def schema_walker(schema: Mapping[str, Any]) -> Callable[[dict[str, Any], Window], dict[str, Any]]:
    """The walker of a record schema: `walk(event, window)` returns the event to encode
    (the same dict, its values read), or raises `CoercionError` naming the field path."""
    return _Compiler().top(schema)


@cache
def event_walker(event_type: EventType) -> Callable[[dict[str, Any], Window], dict[str, Any]]:
    """The walker of an event type's contract (built once per process)."""
    return schema_walker(contract(event_type))


def coerce(event_type: EventType, record: dict[str, Any], window: Window) -> dict[str, Any]:
    """A copy of `record` with timestamps and dates as Python values, every field checked
    against what the platform can carry at `window`; `CoercionError` naming the field."""
    return event_walker(event_type)(dict(record), window)
