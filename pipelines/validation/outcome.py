"""What validation returns, and the event-time window it checks: plain types without
Great Expectations, so code that only reads outcomes (Dagster's definitions, the views'
runs) does not pay for importing it."""

from dataclasses import dataclass, field

from pipelines.decode import Reason
from sangsaeng.errors import TerminalError
from schemas.topics import EventType


@dataclass(frozen=True)
class TimeWindow:
    """How far event_time may lie ahead of or behind the moment Kafka received it."""

    future_seconds: float = 300.0
    horizon_seconds: float = 180 * 86_400.0


class ValidationSetupError(TerminalError):
    """A suite could not run (a bug or a broken install, not bad data)."""


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation's verdict on a batch."""

    rule: str
    expectation: str
    success: bool
    unexpected: int


@dataclass
class ValidationOutcome:
    """The passing rows (indexes into the events validated) and every failing row's reasons."""

    event_type: EventType
    checked: int = 0
    passed: list[int] = field(default_factory=list)
    failed: dict[int, list[Reason]] = field(default_factory=dict)
    results: list[ExpectationResult] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failed

    @property
    def failed_rules(self) -> dict[str, int]:
        """How many rows each failed rule refused."""
        return {r.rule: r.unexpected for r in self.results if not r.success}
