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

Two things can stop an event on its way, and every message says which: the broker is
*away* (out of reach, not answering in time: the event stays spooled and is retried),
or the broker *refused* the event for good (a non-retriable answer such as
`MessageSizeTooLargeError`, from the broker or from the producer's own
`max_request_size`): the event moves to the spool's dead letters with the broker's
reason, and the events behind it flow on (`sangsaeng spool list|retry|drop`).
"""

import contextlib
import fcntl
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as kafka_errors
from kafka.errors import KafkaError, KafkaTimeoutError

from connectors.kafka.admin import default_security, missing_topics
from connectors.sdk.coerce import CoercionError, event_walker
from connectors.sdk.limits import EdgeLimits, Window, too_large
from connectors.sdk.spool import Spool, SpooledEvent, spool_folder
from governance.parties import NotOnboarded, not_onboarded
from sangsaeng.errors import ConfigError, PlatformError, TerminalError, TransientError
from sangsaeng.files import private_file
from sangsaeng.kafka_access import client_security
from sangsaeng.settings import Settings
from schemas.registry.auth import client_credentials
from schemas.registry.client import RegistryClient
from schemas.serde import AvroSerializer, SerializationError
from schemas.topics import EventType, check_supplier_id, supplier_topic

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "sangsaeng.event_id"
FORWARDING_MARK = "forwarding"  # set in the spool while a flush runs (holds the pid)
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


class BrokerAway(TransientError):
    """The broker is out of reach or did not answer in time; the events stay spooled."""


class ForwardKind(StrEnum):
    """What stopped a forward: the broker away (events stay spooled and are retried),
    an event refused for good (moved to the dead letters), or a supplier without topics."""

    AWAY = "away"
    REFUSED = "refused"
    NOT_ONBOARDED = "not_onboarded"


@dataclass(frozen=True)
class ForwardProblem:
    """The last thing that stopped a client's forwarding, as its message said it."""

    kind: ForwardKind
    message: str
    at: datetime


# Not retriable, yet not the record's fault: this producer, its credentials or the
# broker's version. Retried like an outage (a record is never dead-lettered for them).
NOT_THE_RECORD: tuple[type[KafkaError], ...] = (
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.TransactionalIdAuthorizationFailedError,
    kafka_errors.SaslAuthenticationFailedError,
    kafka_errors.IllegalStateError,
    kafka_errors.IllegalArgumentError,
    kafka_errors.KafkaConfigurationError,
    kafka_errors.KafkaProtocolError,
    kafka_errors.UnrecognizedBrokerVersion,
    kafka_errors.UnsupportedVersionError,
    kafka_errors.InvalidRequiredAcksError,
    kafka_errors.OutOfOrderSequenceNumberError,
    kafka_errors.InvalidProducerEpochError,
    kafka_errors.InvalidProducerIdMappingError,
    kafka_errors.ProducerFencedError,
    kafka_errors.UnknownProducerIdError,
)


def is_refusal(exc: BaseException) -> bool:
    """True for a Kafka error that refuses a record for good (too large, invalid or
    corrupt, an invalid or forbidden topic...): not `retriable`, and not about the
    producer itself (`NOT_THE_RECORD`)."""
    return isinstance(exc, KafkaError) and not exc.retriable and not isinstance(exc, NOT_THE_RECORD)


def kafka_reason(exc: BaseException) -> str:
    """The error's name and what it means, from its message or, for a broker's error
    code that came without one, the protocol's description."""
    detail = exc.args[0] if exc.args and exc.args[0] else getattr(exc, "description", "")
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


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
        security: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            self.supplier_id = check_supplier_id(supplier_id)
        except ValueError as exc:
            raise TerminalError(str(exc)) from None
        self.bootstrap = bootstrap
        # kafka-python's login settings; None: SANGSAENG_KAFKA_USERNAME / _PASSWORD,
        # looked up when the broker is first reached (spooling needs no login)
        self.security = security
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
        # Contracts are looked up, never registered (a user of role read is enough).
        self._serializers = {
            e: AvroSerializer.for_event_type(registry, e, auto_register=False) for e in EventType
        }
        self._topic_of = {e: supplier_topic(self.supplier_id, e) for e in EventType}
        self._producer: KafkaProducer | None = None
        self._recovered = False
        self._onboarded = False  # the broker was seen holding this supplier's topics
        self._unreachable_until = 0.0  # monotonic time until which we do not ask again
        self.last_problem: ForwardProblem | None = None  # what last stopped a forward
        self.last_forwarded_at: datetime | None = None  # when the broker last took events

    @classmethod
    def from_settings(cls, supplier_id: str, settings: Settings, **kwargs: Any) -> "SupplierClient":
        """A client using the platform's settings (broker, registry, spool under state dir,
        the limits of what the platform can carry, the Kafka login it names)."""
        registry = RegistryClient(settings.schema_registry_url, client_credentials(settings))
        kwargs.setdefault("limits", EdgeLimits.from_settings(settings))
        if settings.kafka_username or settings.kafka_security_protocol == "PLAINTEXT":
            kwargs.setdefault("security", client_security(settings, None))
        return cls(
            supplier_id,
            bootstrap=settings.kafka_bootstrap,
            registry=registry,
            spool_path=spool_folder(settings.state_dir) / f"{supplier_id}.db",
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
        if "event_id" not in event:  # not setdefault: a uuid4 per event costs 3 µs
            event["event_id"] = str(uuid.uuid4())
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
        topic = self._topic_of[kind]
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

    def _login(self) -> dict[str, Any]:
        """kafka-python's login settings: as given, else SANGSAENG_KAFKA_USERNAME / _PASSWORD
        (`ConfigError` saying so when unset)."""
        return default_security(self.security, None)

    def require_onboarded(self) -> None:
        """Refuse at once when the broker answers and has no topics for this supplier.

        Raises `NotOnboarded` naming `sangsaeng suppliers add`. With the broker out of
        reach nothing can be told: events are accepted (store and forward) and the
        question is asked again on a later call (at most every 30 s).
        """
        if self._onboarded or time.monotonic() < self._unreachable_until:
            return
        try:
            login = self._login()
        except ConfigError:  # nothing can be asked yet; forwarding will say what is missing
            return
        try:
            missing = missing_topics(self.bootstrap, self._topics(), timeout_s=3.0, security=login)
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
        """Events accepted but not yet acknowledged by the broker (dead letters aside)."""
        return self.spool.count()

    def dead_letters(self) -> int:
        """Events the broker refused for good, kept aside in the spool's dead letters."""
        return self.spool.dead_count()

    # -- forwarding --------------------------------------------------------------------

    @contextlib.contextmanager
    def _forwarding(self) -> Iterator[None]:
        """One forwarder per spool at a time (two would send the same events twice).

        Several processes may forward one spool in turn (an SDK and a gateway on one
        state dir); one that died mid-flush leaves its mark in the spool, so the next
        looks in Kafka for what it delivered before sending anything.
        """
        with private_file(self.spool.path.with_suffix(".lock")).open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if self.spool.cursor(FORWARDING_MARK) is not None:
                    self._recovered = False
                self.spool.set_cursor(FORWARDING_MARK, os.getpid())
                yield
            finally:
                with contextlib.suppress(sqlite3.Error):  # a closed spool: the mark stays
                    self.spool.drop_cursor(FORWARDING_MARK)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _producer_or_fail(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap, **self._login(), **self.producer_config
                )
            except KafkaError as exc:
                raise self._unreachable(exc) from None
        return self._producer

    def _unreachable(self, exc: Exception) -> TransientError:
        if isinstance(exc, KafkaError) and not exc.retriable:
            what = f"turned this producer away ({kafka_reason(exc)}); no event was refused"
        else:
            what = f"is away: out of reach or not answering in time ({type(exc).__name__})"
        return BrokerAway(
            f"the broker at {self.bootstrap} {what}; {self.spool.count()} events stay spooled "
            "and go out on the next flush"
        )

    def _note(self, kind: ForwardKind, message: str) -> None:
        self.last_problem = ForwardProblem(kind, message, datetime.now(UTC))

    def flush(self, progress: Any = None) -> int:
        """Forward every spooled event, oldest first; returns how many the broker took.

        An event the broker refuses for good moves to the spool's dead letters (logged
        with the broker's reason, kept in `last_problem`) and the rest flows on. Raises
        `BrokerAway` (a `TransientError`) when the broker is out of reach, or
        `NotOnboarded` when it lacks the supplier's topics: what was not acknowledged
        stays spooled. `progress(n)` is called after each batch with how many events
        left the spool (acknowledged or dead-lettered).
        """
        sent = 0
        with self._forwarding():
            try:
                self._recover()
                while batch := self.spool.oldest(self.batch_size):
                    taken, refused = self._forward(batch)
                    sent += taken
                    if taken:
                        self.last_forwarded_at = datetime.now(UTC)
                    if progress is not None:
                        progress(taken + refused)
            except NotOnboarded as exc:
                self._note(ForwardKind.NOT_ONBOARDED, str(exc))
                raise
            except TransientError as exc:
                self._note(ForwardKind.AWAY, str(exc))
                raise
        return sent

    def _framed(self, batch: list[SpooledEvent]) -> list[tuple[SpooledEvent, bytes]]:
        """Each event with its Confluent-framed value, before anything is sent (asking
        the registry for a schema id midway would leave half a batch in the producer)."""
        return [(e, self._serializers[EventType(e.event_type)].header + e.body) for e in batch]

    def _send(self, producer: KafkaProducer, event: SpooledEvent, value: bytes) -> Any:
        return producer.send(
            event.topic,
            key=event.key,
            value=value,
            headers=[(EVENT_ID_HEADER, event.event_id.encode())],
        )

    def _forward(self, batch: list[SpooledEvent]) -> tuple[int, int]:
        """Send one batch; returns (acknowledged, dead-lettered). Raises as `flush`."""
        framed = self._framed(batch)
        producer = self._producer_or_fail()
        futures, refused = [], []
        stopped: KafkaError | None = None
        for event, value in framed:
            try:
                futures.append((event, self._send(producer, event, value)))
            except KafkaError as exc:
                if not is_refusal(exc):
                    stopped = exc  # the rest waits: nothing is sent past a gap
                    break
                # The producer's own checks (max_request_size) judge this record alone,
                # before it leaves: certainly refused, certainly not in Kafka.
                refused.append((event, exc))
        try:
            producer.flush()
        except KafkaError as exc:
            stopped = stopped or exc
        acked, failed = [], []
        for event, future in futures:
            try:
                future.get(timeout=0)
                acked.append(event.seq)
            except KafkaError as exc:  # a future not done raises KafkaTimeoutError
                failed.append((event, exc))
        self.spool.remove(acked)
        for event, exc in refused:
            self._refuse(event, exc)
        if stopped is None and failed and all(is_refusal(exc) for _, exc in failed):
            # The broker refused something for good. A refusal fails the records behind
            # it in its partition too (and leaves the producer failing all it is given),
            # so only a record refused when sent alone is dead-lettered.
            self._forget_producer()
            taken, dead = self._one_by_one([e for e, _ in failed])
            return len(acked) + taken, len(refused) + dead
        if stopped is not None or failed:
            self._forget_producer()
            # Records the old producer still held may yet arrive: look before resending.
            self._recovered = False
            raise self._why_not_taken(stopped or failed[0][1])
        return len(acked), len(refused)

    def _one_by_one(self, suspects: list[SpooledEvent]) -> tuple[int, int]:
        """Send `suspects` (failed beside a refusal) one at a time, in order, until one
        is refused alone: that one is dead-lettered, the rest stays for the next batch.
        Returns (taken by the broker: sent now or found already in Kafka, dead-lettered)."""
        # A refusal proves those records were not written; the tail is read anyway, so
        # that a record is never sent twice on the word of a failed producer.
        seen = self._in_kafka({e.topic for e in suspects})
        arrived = [e.seq for e in suspects if e.event_id in seen]
        self.spool.remove(arrived)
        done = len(arrived)
        producer = self._producer_or_fail()
        for event, value in self._framed([e for e in suspects if e.event_id not in seen]):
            try:
                future = self._send(producer, event, value)
                producer.flush()
                future.get(timeout=0)
            except KafkaError as exc:
                self._forget_producer()
                if not is_refusal(exc):
                    self._recovered = False
                    raise self._why_not_taken(exc) from None
                self._refuse(event, exc)
                return done, 1
            self.spool.remove([event.seq])
            done += 1
        return done, 0

    def _refuse(self, event: SpooledEvent, exc: KafkaError) -> None:
        """Move an event the broker refused for good to the dead letters, and say so."""
        reason = kafka_reason(exc)
        self.spool.dead_letter(event.seq, reason)
        message = (
            f"the broker at {self.bootstrap} refused event {event.event_id} of "
            f"{event.topic} ({len(event.body):,} bytes) for good: {reason}; it moved to the "
            f"spool's dead letters (`sangsaeng spool list --supplier {self.supplier_id}`), "
            "the events after it go on"
        )
        log.warning("%s", message)
        self._note(ForwardKind.REFUSED, message)

    def _in_kafka(self, topics: set[str]) -> set[str]:
        """The event ids in the last `batch_size` records of each partition of `topics`."""
        try:
            return event_ids_in_tail(
                self.bootstrap, sorted(topics), self.batch_size, security=self._login()
            )
        except KafkaError as exc:
            raise self._unreachable(exc) from None

    def _why_not_taken(self, exc: Exception) -> PlatformError:
        """Broker away (transient), or a broker that answers but lacks our topics?

        kafka-python reports a missing topic as a metadata timeout, like an outage.
        """
        try:
            missing = missing_topics(
                self.bootstrap, self._topics(), timeout_s=3.0, security=self._login()
            )
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
        """Drop spooled events the broker already has: a crash between ack and delete,
        or a forward that failed with records it may still have delivered (re-armed then).

        At most one batch can be in that state, so the last `batch_size` records of
        each partition of the spooled topics are enough to look at.
        """
        if self._recovered or self.spool.empty():
            self._recovered = True
            return
        dropped = self.spool.remove_event_ids(self._in_kafka(set(self.spool.topics())))
        if dropped:
            log.warning("dropped %d spooled events the broker already had", dropped)
        self._recovered = True

    def close(self) -> None:
        """Release the producer and the spool (spooled events stay on disk)."""
        self._forget_producer()
        self.spool.close()
        self.registry.close()


def event_ids_in_tail(
    bootstrap: str,
    topics: list[str],
    depth: int,
    timeout_s: float = 30.0,
    *,
    security: Mapping[str, Any] | None = None,
) -> set[str]:
    """The `event_id` headers of the last `depth` records of every partition of `topics`."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        request_timeout_ms=10_000,
        bootstrap_timeout_ms=10_000,
        **default_security(security, None),
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
