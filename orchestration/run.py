"""Runs the `ingest`, `views` and `alerts` jobs in this process (no daemon), batch after
batch if asked.

`sangsaeng ingest`, `sangsaeng views refresh` and the demo call this: the same jobs the
sensors start, executed in-process on the state dir's persistent Dagster instance (so
`sangsaeng ui` shows these runs), with the figures read back from the asset
materialisations, observations and check results the jobs reported.
"""

import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg
from dagster._core.errors import DagsterMaxRetriesExceededError  # not exported by dagster

from orchestration.definitions import build_definitions
from orchestration.defs.alerts.definitions import ALERTS_JOB
from orchestration.defs.conventions import TRANSIENT_RETRIES
from orchestration.defs.ingest.jobs import INGEST_JOB, ingest_config
from orchestration.defs.ingest.resources import DatabaseResource
from orchestration.defs.views.assets import view_key
from orchestration.defs.views.jobs import VIEWS_JOB, views_config
from orchestration.instance import persistent_instance
from pipelines.views.catalog import ordered
from pipelines.views.refresh import ViewRefresh, stale_keys
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
    for event in result.all_events:
        if event.event_type_value != "ASSET_OBSERVATION":
            continue
        # Every topic's observation carries the batch's totals: any one will do.
        observation = event.asset_observation_data.asset_observation
        meta = {k: _value(v) for k, v in observation.metadata.items()}
        read, reasons, report.lag_left = meta["batch_read"], meta["batch_reasons"], meta["lag_left"]
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        meta = {k: _value(v) for k, v in materialization.metadata.items()}
        event_type = materialization.asset_key.path[-1].removeprefix("landing_")
        report.landed[event_type] += meta["landed"]
        report.duplicates[event_type] += meta["duplicates"]
        report.quarantined[event_type] += meta["quarantined"]
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


def _execute(
    job: dg.JobDefinition, instance: dg.DagsterInstance, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    """One in-process run; a transient failure retried to the end raises `TransientError`."""
    with _signal_dispositions_kept():
        try:
            return job.execute_in_process(instance=instance, **kwargs)
        except DagsterMaxRetriesExceededError as exc:
            raise _gave_up(exc) from None


# A failed step re-raises its error here, which the CLI prints as one line; Dagster's
# console logger would print it again with a stack trace.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


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
        **QUIET,
    }
    report = IngestReport()
    idle = 0
    with persistent_instance(settings) as instance:
        while True:
            read = _add_run(report, _execute(job, instance, run_config=run_config))
            if on_run is not None:
                on_run(report)
            idle = idle + 1 if read == 0 else 0
            # Two empty batches in a row while lag remains: records are not arriving
            # (a broker problem); stop rather than spin, the report says the lag left.
            if not until_caught_up or report.lag_left == 0 or idle >= 2:
                return report


@dataclass(frozen=True)
class FailedCheck:
    """An asset check of a view that failed in a views run."""

    view: str
    check: str
    severity: str  # "ERROR": the view is wrong; "WARN": keys wait for the next refresh
    summary: str
    samples: list[dict[str, Any]]


@dataclass
class ViewsReport:
    """What one views run did: each view refreshed (in refresh order), the checks failed."""

    run_id: str | None = None  # None: no run, nothing was touched (`only_if_touched`)
    refreshed: list[ViewRefresh] = field(default_factory=list)
    failed_checks: list[FailedCheck] = field(default_factory=list)

    @property
    def broken(self) -> list[FailedCheck]:
        """The failed checks that say a view is wrong (not merely waiting for keys)."""
        return [c for c in self.failed_checks if c.severity == "ERROR"]


def _samples(entry: Any) -> list[dict[str, Any]]:
    value = _value(entry)
    records = getattr(value, "records", None)
    if records is not None:  # a table of sample rows
        return [dict(r.data) for r in records]
    return list(value or [])


def run_views(
    settings: Settings,
    names: list[str] | None = None,
    *,
    full: bool = False,
    only_if_touched: bool = False,
) -> ViewsReport:
    """Run the views job once: refresh `names` (every view when None) incrementally, or
    rebuild them (`full`), then check them. `only_if_touched`: no run at all when no view
    key waits (as the sensor after ingest does). `KeyError` for an unknown view name.

    Raises the job's own error (a `PlatformError` saying what to do) when the run fails;
    failed checks do not fail the run, they are in the report.
    """
    views = ordered(names)
    if only_if_touched and not stale_keys(DatabaseResource(url=settings.database_url).engine()):
        return ViewsReport()
    job = build_definitions(settings).resolve_job_def(VIEWS_JOB)
    selection = [view_key(v.name) for v in views] if names is not None else None
    with persistent_instance(settings) as instance:
        result = _execute(
            job,
            instance,
            run_config={**views_config(full=full), **QUIET},
            asset_selection=selection,
        )
    report = ViewsReport(run_id=result.run_id)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        meta = {k: _value(v) for k, v in materialization.metadata.items()}
        report.refreshed.append(
            ViewRefresh(
                materialization.asset_key.to_user_string(),
                meta["full"],
                meta["keys_recomputed"],
                meta["ranges_recomputed"],
                meta["rows_written"],
                meta["dagster/row_count"],
            )
        )
    for check in result.get_asset_check_evaluations():
        if not check.passed:
            report.failed_checks.append(
                FailedCheck(
                    check.asset_key.to_user_string(),
                    check.check_name,
                    check.severity.value,
                    check.description or "",
                    _samples(check.metadata.get("samples")),
                )
            )
    return report


def run_alerts(settings: Settings, today: date | None = None) -> dict[str, int]:
    """Run the alerts job once (the rules, then the webhooks due); returns its figures
    (findings, new_alerts, webhooks_sent, webhooks_failed, webhooks_given_up). `today`:
    the programme day agreements are judged on (default: today in Seoul)."""
    job = build_definitions(settings).resolve_job_def(ALERTS_JOB)
    config = {"today": today.isoformat()} if today else {}
    with persistent_instance(settings) as instance:
        result = _execute(
            job, instance, run_config={"ops": {"quality_alerts": {"config": config}}, **QUIET}
        )
    for event in result.get_asset_materialization_events():
        meta = event.step_materialization_data.materialization.metadata
        return {k: int(_value(v)) for k, v in meta.items()}
    return {}
