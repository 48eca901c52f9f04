"""One micro-batch from Kafka records to trusted rows: decode, validate, land, exactly once.

`Ingestor.ingest` takes the records read from the stored offsets and writes, in ONE
transaction, the landed rows, the duplicates, the quarantined records and the next
offsets. Refused records go to `dlq.<event_type>` first (at least once: a crash before
the commit resends them with the same source coordinates in their headers), so the
quarantine table is the exact record and the dead-letter topic the notification.

Duplicates: the first copy of an event_id in a batch is validated; later copies of a
passing one are duplicates, copies of a refused one are validated in their own right
(the sender may have fixed them). Across batches the database decides (insert on
conflict do nothing), so an event_id lands once however often it is sent.

No record stops the batch: decoding and validation refuse what they cannot read or
trust, and a value the database still refuses (`DataRefused`) rolls the transaction
back and runs it once more with each event type's rows landed in savepoints, split in
halves until the refused records stand alone; those are quarantined as
`database_refused` with the database's message, in that same one transaction. Only a
batch that failed pays for the split; a lost connection stays transient, a schema that
does not match stays terminal.
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from governance.reference import ReferenceSets
from pipelines.decode import Event, Rejected, SourceRecord, decode_batch
from pipelines.landing.days import LocalDays
from pipelines.landing.models import LANDING, Contracts, landing_tables
from pipelines.landing.writer import (
    TopicPartition,
    claim_offsets,
    insert_events,
    insert_events_isolated,
    insert_quarantine_rows,
    quarantine_keys,
    quarantine_rows,
    record_duplicates,
    refused_by_database,
    stored_offsets,
)
from pipelines.validation.outcome import ExpectationResult, TimeWindow, ValidationOutcome
from pipelines.views.catalog import stale
from pipelines.views.keys import SupplierDay, touch
from sangsaeng.db import DataRefused, database_error
from schemas.registry.client import RegistryClient
from schemas.serde import AvroDeserializer
from schemas.topics import EventType, dlq_topic

if TYPE_CHECKING:  # Great Expectations is imported when an ingestor is built, not before
    from pipelines.validation.runner import Validator

SOURCE_HEADERS = ("sangsaeng.source.topic", "sangsaeng.source.partition", "sangsaeng.source.offset")


@dataclass(frozen=True)
class DeadLetter:
    """A refused record as sent to `dlq.<event_type>`: original bytes, reasons in headers."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class DeadLetterSink(Protocol):
    """Where dead letters go; `send` returns once every letter is acknowledged."""

    def send(self, letters: Sequence[DeadLetter]) -> None: ...


def dead_letter(rejected: Rejected) -> DeadLetter | None:
    """The dead letter of a refused record (None for a record of no event type)."""
    if rejected.event_type is None:
        return None
    source = rejected.source
    headers = [(k, v) for k, v in (source.headers or ()) if v is not None]
    headers += [
        (SOURCE_HEADERS[0], source.topic.encode()),
        (SOURCE_HEADERS[1], str(source.partition).encode()),
        (SOURCE_HEADERS[2], str(source.offset).encode()),
        ("sangsaeng.rules", ",".join(r.rule for r in rejected.reasons).encode()),
        ("sangsaeng.reasons", json.dumps([r.as_dict() for r in rejected.reasons]).encode()),
    ]
    key = rejected.supplier_id.encode() if rejected.supplier_id else None
    return DeadLetter(dlq_topic(rejected.event_type), key, source.value, headers)


@dataclass
class Prepared:
    """A decoded and validated batch, ready to be written."""

    landing: dict[EventType, list[Event]] = field(default_factory=dict)
    copies: list[Event] = field(default_factory=list)  # later in-batch copies of passing events
    rejected: list[Rejected] = field(default_factory=list)
    validation: dict[EventType, list[ValidationOutcome]] = field(default_factory=dict)


@dataclass
class ValidationSummary:
    """The Great Expectations outcome of one event type over a batch (all rounds)."""

    checked: int = 0
    failed_rows: int = 0
    results: dict[str, ExpectationResult] = field(default_factory=dict)

    def add(self, outcome: ValidationOutcome) -> None:
        self.merge(
            ValidationSummary(
                outcome.checked, len(outcome.failed), {r.rule: r for r in outcome.results}
            )
        )

    def merge(self, other: "ValidationSummary") -> None:
        self.checked += other.checked
        self.failed_rows += other.failed_rows
        for rule, r in other.results.items():
            seen = self.results.get(rule)
            self.results[rule] = (
                r
                if seen is None
                else ExpectationResult(
                    rule, r.expectation, seen.success and r.success, seen.unexpected + r.unexpected
                )
            )

    @property
    def success(self) -> bool:
        return self.failed_rows == 0

    @property
    def failed_rules(self) -> dict[str, int]:
        return {rule: r.unexpected for rule, r in self.results.items() if not r.success}


@dataclass
class BatchOutcome:
    """What one micro-batch did; `read == landed + duplicates + quarantined` always."""

    read: int = 0
    landed: Counter[EventType] = field(default_factory=Counter)
    duplicates: Counter[EventType] = field(default_factory=Counter)
    quarantined: Counter[EventType | None] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantined records per rule
    validation: dict[EventType, ValidationSummary] = field(default_factory=dict)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass
class Written:
    """What one landing transaction wrote beside the offsets."""

    landed: Counter[EventType] = field(default_factory=Counter)
    duplicates: list[Event] = field(default_factory=list)
    refused: list[Rejected] = field(default_factory=list)  # by the database, quarantined
    touched: dict[str, set[SupplierDay]] = field(default_factory=dict)  # view -> stale keys


def _first_copies(events: Sequence[Event]) -> tuple[list[Event], list[Event]]:
    seen: set[str] = set()
    first, rest = [], []
    for event in events:
        (rest if event.event_id in seen else first).append(event)
        seen.add(event.event_id)
    return first, rest


class Ingestor:
    """Decodes, validates and lands micro-batches into one platform database."""

    def __init__(
        self,
        engine: Engine,
        deserializer: AvroDeserializer,
        validator: "Validator",
        dead_letters: DeadLetterSink | None = None,
        tables: Mapping[EventType, Table] | None = None,
        *,
        days: LocalDays | None = None,
    ) -> None:
        self.engine, self.deserializer, self.validator = engine, deserializer, validator
        self.dead_letters = dead_letters
        if days is None:  # the sites' zones from the reference data validation checks with
            reference = getattr(validator, "reference", None)
            days = LocalDays(
                getattr(reference, "site_timezones", {}),
                getattr(reference, "supplier_timezones", {}),
            )
        self.days = days
        # The landing tables of the contracts this ingest reads (the release's by default).
        self.tables = dict(tables or LANDING)

    def prepare(self, records: Iterable[SourceRecord]) -> Prepared:
        """Decode and validate `records` (nothing is written)."""
        decoded = decode_batch(records, self.deserializer)
        prepared = Prepared(rejected=decoded.rejected)
        for event_type, events in decoded.events.items():
            pending = events
            while pending:
                first, rest = _first_copies(pending)
                outcome = self.validator.validate(event_type, first)
                prepared.validation.setdefault(event_type, []).append(outcome)
                passed = [first[i] for i in outcome.passed]
                for event in passed:
                    event.payload["business_day"] = self.days.business_day(
                        event_type, event.payload
                    )
                prepared.landing.setdefault(event_type, []).extend(passed)
                for row, reasons in outcome.failed.items():
                    event = first[row]
                    prepared.rejected.append(
                        Rejected(
                            event.source, event_type, event.supplier_id, event.event_id, reasons
                        )
                    )
                passed_ids = {e.event_id for e in passed}
                prepared.copies.extend(e for e in rest if e.event_id in passed_ids)
                pending = [e for e in rest if e.event_id not in passed_ids]
        return prepared

    def ingest(
        self,
        records: Sequence[SourceRecord],
        start_offsets: Mapping[TopicPartition, int | None],
    ) -> BatchOutcome:
        """Land `records` (read from `start_offsets`) and move the offsets past them.

        Raises `TransientError` (database or Kafka unavailable, or another ingest moved
        the offsets) with nothing written; the same records can then be ingested again.
        Raises `SchemaMismatch` when the database needs `sangsaeng db upgrade`; a record
        the database refuses is quarantined (`database_refused`), never raised.
        """
        outcome = BatchOutcome(read=len(records))
        if not records:
            return outcome
        end: dict[TopicPartition, int] = {}
        for record in records:
            key = (record.topic, record.partition)
            end[key] = max(end.get(key, 0), record.offset + 1)
        prepared = self.prepare(records)
        self._send_dead_letters(prepared.rejected)
        now = datetime.now(UTC)
        try:
            written = self._land(prepared, start_offsets, end, now, isolate=False)
        except DataRefused:
            # A value the suites let through was refused (nothing was written): the same
            # batch again, in one transaction, splitting until the refused records stand
            # alone; they are quarantined with the database's word and the rest lands.
            written = self._land(prepared, start_offsets, end, now, isolate=True)
        rejected = prepared.rejected + written.refused
        outcome.landed = written.landed
        outcome.duplicates.update(e.event_type for e in written.duplicates)
        outcome.quarantined.update(r.event_type for r in rejected)
        for refused in rejected:
            outcome.reasons.update({r.rule for r in refused.reasons})
        outcome.validation = summarise(prepared.validation)
        outcome.offsets = end
        return outcome

    def _send_dead_letters(self, rejected: Sequence[Rejected]) -> None:
        if self.dead_letters is not None:
            letters = [x for x in map(dead_letter, rejected) if x is not None]
            if letters:
                self.dead_letters.send(letters)

    def _land(
        self,
        prepared: Prepared,
        start_offsets: Mapping[TopicPartition, int | None],
        end: Mapping[TopicPartition, int],
        now: datetime,
        *,
        isolate: bool,
    ) -> Written:
        """One transaction: offsets, landing rows, duplicates, quarantine.

        `isolate`: land each event type's rows in savepoints split around the rows the
        database refuses (`insert_events_isolated`); those are quarantined, and sent as
        dead letters before the commit. Without it, a refused value raises `DataRefused`
        (nothing written). Other database errors raise as `database_error` says.
        """
        written = Written()
        try:
            with self.engine.begin() as conn:
                claim_offsets(conn, start_offsets, end, now)
                refused_ids: dict[tuple[EventType, str], str] = {}
                landed_keys: dict[EventType, set[SupplierDay]] = {}
                for event_type, events in prepared.landing.items():
                    table = self.tables[event_type]
                    if isolate:
                        inserted, refused = insert_events_isolated(conn, table, events, now)
                    else:
                        inserted, refused = insert_events(conn, table, events, now), []
                    for event, message in refused:
                        refused_ids[(event_type, event.event_id)] = message
                        written.refused.append(refused_by_database(event, message))
                    written.landed[event_type] += len(inserted)
                    landed_keys[event_type] = {
                        (e.supplier_id, e.payload["business_day"])
                        for e in events
                        if e.event_id in inserted
                    }
                    written.duplicates.extend(
                        e
                        for e in events
                        if e.event_id not in inserted
                        and (event_type, e.event_id) not in refused_ids
                    )
                for copy in prepared.copies:  # a later copy of an event refused above
                    key = (copy.event_type, copy.event_id)
                    if key in refused_ids:
                        message = f"a copy of it was refused: {refused_ids[key]}"
                        written.refused.append(refused_by_database(copy, message))
                    else:
                        written.duplicates.append(copy)
                record_duplicates(conn, written.duplicates, now)
                quarantined = prepared.rejected + written.refused
                rows = quarantine_rows(quarantined, now, self.days)
                insert_quarantine_rows(conn, rows)
                written.touched = stale(landed_keys, quarantine_keys(rows))
                touch(conn, written.touched)
                self._send_dead_letters(written.refused)  # before the commit, like the others
        except DBAPIError as exc:
            raise database_error(exc, "landing a batch") from exc
        return written


def build_ingestor(
    engine: Engine,
    registry: RegistryClient,
    window: TimeWindow,
    *,
    dead_letters: DeadLetterSink | None = None,
    contracts: Contracts | None = None,
) -> Ingestor:
    """The one way an `Ingestor` is made (Dagster's asset, the CLI, tests): reads events as
    `contracts` (the release's by default), validates against the reference data in
    `engine`, lands into the contracts' tables. `NoReferenceData` when no supplier is known.
    """
    from pipelines.validation.runner import Validator

    return Ingestor(
        engine,
        AvroDeserializer.for_contracts(registry, contracts),
        Validator(ReferenceSets.required(engine), window),
        dead_letters,
        landing_tables(contracts) if contracts is not None else None,
    )


def summarise(
    validation: Mapping[EventType, Sequence[ValidationOutcome]],
) -> dict[EventType, ValidationSummary]:
    """One summary per event type over every validation round."""
    out: dict[EventType, ValidationSummary] = defaultdict(ValidationSummary)
    for event_type, outcomes in validation.items():
        for outcome in outcomes:
            out[event_type].add(outcome)
    return dict(out)


class BatchReader(Protocol):
    """Reads records from stored offsets (the connectors' `SupplierTopicReader`)."""

    def read(
        self, stored: Mapping[TopicPartition, int], *, max_records: int, max_seconds: float
    ) -> Sequence[SourceRecord]: ...


def ingest_once(
    reader: BatchReader, ingestor: Ingestor, *, max_records: int, max_seconds: float
) -> BatchOutcome:
    """Read one bounded micro-batch from the offsets stored in the database and land it."""
    stored = stored_offsets(ingestor.engine)
    records = reader.read(stored, max_records=max_records, max_seconds=max_seconds)
    return ingestor.ingest(records, stored)
