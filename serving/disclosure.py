"""Counts the operator and the ministry may see: never a group of fewer than `MIN_GROUP`
suppliers, not even by subtraction.

Hiding a small cell is not enough when the total is shown: 24 suppliers, 15 basic and 7
intermediate 1 tell that 2 are at intermediate 2. So neighbouring levels are merged
instead, from the highest down, until every group shown holds none or at least
`MIN_GROUP` suppliers: a level nobody reached shows as 0, and a small one joins the level
below it ("intermediate 1, intermediate 2: 9"). Whatever is subtracted from what is shown
then gives another group of 0 or at least `MIN_GROUP`."""

import itertools
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

MIN_GROUP = 5


@dataclass(frozen=True)
class Group:
    members: tuple[tuple[str, int, float | None], ...]  # (level, suppliers, national %)

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(level for level, _, _ in self.members)

    @property
    def suppliers(self) -> int:
        return sum(n for _, n, _ in self.members)

    @property
    def national_pct(self) -> float | None:
        shares = [s for _, _, s in self.members]
        return None if any(s is None for s in shares) else sum(s for s in shares if s is not None)

    @property
    def label(self) -> str:
        return ", ".join(self.levels)


def merged_levels(
    counts: Sequence[tuple[str, int, float | None]], minimum: int = MIN_GROUP
) -> list[Group]:
    """`counts` (level, suppliers, national share), lowest level first, as groups of 0 or
    at least `minimum` suppliers; adjacent levels merged from the top down. Raises
    `ValueError` when all of them together are fewer than `minimum` (but not 0)."""
    total = sum(n for _, n, _ in counts)
    if 0 < total < minimum:
        raise ValueError(f"{total} suppliers in all, fewer than {minimum}")
    groups: list[Group] = []
    pending: list[tuple[str, int, float | None]] = []
    for level in reversed(counts):
        pending.insert(0, level)
        n = sum(c for _, c, _ in pending)
        if n == 0 or n >= minimum:
            groups.insert(0, _group(pending))
            pending = []
    # a small remainder at the bottom joins the groups above it until it is big enough
    while pending and sum(c for _, c, _ in pending) < minimum:
        pending = [*pending, *groups.pop(0).members]
    if pending:
        groups.insert(0, _group(pending))
    return groups


def _group(members: Sequence[tuple[str, int, float | None]]) -> Group:
    return Group(tuple(members))


def safe_groups(
    members: Mapping[Hashable, frozenset[str]], minimum: int = MIN_GROUP
) -> set[Hashable]:
    """The groups that may be shown: at least `minimum` members each, and no two shown
    whose difference (the members of one not in the other) holds 1 to `minimum` - 1,
    since two means of overlapping groups give the mean of their difference. Both of
    such a pair are withheld. Combinations of three or more groups are not checked."""
    shown = {k for k, v in members.items() if len(v) >= minimum}
    for a, b in itertools.combinations(sorted(shown, key=repr), 2):
        if a not in shown or b not in shown:
            continue
        for left, right in ((members[a], members[b]), (members[b], members[a])):
            if 0 < len(left - right) < minimum and left & right:
                shown -= {a, b}
                break
    return shown
