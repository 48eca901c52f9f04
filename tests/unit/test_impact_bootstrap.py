"""programme_impact's Poisson bootstrap: the weights of a day do not depend on how many
days there are (so a new day leaves the earlier days' draws alone), and the interval
agrees with the classic bootstrap (resampling with replacement) computed here."""

import numpy as np
import pytest

from pipelines.views.impact import RESAMPLES, WEIGHT_BLOCK, poisson_weights, uplift_interval

pytestmark = pytest.mark.unit


def test_a_days_weights_are_the_same_whatever_the_number_of_days() -> None:
    few = poisson_weights("after", 3)
    many = poisson_weights("after", 2 * WEIGHT_BLOCK + 5)
    assert few.shape == (RESAMPLES, 3)
    assert many.shape == (RESAMPLES, 2 * WEIGHT_BLOCK + 5)
    assert np.array_equal(many[:, :3], few)
    # the sides draw independently, and the blocks differ from each other
    assert not np.array_equal(poisson_weights("before", 3), few)
    assert not np.array_equal(many[:, :WEIGHT_BLOCK], many[:, WEIGHT_BLOCK : 2 * WEIGHT_BLOCK])
    # Poisson(1): mean and variance 1
    assert many.mean() == pytest.approx(1.0, abs=0.01)
    assert many.var() == pytest.approx(1.0, abs=0.02)


def classic(before: np.ndarray, after: np.ndarray, seed: int) -> tuple[float, float]:
    """The percentile interval of the uplift by resampling each side with replacement."""
    rng = np.random.default_rng(seed)
    b = before[rng.integers(0, len(before), (20_000, len(before)))].mean(axis=1)
    a = after[rng.integers(0, len(after), (20_000, len(after)))].mean(axis=1)
    low, high = np.percentile(100 * (a - b) / b, [2.5, 97.5])
    return float(low), float(high)


@pytest.mark.parametrize("days", [30, 120, 700])
def test_the_interval_agrees_with_the_classic_bootstrap(days: int) -> None:
    rng = np.random.default_rng(days)
    before = rng.normal(100.0, 15.0, days)
    after = rng.normal(130.0, 20.0, days)
    uplift = 100 * (after.mean() - before.mean()) / before.mean()
    found = uplift_interval(list(before), list(after))
    assert found is not None
    low, high = found
    assert low < uplift < high
    want_low, want_high = classic(before, after, seed=days)
    width = want_high - want_low
    # Monte Carlo error of 2,000 resamples: a few per cent of the width
    assert low == pytest.approx(want_low, abs=0.1 * width)
    assert high == pytest.approx(want_high, abs=0.1 * width)


def test_the_same_days_give_the_same_interval() -> None:
    before, after = [90.0, 100.0, 110.0, 95.0], [150.0, 140.0, 160.0]
    assert uplift_interval(before, after) == uplift_interval(list(before), list(after))


def test_a_zero_before_mean_in_a_resample_gives_no_interval() -> None:
    assert uplift_interval([0.0, 0.0, 1.0], [2.0, 2.0, 2.0]) is None
