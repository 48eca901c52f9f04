"""The tests' simulated programmes have events of every type whatever the date: the
window helper and the fixture worlds, built for every weekday of `today`."""

from collections import Counter
from datetime import date, timedelta

import pytest

from connectors.simulator.events import generate
from connectors.simulator.world import World, monday_on_or_before, recent_start
from schemas.topics import EventType
from tests.worlds import (
    INGEST_DAYS,
    INGEST_SEED,
    INGEST_SUPPLIERS,
    LONG_INGEST_DAYS,
    ingest_programme,
    validation_world,
)

pytestmark = pytest.mark.unit

# Seven consecutive days, Monday to Sunday, and a week of another year and month.
WEEK = [date(2026, 11, 23) + timedelta(days=n) for n in range(7)]
OTHER_WEEK = [date(2027, 3, 3) + timedelta(days=n) for n in range(7)]
# What the ingest tests draw from them: test_ingest sends 600 valid events of the small
# world, test_ingest_faults 6,000 of the long one (invalid events reuse records).
NEEDED = {INGEST_DAYS: 600, LONG_INGEST_DAYS: 6000}


def event_types(world: World, seed: int) -> Counter[str]:
    return Counter(e.event_type for e in generate(world, seed=seed, bad_rate=0.0))


def test_monday_on_or_before() -> None:
    assert [monday_on_or_before(d) for d in WEEK] == [date(2026, 11, 23)] * 7
    assert monday_on_or_before(date(2027, 1, 1)) == date(2026, 12, 28)  # across a year


@pytest.mark.parametrize("today", WEEK + OTHER_WEEK, ids=lambda d: f"{d:%Y-%m-%d-%a}")
def test_a_recent_window_is_in_the_past_and_has_weekdays(today: date) -> None:
    for days in range(1, 40):
        start = recent_start(today, days)
        window = [start + timedelta(days=n) for n in range(days)]
        assert start.weekday() == 0, (days, start)
        assert window[-1] < today, (days, window[-1])
        assert today - start < timedelta(days=days + 7)  # still recent
        assert any(d.weekday() < 5 for d in window)


def test_a_window_needs_a_day() -> None:
    with pytest.raises(ValueError, match="days=0"):
        recent_start(WEEK[0], 0)


def test_the_validation_world_is_pinned_and_has_every_event_type() -> None:
    world = validation_world()
    assert world.start.weekday() == 0
    assert set(event_types(world, seed=3)) == {e.value for e in EventType}


@pytest.mark.parametrize("days", [INGEST_DAYS, LONG_INGEST_DAYS])
@pytest.mark.parametrize("today", WEEK, ids=lambda d: f"{d:%Y-%m-%d-%a}")
def test_the_ingest_worlds_have_every_event_type_on_any_weekday(today: date, days: int) -> None:
    world = ingest_programme(
        today, seed=INGEST_SEED, suppliers=INGEST_SUPPLIERS, days=days, id_prefix="T0"
    )
    found = event_types(world, seed=INGEST_SEED)
    assert set(found) == {e.value for e in EventType}, (today, world.start, found)
    assert sum(found.values()) >= NEEDED[days] + 100, (today, world.start, found)
    assert world.start + timedelta(days=days) <= today
