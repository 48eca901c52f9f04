"""The YAML mapping from an MES export's columns to a contract's fields.

    event_type: production
    fields:
      line_id:       {column: Line}
      work_order_id: {column: Order}
      quantity_good: {column: Good kg, type: float, scale: 0.001}   # kg -> t
      unit:          {constant: TNE}
      start_time:    {column: Start, format: "%Y-%m-%d %H:%M", timezone: Asia/Seoul}

A field takes a `column` (renamed) or a `constant`; `type` converts text (str, int,
float), `scale` multiplies a number (unit conversion), `format` + `timezone` read a
local date-time into a point in time (ISO-8601 text with an offset needs neither).
Empty cells are left out, so optional fields take their defaults.
"""

from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from sangsaeng.errors import ConfigError
from schemas.topics import EventType


class FieldMap(BaseModel):
    """How one contract field is filled."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    constant: Any = None
    type: Literal["str", "int", "float"] | None = None
    scale: float | None = None
    format: str | None = None
    timezone: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "FieldMap":
        if (self.column is None) == (self.constant is None):
            raise ValueError("give exactly one of `column` and `constant`")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {self.timezone!r}") from None
        return self


class Mapping(BaseModel):
    """A whole mapping file."""

    model_config = ConfigDict(extra="forbid")

    event_type: EventType
    delimiter: str = ","
    encoding: str = "utf-8"
    fields: dict[str, FieldMap]

    @field_validator("fields")
    @classmethod
    def _not_empty(cls, value: dict[str, FieldMap]) -> dict[str, FieldMap]:
        if not value:
            raise ValueError("map at least one field")
        return value

    @classmethod
    def load(cls, path: Path) -> "Mapping":
        """The mapping in `path`; `ConfigError` naming the key that is wrong."""
        try:
            return cls.model_validate(yaml.safe_load(path.read_text()))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the mapping {path}: {exc}") from None
        except ValidationError as exc:
            said = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'mapping'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(f"mapping {path} is not valid: {said}") from None


class RowError(ValueError):
    """A cell could not be converted; names the column and the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _convert(name: str, rule: FieldMap, raw: Any) -> Any:
    value = raw
    if isinstance(value, str):
        value = value.strip()
    if rule.format is not None:
        try:
            value = datetime.strptime(str(value), rule.format)
        except ValueError:
            raise RowError(name, f"{raw!r} does not match the format {rule.format!r}") from None
        if rule.timezone is not None:
            value = value.replace(tzinfo=ZoneInfo(rule.timezone))
        return value
    if rule.type in ("int", "float") or rule.scale is not None:
        try:
            number = float(value) if rule.type != "int" else int(str(value))
        except ValueError:
            raise RowError(name, f"{raw!r} is not a number") from None
        if rule.scale is not None:
            number = number * rule.scale
        return number
    if rule.type == "str":
        return str(value)
    return value


def apply(mapping: Mapping, row: dict[str, Any]) -> dict[str, Any]:
    """The event built from one export row; `RowError` for a cell that does not convert."""
    event: dict[str, Any] = {}
    for name, rule in mapping.fields.items():
        if rule.constant is not None:
            event[name] = rule.constant
            continue
        if rule.column not in row:
            raise RowError(name, f"the export has no column {rule.column!r}")
        raw = row[rule.column]
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        event[name] = _convert(f"{name} (column {rule.column!r})", rule, raw)
    return event
