"""Alerts' definitions: the asset, its job, and the sensors that start it (after each
successful views run; when a webhook delivery is due again)."""

from typing import Any

import dagster as dg
from dagster import DagsterRunStatus
from sqlalchemy import exists, select

from governance.alerts import alert
from governance.models import AlertStatus, utcnow
from orchestration.defs.alerts.assets import GROUP, alerts_asset
from orchestration.defs.conventions import PIPELINE_TAG
from orchestration.defs.ingest.resources import DatabaseResource
from orchestration.defs.views.jobs import views_job
from sangsaeng.errors import PlatformError
from sangsaeng.settings import Settings

ALERTS_JOB = "alerts"
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTED]


def _in_flight(instance: dg.DagsterInstance) -> str | None:
    """The id of an alerts run queued or running, if any: it takes what is due (runs
    piling up behind a slow receiver would hold the instance's run slots)."""
    found = instance.get_run_records(
        filters=dg.RunsFilter(job_name=ALERTS_JOB, statuses=IN_FLIGHT), limit=1
    )
    return found[0].dagster_run.run_id if found else None


def alerts_job() -> Any:
    return dg.define_asset_job(
        ALERTS_JOB,
        selection=dg.AssetSelection.groups(GROUP),
        executor_def=dg.in_process_executor,
        tags={PIPELINE_TAG: ALERTS_JOB},
        description="Evaluate the quality alert rules over the views, then deliver the "
        "webhooks that are due.",
    )


def alerts_after_views(views: Any, job: Any) -> dg.RunStatusSensorDefinition:
    @dg.run_status_sensor(
        name="alerts_after_views",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[views],
        request_job=job,
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="After each successful views run, the alert rules.",
    )
    def _sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        waiting = context.instance.get_run_records(
            filters=dg.RunsFilter(
                job_name=ALERTS_JOB,
                statuses=[DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED],
            ),
            limit=1,
        )
        if waiting:
            return dg.SkipReason(f"alerts run {waiting[0].dagster_run.run_id} waits: it runs them")
        return dg.RunRequest(run_key=f"after-views-{context.dagster_run.run_id}")

    return _sensor


def deliveries_due(job: Any) -> dg.SensorDefinition:
    @dg.sensor(
        name="alert_deliveries_due",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="An alerts run when a webhook delivery's backoff has passed.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, database: DatabaseResource
    ) -> dg.RunRequest | dg.SkipReason:
        a = alert.c
        try:
            with database.engine().connect() as conn:
                due = conn.execute(
                    select(
                        exists().where(
                            a.status == AlertStatus.CREATED.value,
                            a.next_attempt_at.is_not(None),
                            a.next_attempt_at <= utcnow(),
                        )
                    )
                ).scalar()
        except PlatformError as exc:
            return dg.SkipReason(str(exc))
        if not due:
            return dg.SkipReason("no webhook delivery is due")
        running = _in_flight(context.instance)
        if running:
            return dg.SkipReason(f"alerts run {running} is on its way: it delivers them")
        return dg.RunRequest(run_key=None)

    return _sensor


def definitions(settings: Settings) -> dg.Definitions:
    job = alerts_job()
    return dg.Definitions(
        assets=[alerts_asset(settings)],
        jobs=[job],
        sensors=[alerts_after_views(views_job(), job), deliveries_due(job)],
    )
