"""Runs the `ingest` job in this process (no daemon), batch after batch if asked.

`sangsaeng ingest` and the demo call this: the same job the sensor starts, executed
in-process on the state dir's persistent Dagster instance (so `sangsaeng ui` shows
these runs), with the counts read back from the asset materialisations and check
results the job reported.
"""

import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.errors import DagsterMaxRetriesExceededError  # not exported by dagster

from orchestration.definitions import build_definitions
from orchestration.defs.ingest.assets import TRANSIENT_RETRIES
from orchestration.defs.ingest.jobs import INGEST_JOB, ingest_config
from orchestration.instance import persistent_instance
from sangsaeng.errors import TransientError
from sangsaeng.settings import Settings


@dataclass
class IngestReport:
    """Totals over the runs: `read == landed + duplicates + quarantined`."""

    runs: int = 0
    read: int = 0
    landed: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    failed_expectations: Counter[str] = field(default_factory=Counter)  # "<type>: <rule>"
    lag_left: int = 0


def _value(entry: Any) -> Any:
    return entry.value if hasattr(entry, "value") else entry


def _add_run(report: IngestReport, result: dg.ExecuteInProcessResult) -> int:
    """Adds one run's figures to `report`; returns the records it read."""
    read, reasons = 0, {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        meta = {k: _value(v) for k, v in materialization.metadata.items()}
        event_type = materialization.asset_key.path[-1].removeprefix("landing_")
        report.landed[event_type] += meta["landed"]
        report.duplicates[event_type] += meta["duplicates"]
        report.quarantined[event_type] += meta["quarantined"]
        read, reasons, report.lag_left = meta["batch_read"], meta["batch_reasons"], meta["lag_left"]
    report.reasons.update(reasons if read else {})
    for event in result.get_asset_check_evaluations():
        event_type = event.asset_key.path[-1].removeprefix("landing_")
        failed = _value(event.metadata.get("failed_expectations")) or {}
        report.failed_expectations.update({f"{event_type}: {k}": v for k, v in failed.items()})
    report.runs += 1
    report.read += read
    return read


@contextmanager
def _signal_dispositions_kept() -> Iterator[None]:
    """Restore SIGINT/SIGTERM after a run: Dagster leaves SIGTERM set to SIGINT's handler,
    which is "ignore" in a background job, and every process started later inherits that."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _gave_up(exc: DagsterMaxRetriesExceededError) -> TransientError:
    """The transient failure the run retried until it gave up, as one line."""
    infos = exc.user_code_process_error_infos
    last = infos[-1] if infos else None
    reason = (last.cause or last).message.strip() if last else str(exc)
    # "sangsaeng.errors.TransientError: <message>": the message is what the user needs.
    head, _, rest = reason.partition(": ")
    reason = rest if rest and head.rsplit(".", 1)[-1].endswith("Error") else reason
    return TransientError(f"gave up after {TRANSIENT_RETRIES + 1} attempts: {reason}")


def run_ingest(
    settings: Settings,
    *,
    until_caught_up: bool,
    max_records: int | None = None,
    max_seconds: float | None = None,
    on_run: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Run the ingest job once, or until no partition lags; returns the totals.

    Raises the job's own error (a `PlatformError` saying what to do) when a run fails.
    """
    job = build_definitions(settings).resolve_job_def(INGEST_JOB)
    run_config = {
        **ingest_config(settings, max_records=max_records, max_seconds=max_seconds),
        # A failed step re-raises its error here, which the CLI prints as one line;
        # Dagster's console logger would print it again with a stack trace.
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }
    report = IngestReport()
    idle = 0
    with persistent_instance(settings) as instance:
        while True:
            with _signal_dispositions_kept():
                try:
                    result = job.execute_in_process(run_config=run_config, instance=instance)
                except DagsterMaxRetriesExceededError as exc:
                    raise _gave_up(exc) from None
            read = _add_run(report, result)
            if on_run is not None:
                on_run(report)
            idle = idle + 1 if read == 0 else 0
            # Two empty batches in a row while lag remains: records are not arriving
            # (a broker problem); stop rather than spin, the report says the lag left.
            if not until_caught_up or report.lag_left == 0 or idle >= 2:
                return report
