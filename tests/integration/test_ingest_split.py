"""A value the database refuses after validation passed: the batch is split, on both
databases, the refused records are quarantined as `database_refused` with the
database's words, and the rest lands in the same one transaction as the offsets.

The suites catch NaN and NUL themselves now, so these tests validate nothing (a
validator that passes every row) to reach the database with what it refuses: NaN in
a NOT NULL column on SQLite (it stores NaN as NULL), a NUL character on PostgreSQL.
"""

import math
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import event, text

from connectors.kafka.consumer import SupplierTopicReader
from connectors.kafka.dlq import DeadLetterProducer
from pipelines.decode import Event
from pipelines.ingest import BatchOutcome, Ingestor, ingest_once
from pipelines.validation.runner import ValidationOutcome
from sangsaeng.db import SchemaMismatch, make_engine
from schemas.registry.client import RegistryClient
from schemas.serde import AvroDeserializer
from schemas.topics import EventType
from tests.integration.ingest_state import read_state
from tests.integration.ingest_world import IngestWorld, Sent
from tests.integration.test_ingest import dead_letters, end_offsets

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


class PassEverything:
    """A validator that lets every row through, so the database is the judge."""

    def validate(self, event_type: EventType, events: Sequence[Event]) -> ValidationOutcome:
        return ValidationOutcome(event_type, len(events), list(range(len(events))))


def _refused_value(dialect: str) -> tuple[dict[str, Any], str]:
    """A change to a production record this database refuses, and words of its message."""
    if dialect == "sqlite":
        return {"quantity_good": math.nan}, "NOT NULL constraint failed"
    return {"lot_id": "LOT\x00"}, "NUL"


def _ingest_all(world: IngestWorld, ingestor: Ingestor) -> list[BatchOutcome]:
    reader = SupplierTopicReader(world.bootstrap, topics=world.setting_values("")["ingest_topics"])
    outcomes = []
    try:
        while (outcome := ingest_once(reader, ingestor, max_records=500, max_seconds=20)).read:
            outcomes.append(outcome)
    finally:
        reader.close()
    return outcomes


def _savepoints(engine) -> list[str]:
    """The SAVEPOINT statements `engine` runs from now on."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _ingestor(world: IngestWorld, engine, dead_letters=None) -> Ingestor:
    return Ingestor(
        engine,
        AvroDeserializer.for_contracts(RegistryClient(world.registry_url, world.registry_auth)),
        PassEverything(),  # type: ignore[arg-type]
        dead_letters,
    )


def test_the_records_the_database_refuses_are_quarantined_and_the_rest_lands(
    world: IngestWorld, db_url: str, engine
) -> None:
    world.load_reference(db_url)
    change, words = _refused_value(engine.dialect.name)
    events = world.events()
    production = [(s, r) for t, s, r in events if t is EventType.PRODUCTION]
    clean = events[:60]

    # A clean batch first: one transaction, no savepoint.
    for event_type, supplier_id, record in clean[:20]:
        world.send(event_type, supplier_id, record, "land")
    world.flush()
    dlq = DeadLetterProducer(world.bootstrap)
    ingestor = _ingestor(world, engine, dlq)
    savepoints = _savepoints(engine)
    try:
        [first] = _ingest_all(world, ingestor)
        assert sum(first.landed.values()) == 20 and savepoints == []

        # Then offenders among clean records, a resend of one offender and of a clean one.
        refused: list[Sent] = []
        for i, (event_type, supplier_id, record) in enumerate(clean[20:]):
            sent = world.send(event_type, supplier_id, record, "land")
            if i % 8 == 3:
                supplier, original = production.pop()
                broken = dict(original, event_id=str(uuid.uuid4()), **change)
                refused.append(world.send_unchecked(EventType.PRODUCTION, supplier, broken, ""))
        resent = world.send_raw(refused[0].topic, refused[0].value, refused[0].event_id, "")
        duplicate = world.send_raw(sent.topic, sent.value, sent.event_id, "duplicate")
        world.flush()
        [outcome] = _ingest_all(world, ingestor)
    finally:
        dlq.close()

    assert savepoints, "the refused batch was not split"
    offenders = {s.where for s in [*refused, resent]}
    assert outcome.read == 40 + len(offenders) + 1
    assert sum(outcome.quarantined.values()) == len(offenders) == 6
    assert outcome.reasons == Counter({"database_refused": len(offenders)})
    assert sum(outcome.duplicates.values()) == 1
    assert sum(outcome.landed.values()) + len(offenders) + 1 == outcome.read

    state = read_state(db_url)
    assert state.landed_ids == {s.event_id for s in world.sent if s.expect == "land"}
    assert state.landed_rows == 60
    assert {(t, p, o) for t, p, o, _ in state.duplicates} == {duplicate.where}
    assert set(state.quarantined) == offenders
    assert all(rules == {"database_refused"} for rules in state.quarantined.values())
    with engine.connect() as conn:
        messages = [m for (m,) in conn.execute(text("SELECT reasons FROM quarantine"))]
    assert all(words in str(m) for m in messages), messages
    assert state.offsets == {tp: end for tp, end in end_offsets(world).items() if end > 0}
    assert dead_letters(world) == Counter({where: 1 for where in offenders})
    assert _ingest_all(world, ingestor) == []


def test_a_schema_that_does_not_match_stays_terminal_and_is_not_split(
    world: IngestWorld, db_url: str, engine
) -> None:
    world.load_reference(db_url)
    for event_type, supplier_id, record in world.events(30):
        world.send(event_type, supplier_id, record, "land")
    world.flush()
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE landing_production DROP COLUMN unit"))
    before = read_state(db_url)
    savepoints = _savepoints(engine)

    with pytest.raises(SchemaMismatch, match="sangsaeng db upgrade"):
        _ingest_all(world, _ingestor(world, engine))

    assert savepoints == []
    assert read_state(db_url) == before  # no offsets moved, nothing quarantined
