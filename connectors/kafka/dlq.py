"""Sends dead letters (refused records with their reasons in headers) to `dlq.<event_type>`."""

from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from sangsaeng.errors import TransientError


class DeadLetterProducer:
    """A producer for dead letters; `send` returns when the broker acknowledged them all.

    Takes any letters with `topic`, `key`, `value` and `headers` (pipelines' `DeadLetter`).
    """

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._producer: KafkaProducer | None = None

    def _connect(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=5,
                    client_id="sangsaeng-dlq",
                )
            except (KafkaError, OSError) as exc:
                raise TransientError(
                    f"cannot send dead letters: no Kafka broker at {self.bootstrap} "
                    f"({type(exc).__name__})"
                ) from None
        return self._producer

    def send(self, letters: Sequence[Any]) -> None:
        """Send every letter and wait for the acknowledgements; `TransientError` if not."""
        producer = self._connect()
        try:
            futures = [
                producer.send(x.topic, key=x.key, value=x.value, headers=x.headers) for x in letters
            ]
            producer.flush(timeout=60)
            for future in futures:
                future.get(timeout=0)
        except (KafkaError, OSError) as exc:
            raise TransientError(
                f"dead letters were not acknowledged ({type(exc).__name__}: {exc}); nothing of "
                "the batch was written, run the ingest again"
            ) from None

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
