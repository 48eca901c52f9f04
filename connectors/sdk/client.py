"""`SupplierClient`: how a supplier's MES hands events to the platform over Kafka.

`send` checks the record against the contract shipped with the SDK (no broker or
registry needed) and against what the platform can carry (`connectors.sdk.coerce`,
`connectors.sdk.limits`: finite numbers, sane timestamps, no NUL, a size the topic
takes), fills `event_id`/`event_time` when absent, and commits it to the local spool;
`flush` forwards the spool in order with acks=all and deletes what the broker
acknowledged. A factory network outage only makes `flush` say so: events keep being
accepted up to the spool's limit, then `send` refuses with `SpoolFull`.

Each record carries its `event_id` in a header. If a process died after the broker
took a batch but before the spool forgot it, the next client on that spool finds
those ids in the tail of the topics and drops them instead of sending them twice.
"""

import contextlib
import fcntl
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError

from connectors.kafka.admin import missing_topics
from connectors.sdk.coerce import CoercionError, event_walker
from connectors.sdk.limits import EdgeLimits, Window, too_large
from connectors.sdk.spool import Spool, SpooledEvent
from governance.parties import NotOnboarded, not_onboarded
from sangsaeng.errors import PlatformError, TerminalError, TransientError
from sangsaeng.settings import Settings
from schemas.registry.auth import client_credentials
from schemas.registry.client import RegistryClient
from schemas.serde import AvroSerializer, SerializationError
from schemas.topics import EventType, check_supplier_id, supplier_topic

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "sangsaeng.event_id"
FRAME_BYTES = 5  # magic byte and schema id, prepended when forwarding
# The field whose events must stay in order: one Kafka key (so one partition) per value.
ORDER_KEY = {
    EventType.PRODUCTION: "line_id",
    EventType.QUALITY: "line_id",
    EventType.MACHINE_STATUS: "line_id",
    EventType.ENERGY: "meter_id",
    EventType.SHIPMENT: "po_number",
}


class EventRejected(TerminalError):
    """An event does not meet its contract; names the field and what was expected."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field, self.reason = field, reason


class SpoolFull(TransientError):
    """The spool holds its maximum; the broker must take some events first."""


class SupplierClient:
    """Sends one supplier's events to `sup.<supplier_id>.<event_type>` via a local spool."""

    def __init__(
        self,
        supplier_id: str,
        *,
        bootstrap: str,
        registry: RegistryClient,
        spool_path: Path,
        max_spool_events: int = 1_000_000,
        batch_size: int = 500,
        producer_config: Mapping[str, Any] | None = None,
        limits: EdgeLimits | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        try:
            self.supplier_id = check_supplier_id(supplier_id)
        except ValueError as exc:
            raise TerminalError(str(exc)) from None
        self.bootstrap = bootstrap
        self.registry = registry
        self.spool = Spool(spool_path)
        self.max_spool_events = max_spool_events
        self.batch_size = batch_size
        self.limits = limits or EdgeLimits()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._window: tuple[int, Window] | None = None
        self.producer_config = {
            "acks": "all",
            "enable_idempotence": True,
            "max_block_ms": 10_000,
            "request_timeout_ms": 10_000,
            "delivery_timeout_ms": 30_000,
            "linger_ms": 5,
            # kafka-python's own cap (1 MiB) must not refuse what the edge accepted
            "max_request_size": max(1_048_576, self.limits.max_message_bytes),
            **(producer_config or {}),
        }
        self._serializers = {e: AvroSerializer.for_event_type(registry, e) for e in EventType}
        self._producer: KafkaProducer | None = None
        self._recovered = False
        self._onboarded = False  # the broker was seen holding this supplier's topics
        self._unreachable_until = 0.0  # monotonic time until which we do not ask again

    @classmethod
    def from_settings(cls, supplier_id: str, settings: Settings, **kwargs: Any) -> "SupplierClient":
        """A client using the platform's settings (broker, registry, spool under state dir,
        the limits of what the platform can carry)."""
        registry = RegistryClient(settings.schema_registry_url, client_credentials(settings))
        kwargs.setdefault("limits", EdgeLimits.from_settings(settings))
        return cls(
            supplier_id,
            bootstrap=settings.kafka_bootstrap,
            registry=registry,
            spool_path=settings.state_dir / "spool" / f"{supplier_id}.db",
            **kwargs,
        )

    # -- accepting ---------------------------------------------------------------------

    def window(self, now: datetime) -> Window:
        """Where timestamps may lie at `now` (recomputed once a second of the clock)."""
        second = int(now.timestamp())
        cached = self._window
        if cached is None or cached[0] != second:
            cached = self._window = (second, self.limits.window(now))
        return cached[1]

    def prepare(self, event_type: EventType | str, record: Mapping[str, Any]) -> tuple:
        """Check and encode one event; returns its spool row.

        Raises `EventRejected` naming the field when the event breaks its contract or
        holds what the platform cannot carry (see `connectors.sdk.coerce`), or when it
        encodes to more than a record on its topic may take.
        """
        try:
            kind = EventType(event_type)
        except ValueError:
            raise EventRejected(
                "event_type",
                f"{event_type!r} is not one of {', '.join(e.value for e in EventType)}",
            ) from None
        if not isinstance(record, Mapping):
            raise EventRejected(None, f"an event is a JSON object, got {type(record).__name__}")
        now = self.clock()
        window = self.window(now)
        try:
            event = event_walker(kind)(dict(record), window)
        except CoercionError as exc:
            raise EventRejected(exc.field, exc.message) from None
        event.setdefault("event_id", str(uuid.uuid4()))
        event.setdefault("event_time", now)
        event.setdefault("supplier_id", self.supplier_id)
        if event["supplier_id"] != self.supplier_id:
            raise EventRejected(
                "supplier_id",
                f"{event['supplier_id']!r} is not this client's supplier {self.supplier_id!r}",
            )
        try:
            event_id = str(uuid.UUID(str(event["event_id"])))
        except ValueError:
            raise EventRejected("event_id", f"{event['event_id']!r} is not a UUID") from None
        event["event_id"] = event_id
        topic = supplier_topic(self.supplier_id, kind)
        try:
            body = self._serializers[kind].encode_body(event, topic=topic)
        except SerializationError as exc:
            field = exc.field.rsplit(".", 1)[-1] if exc.field else None
            raise EventRejected(field, str(exc).split(": ", 1)[-1].split(" [")[0]) from None
        order = event.get(ORDER_KEY[kind]) or ""
        key = f"{event['site_id']}/{order}".encode()
        size = FRAME_BYTES + len(body) + len(key)
        if size > self.limits.record_bytes:
            raise EventRejected(*too_large(size, self.limits, event))
        return (kind.value, topic, key, event_id, body)

    def send(self, event_type: EventType | str, record: Mapping[str, Any]) -> str:
        """Accept one event into the spool; returns its `event_id`.

        Raises `EventRejected` (invalid, naming the field) or `SpoolFull`.
        """
        row = self.prepare(event_type, record)
        self._append([row])
        return row[3]

    def send_many(
        self, event_type: EventType | str, records: Iterable[Mapping[str, Any]]
    ) -> list[str]:
        """Accept valid events in one spool transaction; `EventRejected` on the first invalid."""
        rows = [self.prepare(event_type, r) for r in records]
        self._append(rows)
        return [r[3] for r in rows]

    def send_batch(
        self,
        event_type: EventType | str,
        records: Iterable[Any],
        *,
        cursor: tuple[str, int] | None = None,
    ) -> tuple[list[str], list[tuple[int, EventRejected]]]:
        """Accept the valid records in one spool transaction, refuse the others.

        Returns (accepted event ids, [(index, rejection), ...]). `cursor` moves with the
        accepted records (see `Spool.append`). Raises `SpoolFull` (and accepts none)
        when the valid ones do not fit.
        """
        rows, refused = [], []
        for index, record in enumerate(records):
            try:
                rows.append(self.prepare(event_type, record))
            except EventRejected as exc:
                refused.append((index, exc))
        self._append(rows, cursor)
        return [r[3] for r in rows], refused

    def _topics(self) -> list[str]:
        return [supplier_topic(self.supplier_id, e) for e in EventType]

    def require_onboarded(self) -> None:
        """Refuse at once when the broker answers and has no topics for this supplier.

        Raises `NotOnboarded` naming `sangsaeng suppliers add`. With the broker out of
        reach nothing can be told: events are accepted (store and forward) and the
        question is asked again on a later call (at most every 30 s).
        """
        if self._onboarded or time.monotonic() < self._unreachable_until:
            return
        try:
            missing = missing_topics(self.bootstrap, self._topics(), timeout_s=3.0)
        except TransientError:
            self._unreachable_until = time.monotonic() + 30.0
            return
        if missing:
            raise not_onboarded(self.supplier_id)
        self._onboarded = True

    def _append(self, rows: list[tuple], cursor: tuple[str, int] | None = None) -> None:
        if rows:
            self.require_onboarded()
        if (rows or cursor) and self.spool.append(
            rows, limit=self.max_spool_events, cursor=cursor
        ) < 0:
            raise SpoolFull(
                f"the spool {self.spool.path} holds {self.spool.count()} events, its limit is "
                f"{self.max_spool_events}: the broker at {self.bootstrap} must take some first "
                f"(flush when it is back), or raise the limit"
            )

    def pending(self) -> int:
        """Events accepted but not yet acknowledged by the broker."""
        return self.spool.count()

    # -- forwarding --------------------------------------------------------------------

    @contextlib.contextmanager
    def _forwarding(self) -> Iterator[None]:
        """One forwarder per spool at a time (two would send the same events twice)."""
        with self.spool.path.with_suffix(".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _producer_or_fail(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap, **self.producer_config
                )
            except KafkaError as exc:
                raise self._unreachable(exc) from None
        return self._producer

    def _unreachable(self, exc: Exception) -> TransientError:
        return TransientError(
            f"the broker at {self.bootstrap} did not take the events ({type(exc).__name__}); "
            f"{self.spool.count()} stay spooled and go out on the next flush"
        )

    def flush(self, progress: Any = None) -> int:
        """Forward every spooled event, oldest first; returns how many the broker took.

        Raises `TransientError` when the broker is unreachable: what was not acknowledged
        stays spooled. `progress(n)` is called after each acknowledged batch.
        """
        sent = 0
        with self._forwarding():
            self._recover()
            while batch := self.spool.oldest(self.batch_size):
                done = self._forward(batch)
                sent += done
                if progress is not None:
                    progress(done)
        return sent

    def _forward(self, batch: list[SpooledEvent]) -> int:
        producer = self._producer_or_fail()
        futures = []
        try:
            for event in batch:
                value = self._serializers[EventType(event.event_type)].header + event.body
                futures.append(
                    (
                        event.seq,
                        producer.send(
                            event.topic,
                            key=event.key,
                            value=value,
                            headers=[(EVENT_ID_HEADER, event.event_id.encode())],
                        ),
                    )
                )
            producer.flush()
        except KafkaError as exc:
            self._forget_producer()
            raise self._why_not_taken(exc) from None
        acked, failure = [], None
        for seq, future in futures:
            try:
                future.get(timeout=0)
                acked.append(seq)
            except KafkaError as exc:
                failure = exc
        self.spool.remove(acked)
        if failure is not None:
            self._forget_producer()
            raise self._why_not_taken(failure)
        return len(acked)

    def _why_not_taken(self, exc: Exception) -> PlatformError:
        """Broker away (transient), or a broker that answers but lacks our topics?

        kafka-python reports a missing topic as a metadata timeout, like an outage.
        """
        try:
            missing = missing_topics(self.bootstrap, self._topics(), timeout_s=3.0)
        except TransientError:
            return self._unreachable(exc)
        if missing:
            self._onboarded = False
            return NotOnboarded(
                f"the broker at {self.bootstrap} has no topic {sorted(missing)[0]}: supplier "
                f"{self.supplier_id!r} is not onboarded (run `sangsaeng suppliers add "
                f"{self.supplier_id} --name ... --sector ...`); {self.spool.count()} events "
                "stay spooled until it is"
            )
        return self._unreachable(exc)

    def _forget_producer(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.close(timeout=1)
            self._producer = None

    def _recover(self) -> None:
        """Drop spooled events the broker already has (a crash between ack and delete).

        At most one batch can be in that state, so the last `batch_size` records of
        each partition of the spooled topics are enough to look at.
        """
        if self._recovered or self.spool.count() == 0:
            self._recovered = True
            return
        try:
            seen = event_ids_in_tail(self.bootstrap, self.spool.topics(), self.batch_size)
        except KafkaError as exc:
            raise self._unreachable(exc) from None
        dropped = self.spool.remove_event_ids(seen)
        if dropped:
            log.warning("dropped %d spooled events the broker already had", dropped)
        self._recovered = True

    def close(self) -> None:
        """Release the producer and the spool (spooled events stay on disk)."""
        self._forget_producer()
        self.spool.close()
        self.registry.close()


def event_ids_in_tail(
    bootstrap: str, topics: list[str], depth: int, timeout_s: float = 30.0
) -> set[str]:
    """The `event_id` headers of the last `depth` records of every partition of `topics`."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        request_timeout_ms=10_000,
        bootstrap_timeout_ms=10_000,
    )
    seen: set[str] = set()
    try:
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        if not parts:
            return seen
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        starts = consumer.beginning_offsets(parts)
        for tp in parts:
            consumer.seek(tp, max(starts[tp], ends[tp] - depth))
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"reading the tail of {topics} took over {timeout_s}s")
            for records in consumer.poll(timeout_ms=500).values():
                seen.update(
                    value.decode()
                    for r in records
                    for name, value in (r.headers or ())
                    if name == EVENT_ID_HEADER
                )
    finally:
        consumer.close()
    return seen
