"""Starts an ingest run when a supplier partition has records past its stored offset."""

import hashlib

import dagster as dg

from orchestration.defs.ingest.jobs import INGEST_JOB
from orchestration.defs.ingest.resources import DatabaseResource, KafkaResource
from pipelines.landing.writer import stored_offsets
from sangsaeng.errors import PlatformError


@dg.sensor(
    job_name=INGEST_JOB, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING
)
def ingest_on_lag(
    context: dg.SensorEvaluationContext, kafka: KafkaResource, database: DatabaseResource
) -> dg.RunRequest | dg.SkipReason:
    """A run when any partition lags; quiet otherwise.

    The run key is the stored offsets and end offsets together: while a run is landing a
    batch nothing changes and no second run is requested; once it committed, the next
    tick sees new stored offsets and asks for the next batch if lag remains.
    """
    try:
        engine = database.engine()
    except PlatformError as exc:  # e.g. the database needs `sangsaeng db upgrade`
        return dg.SkipReason(str(exc))
    with kafka.reader() as reader:
        lags = reader.lag(stored_offsets(engine))
    behind = [p for p in lags if p.lag > 0]
    if not behind:
        return dg.SkipReason(f"no lag on {len(lags)} supplier partitions")
    state = ",".join(f"{p.topic}:{p.partition}:{p.next_offset}:{p.end_offset}" for p in lags)
    lag = sum(p.lag for p in behind)
    return dg.RunRequest(
        run_key=hashlib.sha256(state.encode()).hexdigest()[:32],
        tags={"sangsaeng/lag": str(lag), "sangsaeng/partitions_behind": str(len(behind))},
    )
