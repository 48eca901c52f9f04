"""The simulated programmes the tests build on, from a fixed start or a clock passed in.

No test world reads the wall clock itself: the unit tests use a pinned Monday, and the
integration fixtures, whose events go to Kafka with the broker's current timestamps,
pass today's date in and get a window in the recent past that starts on a Monday.
"""

from datetime import date

from connectors.simulator.world import World, build_world, recent_start

# A Monday: the validation unit tests' window, and their records' receipt, start here.
PINNED_START = date(2026, 1, 5)
# The ingest tests' programmes: 3 suppliers, seed 7, over 2 days (the `world` fixture)
# or 25 (test_ingest_faults: several large batches, 6,000 valid events and more). The 3
# suppliers are one of each data tier, and only the intermediate 2 one sends every event
# type, so 6,000 events take 19 weekdays.
INGEST_SEED = 7
INGEST_SUPPLIERS = 3
INGEST_DAYS = 2
LONG_INGEST_DAYS = 25


def validation_world() -> World:
    """The unit validation tests' programme: 2 suppliers, Monday and Tuesday."""
    return build_world(3, 2, PINNED_START, 2)


def ingest_programme(today: date, *, seed: int, suppliers: int, days: int, id_prefix: str) -> World:
    """The programme of an `IngestWorld` made on `today`: `days` days before `today`,
    from the Monday on or before `today - days` (see `recent_start`)."""
    return build_world(seed, suppliers, recent_start(today, days), days, id_prefix=id_prefix)
