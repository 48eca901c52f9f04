"""The local stack as one thing: `up`, `down` and `status` over its services.

Kafka always; PostgreSQL on request (`--postgres`). Idempotent: `up` twice starts
nothing twice, `down` stops only what `up` started, a crashed service shows in
`status`. One lock per state dir keeps two commands from racing.
"""

from collections.abc import Callable
from dataclasses import dataclass

from infra.kafka.broker import KafkaBroker
from infra.postgres.cluster import PostgresCluster
from infra.process import ServiceStatus, locked
from sangsaeng.settings import Settings

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class Stack:
    """The services of one state dir."""

    kafka: KafkaBroker
    postgres: PostgresCluster

    @classmethod
    def from_settings(cls, settings: Settings) -> "Stack":
        host, port = settings.kafka_host_port
        return cls(
            kafka=KafkaBroker(
                service_dir=settings.stack_dir / "kafka",
                cache_dir=settings.cache_dir,
                host=host,
                port=port,
                controller_port=settings.kafka_controller_port,
                heap_mb=settings.kafka_heap_mb,
            ),
            postgres=PostgresCluster(
                service_dir=settings.stack_dir / "postgres", port=settings.postgres_port
            ),
        )

    @property
    def _lock(self):  # noqa: ANN202 - a context manager
        return locked(self.kafka.service_dir.parent / ".lock")

    def up(self, *, postgres: bool = False, report: Report = _quiet) -> list[ServiceStatus]:
        """Start what is not running yet; returns the status of every requested service."""
        with self._lock:
            statuses = [self.kafka.start(report)]
            if postgres:
                statuses.append(self.postgres.start(report))
            return statuses

    def down(self, *, wipe: bool = False) -> list[str]:
        """Stop what `up` started (PostgreSQL first: it may hold clients of Kafka's data)."""
        with self._lock:
            said = [self.postgres.stop(), self.kafka.stop()]
            if wipe:
                self.postgres.wipe()
                self.kafka.wipe()
                said.append("wiped the stack's data (topics, offsets, databases)")
            return said

    def status(self) -> list[ServiceStatus]:
        """One row per service, including those never started."""
        return [self.kafka.status(), self.postgres.status()]
