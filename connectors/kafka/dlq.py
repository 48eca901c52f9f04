"""Sends dead letters (refused records with their reasons in headers) to `dlq.<event_type>`.

A dead letter is the notification; the quarantine table holds the exact record. So a
letter the broker refuses for good (too large, say: poison can be as big as the topic
allows, and its reasons add to it) is sent again without its payload and with its
headers cut short, marked `sangsaeng.truncated`, rather than holding up the batch: a
refusal for good must never make ingest retry for ever.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from connectors.kafka.admin import default_security
from sangsaeng.errors import TransientError
from sangsaeng.kafka_access import INGEST

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # room for a topic-sized record plus its reasons
HEADER_LIMIT = 4096  # bytes of a header value kept in a slimmed letter


def _for_good(exc: BaseException) -> bool:
    """A refusal about this letter, which sending again will not change."""
    return isinstance(exc, KafkaError) and not (exc.retriable or isinstance(exc, KafkaTimeoutError))


class DeadLetterProducer:
    """A producer for dead letters; `send` returns when the broker acknowledged them all.

    Takes any letters with `topic`, `key`, `value` and `headers` (pipelines' `DeadLetter`).
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.max_request_bytes = max_request_bytes
        self._producer: KafkaProducer | None = None

    def _connect(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=5,
                    max_request_size=self.max_request_bytes,
                    client_id="sangsaeng-dlq",
                    **default_security(self.security, INGEST),
                )
            except (KafkaError, OSError) as exc:
                raise TransientError(
                    f"cannot send dead letters: no Kafka broker at {self.bootstrap} "
                    f"({type(exc).__name__})"
                ) from None
        return self._producer

    def _unacknowledged(self, exc: BaseException) -> TransientError:
        return TransientError(
            f"dead letters were not acknowledged ({type(exc).__name__}: {exc}); nothing of "
            "the batch was written, run the ingest again"
        )

    def _send_all(self, letters: Sequence[Any]) -> list[tuple[Any, BaseException]]:
        """Send and wait; the letters refused for good, with why. `TransientError` if the
        broker did not answer."""
        producer = self._connect()
        refused: list[tuple[Any, BaseException]] = []
        futures = []
        try:
            for x in letters:
                try:
                    futures.append(
                        (x, producer.send(x.topic, key=x.key, value=x.value, headers=x.headers))
                    )
                except KafkaError as exc:  # e.g. over max_request_size, refused client-side
                    if not _for_good(exc):
                        raise
                    refused.append((x, exc))
            producer.flush(timeout=60)
            for x, future in futures:
                try:
                    future.get(timeout=0)
                except KafkaError as exc:
                    if not _for_good(exc):
                        raise
                    refused.append((x, exc))
        except (KafkaError, OSError) as exc:
            raise self._unacknowledged(exc) from None
        return refused

    def send(self, letters: Sequence[Any]) -> None:
        """Send every letter and wait for the acknowledgements; `TransientError` if not."""
        refused = self._send_all(letters)
        if not refused:
            return
        slim = [_slimmed(x, exc) for x, exc in refused]
        # A fresh producer: kafka-python's idempotent producer fails what follows a
        # refused batch on the same partition with the same error.
        self.close()
        for letter, exc in self._send_all(slim):
            # Even the slim letter is refused (the topic itself?): the quarantine keeps the
            # record, so say so and go on rather than stop every supplier's ingest.
            log.warning("dead letter to %s refused for good: %s", letter.topic, exc)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None


class _Slim:
    def __init__(self, topic: str, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        self.topic, self.key, self.value, self.headers = topic, key, None, headers


def _slimmed(letter: Any, exc: BaseException) -> _Slim:
    """`letter` without its payload and with its headers cut to `HEADER_LIMIT` bytes."""
    headers = [(k, v[:HEADER_LIMIT]) for k, v in (letter.headers or ())]
    size = len(letter.value or b"")
    headers.append(("sangsaeng.truncated", f"{size} bytes; {type(exc).__name__}".encode()))
    return _Slim(letter.topic, letter.key, headers)
