"""The `ingest` job: one micro-batch into every landing asset, configured from the settings.

The settings' batch bounds and event-time window are the job's default run config, so a
run the sensor starts (no run config of its own) lands exactly as `sangsaeng ingest`
does; `run_ingest` passes the same values explicitly.
"""

from typing import Any

import dagster as dg

from orchestration.defs.conventions import PIPELINE_TAG
from orchestration.defs.ingest.assets import landing_key
from sangsaeng.settings import Settings
from schemas.topics import EventType

INGEST_JOB = "ingest"


def ingest_config(
    settings: Settings, *, max_records: int | None = None, max_seconds: float | None = None
) -> dict[str, Any]:
    """The run config of one ingest micro-batch under `settings`."""
    values = {
        "max_records": max_records or settings.ingest_max_records,
        "max_seconds": max_seconds or settings.ingest_max_seconds,
        "event_future_seconds": settings.event_future_seconds,
        "event_horizon_days": settings.event_horizon_days,
    }
    return {"ops": {"land_supplier_events": {"config": values}}}


def ingest_job(settings: Settings) -> Any:  # an unresolved asset job
    """The job, its default run config taken from `settings`."""
    return dg.define_asset_job(
        INGEST_JOB,
        selection=dg.AssetSelection.assets(*[landing_key(e) for e in EventType]),
        config=ingest_config(settings),
        # One op: the default multiprocess executor would start a second process per
        # run (imports and all) for nothing.
        executor_def=dg.in_process_executor,
        tags={PIPELINE_TAG: INGEST_JOB},  # one run at a time (the instance's run queue)
        description="Consume one bounded micro-batch from the supplier topics, starting at "
        "the offsets stored in the database, and land it (decode, validate, write) in one "
        "transaction.",
    )
