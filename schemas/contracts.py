"""The event contracts shipped with the platform: `schemas/avro/<full name>.avsc`.

Loaded from the files beside this module, so the supplier SDK can validate events
with no registry in reach (a factory's network outage cuts both broker and registry).
Earlier versions of a contract stay in `schemas/avro/history/<full name>.v<n>.avsc`:
`register_contracts` registers them first, so every registry (a fresh one too) holds
a subject's versions in the same order, version n of the subject being version n of
the contract, and an MES still on an earlier release finds its schema registered.
"""

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from fastavro import parse_schema

from schemas.topics import EventType

AVRO_DIR = Path(__file__).with_name("avro")
HISTORY_DIR = AVRO_DIR / "history"


def contract_path(event_type: EventType | str) -> Path:
    """The `.avsc` file of an event type."""
    return AVRO_DIR / f"{EventType(event_type).record_name}.avsc"


@cache
def contract_text(event_type: EventType | str) -> str:
    """The contract of an event type as written in its file."""
    return contract_path(event_type).read_text()


def contract(event_type: EventType | str) -> dict[str, Any]:
    """The contract of an event type as a JSON object (a fresh copy)."""
    return json.loads(contract_text(EventType(event_type)))


@cache
def parsed_contract(event_type: EventType | str) -> dict[str, Any]:
    """The contract parsed by fastavro, ready for writing and reading."""
    return parse_schema(contract(EventType(event_type)))


@cache
def contract_versions(event_type: EventType | str) -> tuple[str, ...]:
    """Every version of an event type's contract, oldest first; the last is the current one."""
    record = EventType(event_type).record_name
    numbered = {}
    for path in HISTORY_DIR.glob(f"{record}.v*.avsc"):
        if found := re.fullmatch(rf"{re.escape(record)}\.v(\d+)\.avsc", path.name):
            numbered[int(found[1])] = path
    earlier = [numbered[n] for n in sorted(numbered)]
    return (*(p.read_text() for p in earlier), contract_text(event_type))


def all_contracts() -> dict[EventType, Path]:
    """Every event type with its contract file."""
    return {e: contract_path(e) for e in EventType}


@dataclass(frozen=True)
class RegisteredContract:
    """A contract as the registry holds it after `register_contracts`."""

    event_type: EventType
    subject: str
    version: int | None
    schema_id: int


class _Registers(Protocol):
    def register(self, subject: str, schema: str) -> tuple[int, int | None]: ...


def register_contracts(registry: _Registers) -> list[RegisteredContract]:
    """Register every contract under its subject, its earlier versions first (idempotent:
    a version already registered keeps its number); returns the current contracts as the
    registry holds them.

    Raises the registry client's error with the compatibility reasons when a changed
    contract breaks its subject's level.
    """
    from schemas.topics import subject_for

    done = []
    for event_type in all_contracts():
        subject = subject_for(event_type)
        for text in contract_versions(event_type):
            schema_id, version = registry.register(subject, text)
        done.append(RegisteredContract(event_type, subject, version, schema_id))
    return done
