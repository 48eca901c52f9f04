"""Fixtures of the ingest tests: a simulated programme with topics of its own."""

from collections.abc import Callable, Iterator

import pytest

from tests.integration.ingest_world import IngestWorld


@pytest.fixture
def make_world(kafka_bootstrap: str, shared_registry) -> Iterator[Callable[..., IngestWorld]]:
    """Builds `IngestWorld`s on the session broker and registry; closed after the test."""
    made: list[IngestWorld] = []

    def make(**kwargs: object) -> IngestWorld:
        world = IngestWorld(kafka_bootstrap, shared_registry.url, shared_registry.auth, **kwargs)
        made.append(world)
        return world

    yield make
    for world in made:
        world.close()


@pytest.fixture
def world(make_world: Callable[..., IngestWorld]) -> IngestWorld:
    """A small programme: 3 suppliers, 2 days."""
    return make_world()
