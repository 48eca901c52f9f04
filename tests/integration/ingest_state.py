"""Reads back what ingest left in a database, to compare runs and check the invariant."""

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from pipelines.landing.models import (
    LANDING,
    ingest_duplicate,
    ingest_offsets,
    quarantine,
)
from sangsaeng.db import make_engine


@dataclass(frozen=True)
class IngestState:
    landed: frozenset[tuple[str, str, str, int, int]]  # (type, event_id, topic, partition, offset)
    landed_rows: int  # rows in the landing tables (== len(landed) unless an id landed twice)
    duplicates: frozenset[tuple[str, int, int, str]]
    quarantined: dict[tuple[str, int, int], frozenset[str]]  # where -> rules
    quarantine_rows: int
    offsets: dict[tuple[str, int], int]

    @property
    def landed_ids(self) -> set[str]:
        return {event_id for _, event_id, *_ in self.landed}

    @property
    def rules(self) -> Counter[str]:
        return Counter(rule for rules in self.quarantined.values() for rule in rules)


def read_state(database_url: str) -> IngestState:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            landed = set()
            rows = 0
            for event_type, table in LANDING.items():
                c = table.c
                for row in conn.execute(
                    select(c.event_id, c.kafka_topic, c.kafka_partition, c.kafka_offset)
                ):
                    landed.add((event_type.value, *row))
                rows += conn.scalar(select(func.count()).select_from(table))
            q = quarantine.c
            quarantined = {}
            for topic, partition, offset, reasons in conn.execute(
                select(q.kafka_topic, q.kafka_partition, q.kafka_offset, q.reasons)
            ):
                quarantined[(topic, partition, offset)] = frozenset(r["rule"] for r in reasons)
            d = ingest_duplicate.c
            duplicates = frozenset(
                tuple(r)
                for r in conn.execute(
                    select(d.kafka_topic, d.kafka_partition, d.kafka_offset, d.event_id)
                )
            )
            o = ingest_offsets.c
            offsets = {
                (t, p): n for t, p, n in conn.execute(select(o.topic, o.partition, o.next_offset))
            }
            return IngestState(
                frozenset(landed),
                rows,
                duplicates,
                quarantined,
                conn.scalar(select(func.count()).select_from(quarantine)),
                offsets,
            )
    finally:
        engine.dispose()
