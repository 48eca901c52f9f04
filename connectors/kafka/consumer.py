"""Reads bounded micro-batches from the supplier topics, starting at offsets we were given.

Offsets live in the platform database with the rows they cover (exactly-once landing),
not in a Kafka consumer group: the reader is assigned partitions explicitly, seeks to
the stored offsets (the beginning for a partition never read), and stops at the max
records, the max seconds, or the end offsets it saw when the batch began.
"""

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from connectors.kafka.admin import LOGIN_HINT, default_security
from sangsaeng.errors import TransientError
from sangsaeng.kafka_access import INGEST
from schemas.topics import SUPPLIER_TOPIC_PATTERN

Offsets = Mapping[tuple[str, int], int]


@dataclass(frozen=True)
class PartitionLag:
    """How far one partition's stored offset is behind its end."""

    topic: str
    partition: int
    next_offset: int
    end_offset: int

    @property
    def lag(self) -> int:
        return max(0, self.end_offset - self.next_offset)


def _unavailable(bootstrap: str, exc: Exception) -> TransientError:
    return TransientError(
        f"no Kafka broker answers at {bootstrap} ({type(exc).__name__}): start one with "
        f"`sangsaeng stack up`, or point SANGSAENG_KAFKA_BOOTSTRAP at yours; {LOGIN_HINT}"
    )


class SupplierTopicReader:
    """A consumer over the `sup.<supplier>.<type>` topics whose name matches `topics` (a
    regular expression, matched in full); new topics are found at each read."""

    def __init__(
        self,
        bootstrap: str,
        *,
        topics: str = r"sup\..+",
        client_id: str = "sangsaeng-ingest",
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = re.compile(topics)
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                client_id=client_id,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=4 * 1024 * 1024,
                fetch_max_bytes=32 * 1024 * 1024,
                request_timeout_ms=30_000,
                **default_security(security, INGEST),
            )
        except (KafkaError, OSError) as exc:
            raise _unavailable(bootstrap, exc) from None

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> "SupplierTopicReader":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def partitions(self) -> list[TopicPartition]:
        """Every partition of every supplier topic, in name order."""
        try:
            topics = sorted(
                t
                for t in self.consumer.topics()
                if SUPPLIER_TOPIC_PATTERN.match(t) and self.topics.fullmatch(t)
            )
            found = []
            for topic in topics:
                for p in sorted(self.consumer.partitions_for_topic(topic) or ()):
                    found.append(TopicPartition(topic, p))
            return found
        except (KafkaError, OSError) as exc:
            raise _unavailable(self.bootstrap, exc) from None

    def lag(self, stored: Offsets) -> list[PartitionLag]:
        """Each supplier partition's stored offset against its end offset."""
        parts = self.partitions()
        if not parts:
            return []
        try:
            ends = self.consumer.end_offsets(parts)
            starts = self.consumer.beginning_offsets(parts)
        except (KafkaError, OSError) as exc:
            raise _unavailable(self.bootstrap, exc) from None
        return [
            PartitionLag(
                tp.topic,
                tp.partition,
                stored.get((tp.topic, tp.partition), starts[tp]),
                ends[tp],
            )
            for tp in parts
        ]

    def read(self, stored: Offsets, *, max_records: int, max_seconds: float) -> list[Any]:
        """Up to `max_records` records from the stored offsets, in offset order per partition.

        Returns what arrived within `max_seconds`; an empty list when nothing is behind.
        """
        behind = [p for p in self.lag(stored) if p.lag > 0]
        if not behind:
            return []
        assigned = {TopicPartition(p.topic, p.partition): p for p in behind}
        records: list[Any] = []
        deadline = time.monotonic() + max_seconds
        try:
            self.consumer.assign(list(assigned))
            for tp, p in assigned.items():
                self.consumer.seek(tp, p.next_offset)
            done: set[TopicPartition] = set()
            while len(records) < max_records and len(done) < len(assigned):
                left_ms = int((deadline - time.monotonic()) * 1000)
                if left_ms <= 0:
                    break
                polled = self.consumer.poll(
                    timeout_ms=min(left_ms, 1000), max_records=max_records - len(records)
                )
                for tp, batch in polled.items():
                    end = assigned[tp].end_offset
                    # Read only up to the end seen when the batch began: a bounded batch.
                    records.extend(r for r in batch if r.offset < end)
                    if batch and batch[-1].offset + 1 >= end:
                        done.add(tp)
                for tp in assigned.keys() - done:
                    if self.consumer.position(tp) >= assigned[tp].end_offset:
                        done.add(tp)
        except (KafkaError, OSError) as exc:
            raise _unavailable(self.bootstrap, exc) from None
        finally:
            self.consumer.unsubscribe()
        return records
