"""Turn what an MES sends (JSON: ISO-8601 strings, numbers) into what the contract holds.

Only the contract's logical types need it: `timestamp-millis` fields accept an aware
datetime, epoch milliseconds, or an ISO-8601 string with a UTC offset; `date` fields
accept a date or an ISO-8601 date string. A time without a zone is refused: a factory
clock's local time is not a point in time until it says which zone it is in.
"""

from datetime import date, datetime
from functools import cache
from typing import Any

from schemas.contracts import contract
from schemas.topics import EventType


class CoercionError(ValueError):
    """A value could not be read as its field's type; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


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


def _timestamp(field: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise CoercionError(field, f"{value!r} is not an ISO-8601 timestamp") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise CoercionError(field, f"{value.isoformat()} has no time zone (add +09:00 or Z)")
    return value


def _date(field: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CoercionError(field, f"{value!r} is not an ISO-8601 date") from None
    return value


def coerce(event_type: EventType, record: dict[str, Any]) -> dict[str, Any]:
    """A copy of `record` with timestamps and dates as Python values; `CoercionError`."""
    out = dict(record)
    for name, logical in logical_fields(event_type).items():
        value = out.get(name)
        if value is None:
            continue
        out[name] = _timestamp(name, value) if logical == "timestamp-millis" else _date(name, value)
    return out
