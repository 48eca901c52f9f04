"""Runs the suites on a batch of decoded events and returns a typed outcome.

Great Expectations gives the failing rows itself (`unexpected_index_list`, keyed by
a `_row` column we add), so the outcome's reasons are GX's verdicts, not a second
implementation of the rules. One ephemeral GX context per process.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

from governance.reference import ReferenceSets
from pipelines.decode import Event, Reason
from pipelines.validation.suites import TimeWindow, build_suite
from sangsaeng.errors import TerminalError
from schemas.contracts import contract
from schemas.topics import EventType

ROW = "_row"


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


def _scalar_columns(event_type: EventType) -> list[str]:
    # Arrays (defects, measurements, lot_ids) have no rule of their own: keep them out.
    columns = []
    for f in contract(event_type)["fields"]:
        kind = f["type"]
        options = kind if isinstance(kind, list) else [kind]
        if not any(isinstance(o, dict) and o.get("type") in ("array", "map") for o in options):
            columns.append(f["name"])
    return columns


SCALAR_COLUMNS = {e: _scalar_columns(e) for e in EventType}


def frame(event_type: EventType, events: Sequence[Event]) -> pd.DataFrame:
    """The events as a DataFrame with the columns the suite reads (see `suites`)."""
    df = pd.DataFrame.from_records(
        [e.payload for e in events], columns=SCALAR_COLUMNS[event_type], coerce_float=False
    )
    df[ROW] = range(len(events))
    df["topic_supplier_id"] = [e.supplier_id for e in events]
    received = pd.Series(
        pd.to_datetime([e.source.timestamp for e in events], unit="ms", utc=True), index=df.index
    )
    event_time = pd.to_datetime(df["event_time"], utc=True)
    df["event_time_ahead_s"] = (event_time - received).dt.total_seconds()
    df["site_ref"] = df["topic_supplier_id"] + "/" + df["site_id"]
    if "line_id" in df:
        df["line_ref"] = df["site_id"] + "/" + df["line_id"]  # null line_id stays null
    if "part_number" in df:
        df["part_ref"] = df["topic_supplier_id"] + "/" + df["part_number"]
    if event_type is EventType.ENERGY:
        hours = (
            pd.to_datetime(df["period_end"], utc=True)
            - pd.to_datetime(df["period_start"], utc=True)
        ).dt.total_seconds() / 3600
        df["average_kw"] = (df["energy_kwh"] / hours).where(hours > 0, math.inf)
    return df


def _text(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return str(value)


@cache
def _batch_definition(event_type: EventType) -> Any:
    context = _context()
    source = context.data_sources.get("ingest")
    return source.add_dataframe_asset(event_type.value).add_batch_definition_whole_dataframe(
        "micro_batch"
    )


@cache
def _context() -> Any:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas("ingest")
    return context


class Validator:
    """Validates decoded events against their type's suite for the given reference data."""

    def __init__(self, reference: ReferenceSets, window: TimeWindow | None = None) -> None:
        self.reference, self.window = reference, window or TimeWindow()
        _context()  # GX binds suites to the active context
        self.suites = {e: build_suite(e, reference, self.window) for e in EventType}

    def validate(self, event_type: EventType, events: Sequence[Event]) -> ValidationOutcome:
        """The outcome for `events`; `ValidationSetupError` if an expectation cannot run."""
        outcome = ValidationOutcome(event_type, checked=len(events))
        if not events:
            return outcome
        df = frame(event_type, events)
        result = (
            _batch_definition(event_type)
            .get_batch(batch_parameters={"dataframe": df})
            .validate(
                self.suites[event_type],
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": [ROW],
                    "return_unexpected_index_query": False,
                },
            )
        )
        failed: dict[int, list[Reason]] = {}
        for item in result.results:
            config = item.expectation_config
            rule = (config.meta or {}).get("rule", config.type)
            info = item.exception_info or {}
            if info.get("raised_exception"):
                raise ValidationSetupError(
                    f"expectation {rule} ({config.type}) could not run on {event_type} events: "
                    f"{info.get('exception_message')}"
                )
            unexpected = item.result.get("unexpected_index_list")
            count = int(item.result.get("unexpected_count") or 0)
            if not item.success and not unexpected:  # an aggregate verdict: every row fails
                count = len(events)
                unexpected = [{ROW: i} for i in range(len(events))]
            outcome.results.append(ExpectationResult(rule, config.type, item.success, count))
            for row in unexpected or ():
                values = {k: v for k, v in row.items() if k != ROW}
                failed.setdefault(int(row[ROW]), []).append(
                    Reason(
                        rule,
                        f"{rule}: " + ", ".join(f"{k}={_text(v)}" for k, v in values.items()),
                        field=", ".join(values) or None,
                        value=", ".join(_text(v) for v in values.values()) or None,
                    )
                )
        outcome.failed = failed
        outcome.passed = [i for i in range(len(events)) if i not in failed]
        return outcome
