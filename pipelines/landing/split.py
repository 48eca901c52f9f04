"""Finds the records a database refuses by splitting a refused write in halves.

A write of n rows that the database refuses (a NOT NULL, a type, a NUL byte) says
nothing about which row it was. `split_refused` retries each half, and each half of a
refused half, until every refused row stands alone: k refused rows among n cost at
most 1 + 2*k*ceil(log2 n) attempts, and the rows of every accepted attempt are written.
The caller makes each attempt atomic (a savepoint), so a refused one leaves nothing.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Refused(Exception):
    """An attempt's rows were refused by the database for their data (`message` says why)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class SplitOutcome(Generic[T, R]):
    """The results of the accepted attempts, and each row refused on its own with why."""

    accepted: list[R] = field(default_factory=list)
    refused: list[tuple[T, str]] = field(default_factory=list)
    attempts: int = 0


def split_refused(items: Sequence[T], attempt: Callable[[Sequence[T]], R]) -> SplitOutcome[T, R]:
    """Run `attempt` on `items`, then on the halves of whatever raised `Refused`.

    Items keep their order across the accepted attempts; any other exception of
    `attempt` propagates (a lost connection is not about one row).
    """
    outcome: SplitOutcome[T, R] = SplitOutcome()
    pending: list[Sequence[T]] = [items] if items else []
    while pending:
        chunk = pending.pop()
        outcome.attempts += 1
        try:
            outcome.accepted.append(attempt(chunk))
        except Refused as refused:
            if len(chunk) == 1:
                outcome.refused.append((chunk[0], refused.message))
            else:
                middle = len(chunk) // 2
                pending += [chunk[middle:], chunk[:middle]]  # the first half runs first
    return outcome
