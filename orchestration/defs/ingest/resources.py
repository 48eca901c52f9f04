"""The external systems ingest talks to, as typed Dagster resources.

Defaults come from `sangsaeng.settings` (env vars `SANGSAENG_*`), the one place
settings live; each resource only opens the client for its system.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import dagster as dg
from sqlalchemy.engine import Engine

from connectors.kafka.consumer import SupplierTopicReader
from connectors.kafka.dlq import DeadLetterProducer
from migrations.schema import ensure
from sangsaeng.db import make_engine
from schemas.registry.auth import read_credentials
from schemas.registry.client import RegistryClient


@cache
def _engine(url: str) -> Engine:
    return make_engine(url)


_checked: set[str] = set()  # database URLs found at this release in this process


class DatabaseResource(dg.ConfigurableResource):
    """The platform database (SQLite file or PostgreSQL) holding landing and offsets."""

    url: str

    def engine(self) -> Engine:
        """One engine per URL and process, on a database at this release (an empty one is
        upgraded; another revision raises `SchemaMismatch` naming `sangsaeng db upgrade`)."""
        engine = _engine(self.url)
        if self.url not in _checked:  # once it passed, not on every batch and sensor tick
            ensure(engine)
            _checked.add(self.url)
        return engine


class KafkaResource(dg.ConfigurableResource):
    """The Kafka cluster holding the supplier topics and dead letters."""

    bootstrap: str
    topics: str = r"sup\..+"  # regular expression of the supplier topics to ingest

    @contextmanager
    def reader(self) -> Iterator[SupplierTopicReader]:
        """A reader over the supplier topics, closed on exit."""
        with SupplierTopicReader(self.bootstrap, topics=self.topics) as reader:
            yield reader

    @contextmanager
    def dead_letters(self) -> Iterator[DeadLetterProducer]:
        """A producer to the dead-letter topics, closed on exit."""
        producer = DeadLetterProducer(self.bootstrap)
        try:
            yield producer
        finally:
            producer.close()


class RegistryResource(dg.ConfigurableResource):
    """The schema registry the records' schema ids are resolved with, as a user of role
    read at least: `auth` (user:password), else the state dir's registry-credentials."""

    url: str
    state_dir: str = ".sangsaeng"
    auth: str | None = None

    def client(self) -> RegistryClient:
        """A client for schema lookups."""
        return RegistryClient(self.url, read_credentials(self.auth, Path(self.state_dir)))
