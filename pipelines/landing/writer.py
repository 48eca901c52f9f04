"""Writes a validated micro-batch: landing rows, duplicates, quarantine and offsets.

Every function here takes an open connection: the caller holds ONE transaction for the
rows and the offsets they cover, so a crash or a database outage leaves either all of
a batch or none of it. Landing is `INSERT ... ON CONFLICT DO NOTHING RETURNING`, so an
event_id that already landed is detected by the database itself, under concurrency too.
When the database refuses a value, `insert_events_isolated` lands the same events in
savepoints, split until the refused ones stand alone, inside the caller's transaction.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from pipelines.decode import Event, Reason, Rejected
from pipelines.landing.days import LocalDays
from pipelines.landing.models import (
    ingest_duplicate,
    ingest_offsets,
    quarantine,
)
from pipelines.landing.split import Refused, split_refused
from sangsaeng.db import DataRefused, database_error, first_line
from sangsaeng.errors import TransientError

TopicPartition = tuple[str, int]
DATABASE_REFUSED = "database_refused"  # the rule of a record the database would not store
CHUNK = 2_000  # rows per statement; keeps PostgreSQL's 65,535 bind parameters in reach


class OffsetConflict(TransientError):
    """Another ingest advanced a partition since this batch was read; nothing was written."""


def _insert(conn: Connection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def stored_offsets(conn_or_engine: Connection | Engine) -> dict[TopicPartition, int]:
    """The next offset to read for every partition ingested so far."""
    query = select(ingest_offsets.c.topic, ingest_offsets.c.partition, ingest_offsets.c.next_offset)
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            rows = conn.execute(query).all()
    else:
        rows = conn_or_engine.execute(query).all()
    return {(topic, partition): next_offset for topic, partition, next_offset in rows}


def claim_offsets(
    conn: Connection,
    start: Mapping[TopicPartition, int | None],
    end: Mapping[TopicPartition, int],
    now: datetime,
) -> None:
    """Move each partition from its `start` offset (None: never read) to its `end`.

    Runs first in the transaction so it takes the row locks before any rows are written;
    raises `OffsetConflict` when the stored offset is no longer `start`.
    """
    for (topic, partition), next_offset in sorted(end.items()):
        expected = start.get((topic, partition))
        if expected is None:
            statement = (
                _insert(conn)(ingest_offsets)
                .values(topic=topic, partition=partition, next_offset=next_offset, updated_at=now)
                .on_conflict_do_nothing(index_elements=["topic", "partition"])
                .returning(ingest_offsets.c.topic)
            )
        else:
            statement = (
                update(ingest_offsets)
                .where(
                    ingest_offsets.c.topic == topic,
                    ingest_offsets.c.partition == partition,
                    ingest_offsets.c.next_offset == expected,
                )
                .values(next_offset=next_offset, updated_at=now)
                .returning(ingest_offsets.c.topic)
            )
        # RETURNING, not rowcount: psycopg reports no count for INSERT ... ON CONFLICT.
        if conn.execute(statement).first() is None:
            raise OffsetConflict(
                f"{topic}[{partition}] moved past offset {expected} while this batch was "
                "processed (another ingest is running?); nothing was written, run again"
            )


def landing_row(event: Event, now: datetime) -> dict[str, Any]:
    """The landing row of `event`: its payload plus where it was read."""
    row = dict(event.payload)
    row["kafka_topic"] = event.source.topic
    row["kafka_partition"] = event.source.partition
    row["kafka_offset"] = event.source.offset
    row["kafka_timestamp"] = event.source.timestamp
    row["landed_at"] = now
    return row


def insert_events(
    conn: Connection, table: Table, events: Sequence[Event], now: datetime
) -> set[str]:
    """Insert `events` (distinct event_ids) into their landing `table` where their event_id
    is new; returns those inserted."""
    if not events:
        return set()
    if conn.dialect.name == "postgresql":
        return _copy_then_insert(conn, table, events, now)
    return _insert_new(conn, table, events, now)


def insert_events_isolated(
    conn: Connection, table: Table, events: Sequence[Event], now: datetime
) -> tuple[set[str], list[tuple[Event, str]]]:
    """`insert_events`, each attempt in a savepoint, split until every event the database
    refuses for its data stands alone (`split_refused`); returns the event_ids inserted
    and each refused event with the database's message. The others are written.

    Raises what `database_error` makes of any other error (lost connection: transient;
    missing table or column: `SchemaMismatch`).
    """

    def attempt(chunk: Sequence[Event]) -> set[str]:
        try:
            with conn.begin_nested():
                return insert_events(conn, table, chunk, now)
        except DBAPIError as exc:
            error = database_error(exc, f"landing into {table.name}")
            if isinstance(error, DataRefused):
                raise Refused(first_line(exc)) from exc
            raise error from exc

    split = split_refused(events, attempt)
    return set().union(*split.accepted), split.refused


def refused_by_database(event: Event, message: str) -> Rejected:
    """`event` as quarantined for a value the database refused (`message`, its words)."""
    reason = Reason(DATABASE_REFUSED, f"the database refused this record: {message}")
    return Rejected(event.source, event.event_type, event.supplier_id, event.event_id, [reason])


def _insert_new(conn: Connection, table: Table, events: Sequence[Event], now: datetime) -> set[str]:
    # SQLite: this transaction already holds the database's write lock (the offsets were
    # claimed first), so no one can land an event_id between this read and the insert.
    # The rows go through the DB-API executemany with SQLAlchemy's own bind processors
    # applied once per value: its per-row parameter handling cost more than SQLite itself.
    ids = [e.event_id for e in events]
    existing: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        existing.update(conn.scalars(select(table.c.event_id).where(table.c.event_id.in_(chunk))))
    new = [e for e in events if e.event_id not in existing]
    names = [c.name for c in table.columns]
    processors = [
        c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in table.columns
    ]
    statement = str(
        _insert(conn)(table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .compile(dialect=conn.dialect, column_keys=names)
    )
    rows = []
    for event in new:
        row = landing_row(event, now)
        rows.append(
            tuple(
                p(row.get(n)) if p is not None and row.get(n) is not None else row.get(n)
                for n, p in zip(names, processors, strict=True)
            )
        )
    if rows:
        conn.exec_driver_sql(statement, rows)
    return {e.event_id for e in new}


def _copy_then_insert(
    conn: Connection, table: Table, events: Sequence[Event], now: datetime
) -> set[str]:
    # PostgreSQL: COPY into a session-local staging table, then one INSERT ... SELECT ...
    # ON CONFLICT DO NOTHING RETURNING. A multi-row VALUES statement of 20k parameters
    # spends most of its time in the driver's query parsing; COPY does not parse.
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Json

    names = [c.name for c in table.columns]
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    staging = sql.Identifier(f"staging_{table.name}")
    target, columns = sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    raw = conn.connection.driver_connection  # the psycopg connection of this transaction

    def text(statement: sql.Composable) -> str:
        return statement.as_string(raw)

    # Made anew in each transaction, so it always has the target's current columns (a
    # session-long temp table would keep the shape from before a `db upgrade`); emptied
    # first, for a second call in the same transaction.
    conn.exec_driver_sql(
        text(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP"
            ).format(staging, target)
        )
    )
    conn.exec_driver_sql(text(sql.SQL("TRUNCATE {}").format(staging)))
    copy_statement = sql.SQL("COPY {} ({}) FROM STDIN").format(staging, columns)
    try:
        with raw.cursor() as cursor, cursor.copy(copy_statement) as copy:
            for event in events:
                row = landing_row(event, now)
                copy.write_row(
                    [Json(row.get(n)) if n in json_columns else row.get(n) for n in names]
                )
    except psycopg.Error as exc:
        # The raw cursor bypasses SQLAlchemy: wrap the error the way SQLAlchemy would, so
        # the caller tells a lost connection from a schema or data error.
        raise DBAPIError.instance(text(copy_statement), None, exc, psycopg.Error) from exc
    # Through SQLAlchemy (not the raw cursor), so engine events and error handling apply.
    inserted = conn.exec_driver_sql(
        text(
            sql.SQL(
                "INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT (event_id) DO NOTHING "
                "RETURNING event_id"
            ).format(target, columns, columns, staging)
        )
    )
    return {row[0] for row in inserted}


def record_duplicates(conn: Connection, events: Iterable[Event], now: datetime) -> int:
    """Record records whose event_id had already landed; returns how many."""
    rows = [
        {
            "kafka_topic": e.source.topic,
            "kafka_partition": e.source.partition,
            "kafka_offset": e.source.offset,
            "event_id": e.event_id,
            "seen_at": now,
        }
        for e in events
    ]
    statement = _insert(conn)(ingest_duplicate).on_conflict_do_nothing()
    for i in range(0, len(rows), CHUNK):
        conn.execute(statement, rows[i : i + CHUNK])
    return len(rows)


def quarantine_rows(
    rejected: Iterable[Rejected], now: datetime, days: LocalDays | None = None
) -> list[dict[str, Any]]:
    """The quarantine rows of `rejected`; `days` gives each its supplier's received day."""
    days = days or LocalDays({}, {})
    return [
        {
            "kafka_topic": r.source.topic,
            "kafka_partition": r.source.partition,
            "kafka_offset": r.source.offset,
            "kafka_timestamp": r.source.timestamp,
            "event_type": r.event_type.value if r.event_type else None,
            "supplier_id": r.supplier_id,
            "event_id": r.event_id,
            "received_day": (
                days.received_day(r.supplier_id, r.source.timestamp) if r.supplier_id else None
            ),
            "reasons": [reason.as_dict() for reason in r.reasons],
            "payload": r.source.value,
            "first_seen": now,
            "status": "open",
            "attempts": 1,
        }
        for r in rejected
    ]


def quarantine_keys(rows: Iterable[Mapping[str, Any]]) -> set[tuple[str, date]]:
    """The (supplier, received day) keys of quarantine rows that name a supplier."""
    return {(r["supplier_id"], r["received_day"]) for r in rows if r["received_day"] is not None}


def insert_quarantine(
    conn: Connection, rejected: Sequence[Rejected], now: datetime, days: LocalDays | None = None
) -> int:
    """Quarantine `rejected` with their reasons and original bytes; returns how many."""
    return insert_quarantine_rows(conn, quarantine_rows(rejected, now, days))


def insert_quarantine_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert prepared quarantine rows (`quarantine_rows`); returns how many."""
    statement = _insert(conn)(quarantine).on_conflict_do_nothing()
    for i in range(0, len(rows), CHUNK):
        conn.execute(statement, rows[i : i + CHUNK])
    return len(rows)
