"""The gateway's request bodies in its OpenAPI schema: JSON Schema from the Avro contracts.

`event_schemas()` turns each `schemas/avro/*.avsc` record into the JSON the gateway
reads: top-level timestamps as ISO-8601 with an offset or epoch milliseconds, dates as
ISO-8601 (`connectors.sdk.coerce`), and `event_id`, `event_time`, `supplier_id` optional
because the SDK client fills them. `EXAMPLES` holds one event per type (the tests check
each against its contract); `request_body()` is the ingest endpoint's `requestBody`, and
`add_event_schemas(app)` puts the records it refers to into the app's OpenAPI schema.
"""

from typing import Any

from fastapi import FastAPI

from connectors.sdk.coerce import logical_fields
from schemas.contracts import contract
from schemas.topics import RECORDS, EventType

REF = "#/components/schemas/"

# Fields a sender may leave out, and what the gateway's SDK client puts there instead.
FILLED_IF_ABSENT = {
    "event_id": "a new random UUID",
    "event_time": "the time the gateway received the event",
    "supplier_id": "the supplier of the API key",
}

PRIMITIVES: dict[str, dict[str, Any]] = {
    "null": {"type": "null"},
    "boolean": {"type": "boolean"},
    "int": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "string": {"type": "string"},
    "bytes": {"type": "string"},
}

# How the gateway reads a top-level timestamp-millis or date field from JSON.
JSON_TIMESTAMP = {
    "anyOf": [
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"(Z|[+-]\d{2}(:?\d{2})?)$",  # a time without its zone is refused
            "description": "ISO-8601 with a UTC offset, e.g. 2026-03-02T08:00:00+09:00.",
        },
        {"type": "integer", "format": "int64", "description": "Epoch milliseconds (UTC)."},
    ]
}
JSON_DATE = {"type": "string", "format": "date", "description": "ISO-8601 date, e.g. 2026-03-05."}


class _Converter:
    """Avro to JSON Schema for one contract; named records go to `named`."""

    def __init__(self, named: dict[str, dict[str, Any]]) -> None:
        self.named = named

    def type_schema(self, avro: Any, *, as_json_input: bool) -> dict[str, Any]:
        """JSON Schema of an Avro type; `as_json_input`: a top-level field `coerce` reads."""
        if isinstance(avro, str):
            if avro in PRIMITIVES:
                return dict(PRIMITIVES[avro])
            return {"$ref": REF + avro.rsplit(".", 1)[-1]}  # a named type defined before
        if isinstance(avro, list):  # a union; "null" last reads better in the docs
            found: list[dict[str, Any]] = []
            for member in sorted(avro, key=lambda t: t == "null"):
                schema = self.type_schema(member, as_json_input=as_json_input)
                found.extend(schema["anyOf"] if list(schema) == ["anyOf"] else [schema])
            return {"anyOf": found}
        return self._logical(avro, as_json_input=as_json_input) or self._complex(avro)

    @staticmethod
    def _logical(avro: dict[str, Any], *, as_json_input: bool) -> dict[str, Any] | None:
        logical = avro.get("logicalType")
        if logical == "timestamp-millis":
            if as_json_input:
                return {"anyOf": [dict(t) for t in JSON_TIMESTAMP["anyOf"]]}
            return {"type": "integer", "format": "int64", "description": "Epoch milliseconds."}
        if logical == "date" and as_json_input:
            return dict(JSON_DATE)
        if logical == "uuid":
            return {"type": "string", "format": "uuid"}
        return None

    def _complex(self, avro: dict[str, Any]) -> dict[str, Any]:
        kind = avro["type"]
        if kind == "enum":
            return {"type": "string", "enum": list(avro["symbols"]), "title": avro["name"]}
        if kind == "array":
            return {"type": "array", "items": self.type_schema(avro["items"], as_json_input=False)}
        if kind == "record":
            return self.record(avro, filled=(), json_fields=frozenset())
        if isinstance(kind, str) and kind in PRIMITIVES:
            return dict(PRIMITIVES[kind])
        raise ValueError(f"no JSON Schema for the Avro type {avro!r}: extend {__name__}")

    def record(
        self, avro: dict[str, Any], *, filled: tuple[str, ...], json_fields: frozenset[str]
    ) -> dict[str, Any]:
        """Adds the record to `named` and returns a reference to it."""
        name = avro["name"]
        properties, required = {}, []
        for field in avro["fields"]:
            field_name = field["name"]
            schema = self.type_schema(field["type"], as_json_input=field_name in json_fields)
            description = field.get("doc", "")
            if "default" in field:
                schema["default"] = field["default"]
            elif field_name in filled:
                description += f" Optional: when absent, {FILLED_IF_ABSENT[field_name]}."
            else:
                required.append(field_name)
            if description:
                schema["description"] = description.strip()
            properties[field_name] = schema
        schema = {
            "type": "object",
            "title": name,
            "description": avro.get("doc", ""),
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
        if self.named.setdefault(name, schema) != schema:
            raise ValueError(f"two different Avro records are named {name!r}: rename one")
        return {"$ref": REF + name}


def event_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every event type's record (and the records inside), by record name.

    Raises `ValueError` for an Avro type the conversion does not know.
    """
    named: dict[str, dict[str, Any]] = {}
    for event_type in EventType:
        _Converter(named).record(
            contract(event_type),
            filled=tuple(FILLED_IF_ABSENT),
            json_fields=frozenset(logical_fields(event_type)),
        )
    return named


_COMMON = {
    "site_id": "S0001-P1",
    "source_system": "MES-Lite 4.2",
}

# One event per type as an MES would send it (no supplier_id: the API key says it; no
# event_time: the gateway stamps its receipt, and a fixed one would fall behind the
# horizon, SANGSAENG_EVENT_HORIZON_DAYS, and be refused). No None values: FastAPI drops
# them from the OpenAPI schema; leave optional fields out.
EXAMPLES: dict[EventType, dict[str, Any]] = {
    EventType.PRODUCTION: {
        "event_id": "6f1c2a9e-0b5d-4c1e-9a55-2f6f1d8e4a10",
        **_COMMON,
        "buyer_id": "B01",
        "line_id": "L1",
        "work_order_id": "WO-S0001-0302-L1",
        "part_number": "BRKT-220",
        "lot_id": "LOT-L1-20260302-08",
        "quantity_good": 1180,
        "quantity_scrap": 20,
        "planned_quantity": 1200,
        "start_time": "2026-03-02T08:00:00+09:00",
        "end_time": "2026-03-02T16:00:00+09:00",
        "unit": "H87",
    },
    EventType.QUALITY: {
        "event_id": "0d4b7f52-8c3e-4a61-b7d2-5e9f0a1c3b24",
        **_COMMON,
        "line_id": "L1",
        "part_number": "BRKT-220",
        "lot_id": "LOT-L1-20260302-08",
        "inspection_stage": "FINAL",
        "inspected_quantity": 200,
        "defect_quantity": 3,
        "defects": [
            {"code": "BURR", "count": 2, "severity": "MINOR"},
            {"code": "CRACK", "count": 1, "severity": "MAJOR"},
        ],
        "measurements": [
            {
                "characteristic": "hole_diameter",
                "value": 8.02,
                "lsl": 7.95,
                "usl": 8.05,
                "unit": "MMT",
            }
        ],
        "result": "PASS",
    },
    EventType.MACHINE_STATUS: {
        "event_id": "a3e5c7d9-1f2b-4d6e-8a0c-9b7d5f3e1a42",
        **_COMMON,
        "line_id": "L1",
        "machine_id": "PRESS-2",
        "state": "DOWN",
        "reason_code": "DIE_JAM",
    },
    EventType.SHIPMENT: {
        "event_id": "c8b2e4f6-3a5d-4e7f-9c1b-2d4f6a8c0e13",
        **_COMMON,
        "buyer_id": "B01",
        "shipment_id": "SH-S0001-20260303",
        "po_number": "PO-B01-202610",
        "part_number": "BRKT-220",
        "lot_ids": ["LOT-L1-20260302-08"],
        "quantity": 1000,
        "unit": "H87",
        "promised_date": "2026-03-05",
        "shipped_at": "2026-03-03T09:30:00+09:00",
        "ordered_quantity": 1200,
    },
    EventType.ENERGY: {
        "event_id": "e1f3a5c7-9b2d-4f6a-8c0e-1d3f5b7a9c31",
        **_COMMON,
        "meter_id": "EM-1",
        "line_id": "L1",
        "energy_kwh": 182.4,
        "period_start": "2026-03-02T08:00:00+09:00",
        "period_end": "2026-03-02T09:00:00+09:00",
        "energy_source": "GRID",
    },
}


def _examples() -> dict[str, dict[str, Any]]:
    found = {
        e.value: {"summary": f"{e.value}: one {RECORDS[e]}", "value": EXAMPLES[e]}
        for e in EventType
    }
    machine = EXAMPLES[EventType.MACHINE_STATUS]
    running = {
        **{k: v for k, v in machine.items() if k not in ("event_id", "reason_code")},
        "state": "RUNNING",
    }
    found["machine_status (array)"] = {
        "summary": "machine_status: an array of MachineStatusEvent (event_id left to the gateway)",
        "value": [{k: v for k, v in machine.items() if k != "event_id"}, running],
    }
    return found


def request_body(max_records: int) -> dict[str, Any]:
    """The ingest endpoint's `requestBody`: per event type, one event or an array of them."""
    alternatives = []
    for event_type in EventType:
        one = {"$ref": REF + RECORDS[event_type]}
        alternatives.append(
            {
                "title": f"{event_type.value}: {RECORDS[event_type]}",
                "oneOf": [
                    one,
                    {"type": "array", "items": one, "minItems": 1, "maxItems": max_records},
                ],
            }
        )
    mapping = ", ".join(f"`{e.value}`: {RECORDS[e]}" for e in EventType)
    return {
        "required": True,
        "description": "One event or an array of up to "
        f"{max_records} events of the type in the path ({mapping}), as its Avro contract "
        "in schemas/avro/ says. Invalid records are rejected one by one, naming the field.",
        "content": {
            "application/json": {"schema": {"anyOf": alternatives}, "examples": _examples()}
        },
    }


def add_event_schemas(app: FastAPI) -> None:
    """Make `app`'s OpenAPI schema hold `event_schemas()` under `components.schemas`."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default_openapi()  # FastAPI keeps it as app.openapi_schema
            schema.setdefault("components", {}).setdefault("schemas", {}).update(event_schemas())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way
