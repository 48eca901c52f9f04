"""Supplier feedback on refused events: list the quarantine, retry it after a fix.

`reprocess` decodes each open quarantined record's original bytes again, validates
it against the current reference data and lands it if it now passes, in one
transaction with the quarantine row's new status, so a retried event lands once
however often `reprocess` runs (or crashes). A record the database still refuses for
its data stays open with that reason (`database_refused`); the others are resolved.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, false, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from pipelines.decode import Rejected
from pipelines.landing.models import (
    QUARANTINE_DUPLICATE,
    QUARANTINE_LANDED,
    QUARANTINE_OPEN,
    quarantine,
)
from pipelines.landing.writer import insert_events_isolated, refused_by_database
from pipelines.views.catalog import stale
from pipelines.views.keys import touch
from sangsaeng.db import database_error
from sangsaeng.errors import TransientError
from schemas.topics import EventType

if TYPE_CHECKING:  # the listing needs no Great Expectations import
    from pipelines.ingest import Ingestor


@dataclass(frozen=True)
class QuarantinedRecord:
    """A record as Kafka delivered it, rebuilt from its quarantine row (a `SourceRecord`)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined record, for listing."""

    quarantine_id: int
    first_seen: datetime
    supplier_id: str | None
    event_type: str | None
    event_id: str | None
    topic: str
    partition: int
    offset: int
    status: str
    attempts: int
    reasons: list[dict[str, Any]]


def list_quarantine(
    engine: Engine,
    *,
    supplier_id: str | None = None,
    event_type: str | None = None,
    status: str | None = QUARANTINE_OPEN,
    limit: int = 100,
    read_at: Mapping[tuple[str, int], tuple[int, int]] | None = None,
) -> list[QuarantineEntry]:
    """Quarantined records, newest first, filtered by supplier, event type and status;
    `read_at`: only those read from these (topic, partition) offset ranges [first, end),
    e.g. one batch's."""
    q = quarantine.c
    query = select(
        q.quarantine_id,
        q.first_seen,
        q.supplier_id,
        q.event_type,
        q.event_id,
        q.kafka_topic,
        q.kafka_partition,
        q.kafka_offset,
        q.status,
        q.attempts,
        q.reasons,
    ).order_by(q.quarantine_id.desc())
    if supplier_id:
        query = query.where(q.supplier_id == supplier_id)
    if event_type:
        query = query.where(q.event_type == event_type)
    if status:
        query = query.where(q.status == status)
    if read_at is not None:
        query = query.where(
            or_(
                false(),
                *[
                    and_(
                        q.kafka_topic == topic,
                        q.kafka_partition == partition,
                        q.kafka_offset >= first,
                        q.kafka_offset < end,
                    )
                    for (topic, partition), (first, end) in sorted(read_at.items())
                ],
            )
        )
    with engine.connect() as conn:
        return [QuarantineEntry(*row) for row in conn.execute(query.limit(limit))]


@dataclass
class ReprocessOutcome:
    """What a reprocess did: records retried, landed, found already landed, still refused."""

    retried: int = 0
    landed: int = 0
    duplicates: int = 0
    still_refused: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def reprocess(
    engine: Engine,
    ingestor: "Ingestor",
    *,
    supplier_id: str | None = None,
    event_type: str | None = None,
    limit: int = 10_000,
) -> ReprocessOutcome:
    """Retry open quarantined records; raises `TransientError` with nothing changed."""
    q = quarantine.c
    query = (
        select(
            q.quarantine_id,
            q.kafka_topic,
            q.kafka_partition,
            q.kafka_offset,
            q.kafka_timestamp,
            q.payload,
            q.supplier_id,
            q.received_day,
        )
        .where(q.status == QUARANTINE_OPEN)
        .order_by(q.quarantine_id)
        .limit(limit)
    )
    if supplier_id:
        query = query.where(q.supplier_id == supplier_id)
    if event_type:
        query = query.where(q.event_type == event_type)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    ids = {(r.kafka_topic, r.kafka_partition, r.kafka_offset): r.quarantine_id for r in rows}
    records = [QuarantinedRecord(r[1], r[2], r[3], r[4], r[5]) for r in rows]
    prepared = ingestor.prepare(records)
    outcome = ReprocessOutcome(retried=len(records))
    now = datetime.now(UTC)

    def mark(conn: Any, source: Any, **values: Any) -> None:
        key = (source.topic, source.partition, source.offset)
        result = conn.execute(
            update(quarantine)
            .where(q.quarantine_id == ids[key], q.status == QUARANTINE_OPEN)
            .values(attempts=q.attempts + 1, **values)
        )
        if result.rowcount != 1:
            raise TransientError(
                f"quarantine entry {ids[key]} was resolved by another reprocess meanwhile; "
                "nothing was changed, run reprocess again"
            )

    try:
        with engine.begin() as conn:
            refused: list[Rejected] = []
            refused_ids: set[tuple[EventType, str]] = set()
            landed_keys: dict[EventType, set[tuple[str, Any]]] = {}
            for kind, events in prepared.landing.items():
                inserted, offenders = insert_events_isolated(
                    conn, ingestor.tables[kind], events, now
                )
                refused += [refused_by_database(event, message) for event, message in offenders]
                refused_ids.update((kind, e.event_id) for e, _ in offenders)
                for event in events:
                    if (kind, event.event_id) in refused_ids:
                        continue
                    landed = event.event_id in inserted
                    if landed:
                        landed_keys.setdefault(kind, set()).add(
                            (event.supplier_id, event.payload["business_day"])
                        )
                    outcome.landed += landed
                    outcome.duplicates += not landed
                    status = QUARANTINE_LANDED if landed else QUARANTINE_DUPLICATE
                    mark(conn, event.source, status=status, resolved_at=now)
            for event in prepared.copies:
                if (event.event_type, event.event_id) in refused_ids:
                    message = "a copy of it was refused by the database"
                    refused.append(refused_by_database(event, message))
                    continue
                outcome.duplicates += 1
                mark(conn, event.source, status=QUARANTINE_DUPLICATE, resolved_at=now)
            for rejected in prepared.rejected + refused:
                outcome.still_refused += 1
                outcome.reasons.update({r.rule for r in rejected.reasons})
                mark(conn, rejected.source, reasons=[r.as_dict() for r in rejected.reasons])
            # Views of the days the landed events belong to, and the quarantine's own
            # (a resolved record no longer counts as refused there).
            resolved = {
                (r.supplier_id, r.received_day)
                for r in rows
                if r.supplier_id is not None and r.received_day is not None
            }
            touch(conn, stale(landed_keys, resolved))
    except DBAPIError as exc:
        raise database_error(exc, "reprocessing the quarantine") from exc
    return outcome
