"""The programme's counts never show a group of 1 to 4 suppliers, not even by
subtraction: hand-made cases, and hypothesis over random counts checking every group
and every difference of the total and a sum of shown groups."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serving.disclosure import merged_levels

pytestmark = pytest.mark.unit

LEVELS = ["none", "basic", "intermediate 1", "intermediate 2", "advanced"]
NATIONAL = [None, 80.0, 18.7, 1.5, 0.0]


def counts(*n: int) -> list[tuple[str, int, float | None]]:
    return list(zip(LEVELS, n, NATIONAL, strict=True))


def test_a_small_level_joins_the_one_below() -> None:
    groups = merged_levels(counts(0, 15, 7, 2, 0))
    assert [(g.levels, g.suppliers) for g in groups] == [
        (("none",), 0),
        (("basic",), 15),
        (("intermediate 1", "intermediate 2"), 9),
        (("advanced",), 0),
    ]
    assert groups[2].national_pct == pytest.approx(20.2)


def test_a_small_remainder_at_the_bottom_joins_the_groups_above() -> None:
    groups = merged_levels(counts(2, 3, 6, 0, 0))
    assert [(g.levels, g.suppliers) for g in groups] == [
        (("none", "basic"), 5),
        (("intermediate 1",), 6),
        (("intermediate 2",), 0),
        (("advanced",), 0),
    ]
    assert groups[0].national_pct is None  # "none" has no national share
    groups = merged_levels(counts(1, 0, 6, 0, 0))
    assert (groups[0].levels, groups[0].suppliers) == (("none", "basic", "intermediate 1"), 7)


def test_fewer_than_five_in_all_shows_nothing() -> None:
    with pytest.raises(ValueError, match="fewer than 5"):
        merged_levels(counts(0, 3, 1, 0, 0))
    assert [g.suppliers for g in merged_levels(counts(0, 0, 0, 0, 0))] == [0] * 5


@given(st.lists(st.integers(min_value=0, max_value=12), min_size=5, max_size=5))
def test_no_group_or_difference_holds_one_to_four(n: list[int]) -> None:
    if 0 < sum(n) < 5:
        return
    groups = merged_levels(counts(*n))
    assert [lv for g in groups for lv in g.levels] == LEVELS  # every level, in order, once
    sizes = [g.suppliers for g in groups]
    assert sum(sizes) == sum(n)
    # what is shown, and what anyone can work out from it and the total
    for r in range(len(sizes) + 1):
        for picked in itertools.combinations(sizes, r):
            assert not 0 < sum(n) - sum(picked) < 5 or sum(n) - sum(picked) == 0
            assert not 0 < sum(picked) < 5


def test_two_overlapping_groups_differing_by_few_are_both_withheld() -> None:
    from serving.disclosure import safe_groups

    masks = frozenset({"S1", "S2", "S3", "S4", "S5", "S6"})
    b01 = frozenset({"S1", "S2", "S3", "S4", "S5"})  # masks minus S6: S6's mean by subtraction
    b02 = frozenset({"S7", "S8", "S9", "S10", "S11"})  # disjoint from masks: fine
    small = frozenset({"S1", "S2"})
    groups = {"masks": masks, "B01": b01, "B02": b02, "small": small}
    assert safe_groups(groups) == {"B02"}
    # differing by five or more is fine
    wide = frozenset({f"S{n}" for n in range(1, 12)})
    assert safe_groups({"all": wide, "B01": b01}) == {"all", "B01"}
