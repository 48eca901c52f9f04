"""Splitting a refused write until the refused rows stand alone (no database here)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.landing.split import Refused, split_refused

pytestmark = pytest.mark.unit


def writer(bad: set[int]):
    """An attempt that refuses any chunk holding a bad item, and records what it wrote."""
    written: list[int] = []
    calls: list[list[int]] = []

    def attempt(chunk):
        calls.append(list(chunk))
        refused = [i for i in chunk if i in bad]
        if refused:
            raise Refused(f"row {refused[0]} refused")
        written.extend(chunk)
        return len(chunk)

    return attempt, written, calls


def test_a_clean_write_is_one_attempt() -> None:
    attempt, written, calls = writer(set())
    outcome = split_refused(list(range(100)), attempt)
    assert outcome.attempts == 1 and calls == [list(range(100))]
    assert outcome.accepted == [100] and outcome.refused == []
    assert written == list(range(100))


def test_nothing_to_write_is_no_attempt() -> None:
    attempt, _, calls = writer(set())
    outcome = split_refused([], attempt)
    assert outcome.attempts == 0 and calls == [] and outcome.accepted == []


def test_each_refused_row_stands_alone_with_the_reason() -> None:
    attempt, written, _ = writer({3, 4, 97})
    outcome = split_refused(list(range(100)), attempt)
    assert outcome.refused == [(3, "row 3 refused"), (4, "row 4 refused"), (97, "row 97 refused")]
    assert written == [i for i in range(100) if i not in {3, 4, 97}]  # in order, once each


def test_every_row_refused() -> None:
    attempt, written, _ = writer(set(range(8)))
    outcome = split_refused(list(range(8)), attempt)
    assert [i for i, _ in outcome.refused] == list(range(8)) and written == []
    assert outcome.attempts == 15  # the full tree: 1 + 2 + 4 + 8


def test_another_error_is_not_split() -> None:
    calls = []

    def attempt(chunk):
        calls.append(chunk)
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        split_refused([1, 2, 3, 4], attempt)
    assert calls == [[1, 2, 3, 4]]


@given(
    n=st.integers(min_value=1, max_value=300),
    bad=st.sets(st.integers(min_value=0, max_value=299), max_size=12),
)
def test_rows_are_written_once_or_refused_and_attempts_are_bounded(n: int, bad: set[int]) -> None:
    bad = {i for i in bad if i < n}
    attempt, written, _ = writer(bad)
    outcome = split_refused(list(range(n)), attempt)
    assert written == [i for i in range(n) if i not in bad]
    assert sorted(i for i, _ in outcome.refused) == sorted(bad)
    assert sum(outcome.accepted) == n - len(bad)
    assert outcome.attempts <= 1 + 2 * len(bad) * max(1, math.ceil(math.log2(n)))
