"""Runs the suites on a batch of decoded events and returns a typed outcome.

Great Expectations gives the failing rows itself (`unexpected_index_list`, keyed by
a `_row` column we add), so the outcome's reasons are GX's verdicts, not a second
implementation of the rules. One ephemeral GX context per process.
"""

import math
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

from governance.reference import ReferenceSets
from pipelines.decode import Event, Reason
from pipelines.validation.outcome import (
    ExpectationResult,
    ValidationOutcome,
    ValidationSetupError,
)
from pipelines.validation.suites import TimeWindow, build_suite
from schemas.contracts import contract
from schemas.topics import EventType

ROW = "_row"
NON_FINITE = "non_finite_numbers"  # [path, value] of each NaN or infinite double, or None
NUL = "nul_characters"  # [path, value] of each string holding a NUL character, or None
FINDINGS = frozenset({NON_FINITE, NUL})


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
    # In Python, not pandas: a producer sets the Kafka timestamp, and any int64 must
    # compare (pandas' datetimes end in 2262, and its NaT would pass every window).
    df["event_time_ahead_s"] = [
        e.payload["event_time"].timestamp() - e.source.timestamp / 1000 for e in events
    ]
    findings = [_findings(e.payload) for e in events]
    df[NON_FINITE] = [f[0] for f in findings]
    df[NUL] = [f[1] for f in findings]
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


Found = list[list[str]]  # [path, value] of each value found
Findings = tuple[Found, Found] | None  # (non-finite, NUL); None until something is found


def _find(value: Any, path: str, found: Findings) -> Findings:
    """`found` with [path, value] of `value` (and of what it nests) added where it belongs;
    allocates only on a first finding, so a clean event costs no garbage to collect."""
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            found = found or ([], [])
            found[1].append([path, _text(value)])
    elif kind is float:
        if not math.isfinite(value):
            found = found or ([], [])
            found[0].append([path, repr(value)])
    elif kind is list:
        for i, item in enumerate(value):
            found = _find(item, f"{path}[{i}]", found)
    elif kind is dict:
        for key, item in value.items():
            found = _find(item, f"{path}.{key}", found)
    return found


def _findings(payload: dict[str, Any]) -> tuple[Found | None, Found | None]:
    """[path, value] of every NaN or infinite double, and of every string with a NUL
    (None when there is none).

    GX reads NaN as a missing value (it passes `between`), SQLite stores it as NULL and
    PostgreSQL refuses NUL in text: so they are found here, as values, for the suites.
    """
    found: Findings = None
    for name, value in payload.items():  # the top level inline: it runs for every event
        kind = type(value)
        if kind is str:
            if "\x00" not in value:
                continue
        elif kind is float:
            if math.isfinite(value):
                continue
        elif kind is not list and kind is not dict:
            continue
        found = _find(value, name, found)
    if found is None:
        return None, None
    return found[0] or None, found[1] or None


def _text(value: Any, limit: int = 200) -> str:
    """A value in words for a reason: one line, NUL shown as `\\x00`, at most `limit` long."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    text = str(value).replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(rule: str, values: dict[str, Any]) -> Reason:
    """The reason of one failing row: each column's value, or each [path, value] found
    by `_findings` (the derived columns `NON_FINITE` and `NUL`)."""
    pairs: list[tuple[str, str]] = []
    for column, value in values.items():
        if column in FINDINGS and isinstance(value, list):
            pairs.extend((str(path), str(text)) for path, text in value)
        else:
            pairs.append((column, _text(value)))
    return Reason(
        rule,
        f"{rule}: " + ", ".join(f"{k}={v}" for k, v in pairs),
        field=", ".join(k for k, _ in pairs) or None,
        value=", ".join(v for _, v in pairs) or None,
    )


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
                failed.setdefault(int(row[ROW]), []).append(_reason(rule, values))
        outcome.failed = failed
        outcome.passed = [i for i in range(len(events)) if i not in failed]
        return outcome
