"""Starts a views run after each successful ingest run that left view keys touched.

Why a run-status sensor rather than automation conditions on the view assets: what is
stale is recorded by ingest itself, in the landing transaction (`view_touched`), not
inferred from which landing assets materialised. Keys are touched by records that land
and by records quarantined (views reading the quarantine), and one views run takes
every view's keys in dependency order, so "after each ingest run, refresh what it
touched" is exactly the rule, and it is the one `sangsaeng ingest` follows in-process
(`orchestration.run.run_views`). An eager automation condition would instead fire per
view on landing materialisations, miss keys touched by quarantined records, and hold a
view back whenever an upstream landing asset is running or failed.
"""

import dagster as dg
from dagster import DagsterRunStatus, RunsFilter

from orchestration.defs.ingest.resources import DatabaseResource
from orchestration.defs.views.jobs import VIEWS_JOB
from pipelines.views.refresh import stale_keys
from sangsaeng.errors import PlatformError

WAITING = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]


def views_after_ingest(ingest_job: object, views_job: object) -> dg.RunStatusSensorDefinition:
    """The sensor, watching `ingest_job` and requesting `views_job`."""

    @dg.run_status_sensor(
        name="views_after_ingest",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[ingest_job],  # type: ignore[list-item]
        request_job=views_job,  # type: ignore[arg-type]
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="After each successful ingest run, a views run when view keys were "
        "touched (skipped when a views run already waits in the queue: it takes them).",
    )
    def views_after_ingest(
        context: dg.RunStatusSensorContext, database: DatabaseResource
    ) -> dg.RunRequest | dg.SkipReason:
        try:
            waiting = stale_keys(database.engine())
        except PlatformError as exc:  # e.g. the database needs `sangsaeng db upgrade`
            return dg.SkipReason(str(exc))
        if not waiting:
            return dg.SkipReason(f"ingest run {context.dagster_run.run_id} touched no view key")
        queued = context.instance.get_run_records(
            filters=RunsFilter(job_name=VIEWS_JOB, statuses=WAITING), limit=1
        )
        if queued:
            return dg.SkipReason(
                f"views run {queued[0].dagster_run.run_id} waits in the queue: it takes "
                f"the {sum(waiting.values())} touched keys too"
            )
        return dg.RunRequest(
            run_key=f"after-ingest-{context.dagster_run.run_id}",
            tags={
                "sangsaeng/after_run": context.dagster_run.run_id,
                "sangsaeng/touched_keys": str(sum(waiting.values())),
            },
        )

    return views_after_ingest
