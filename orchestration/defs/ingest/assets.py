"""Landing assets: one per event type, materialised together by one micro-batch.

The asset body only wires: it reads the stored offsets, asks the connectors for a
bounded batch, hands it to `pipelines.ingest`, and reports what happened as metadata
(counts per asset) and asset-check results (the Great Expectations outcome).
"""

from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from orchestration.defs.ingest.resources import DatabaseResource, KafkaResource, RegistryResource
from pipelines.ingest import BatchOutcome, ValidationSummary, build_ingestor, ingest_once
from pipelines.landing.writer import stored_offsets
from pipelines.validation.suites import TimeWindow
from sangsaeng.errors import TransientError
from sangsaeng.settings import Settings
from schemas.topics import EventType

CHECK_NAME = "great_expectations"
TRANSIENT_RETRIES = 3


def _default(name: str) -> object:
    """A setting's built-in default (the run config carries the configured value)."""
    return Settings.model_fields[name].default


def landing_key(event_type: EventType) -> dg.AssetKey:
    return dg.AssetKey(f"landing_{event_type.value}")


class IngestConfig(dg.Config):
    """Bounds of one micro-batch and the event-time window validation allows."""

    max_records: int = Field(_default("ingest_max_records"), ge=1)
    max_seconds: float = Field(_default("ingest_max_seconds"), gt=0)
    event_future_seconds: float = Field(_default("event_future_seconds"), ge=0)
    event_horizon_days: float = Field(_default("event_horizon_days"), gt=0)


def _land_one_batch(
    config: IngestConfig,
    kafka: KafkaResource,
    database: DatabaseResource,
    registry: RegistryResource,
) -> tuple[BatchOutcome, int]:
    engine = database.engine()
    window = TimeWindow(config.event_future_seconds, config.event_horizon_days * 86_400)
    with kafka.reader() as reader, kafka.dead_letters() as dead_letters:
        ingestor = build_ingestor(engine, registry.client(), window, dead_letters=dead_letters)
        outcome = ingest_once(
            reader, ingestor, max_records=config.max_records, max_seconds=config.max_seconds
        )
        return outcome, sum(p.lag for p in reader.lag(stored_offsets(engine)))


def _check(event_type: EventType, summary: ValidationSummary | None) -> dg.AssetCheckResult:
    summary = summary or ValidationSummary()
    return dg.AssetCheckResult(
        asset_key=landing_key(event_type),
        check_name=CHECK_NAME,
        passed=summary.success,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "checked": summary.checked,
            "failed_rows": summary.failed_rows,
            "failed_expectations": dg.MetadataValue.json(summary.failed_rules),
            "expectations": len(summary.results),
        },
    )


def _materialization(
    event_type: EventType, outcome: BatchOutcome, lag_left: int
) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        asset_key=landing_key(event_type),
        metadata={
            "landed": outcome.landed[event_type],
            "duplicates": outcome.duplicates[event_type],
            "quarantined": outcome.quarantined[event_type],
            "batch_read": outcome.read,
            "batch_quarantined": sum(outcome.quarantined.values()),
            "batch_reasons": dg.MetadataValue.json(dict(outcome.reasons)),
            "lag_left": lag_left,
        },
    )


@dg.multi_asset(
    name="land_supplier_events",
    specs=[
        dg.AssetSpec(
            landing_key(e),
            group_name="landing",
            kinds={"kafka", "sql"},
            description=f"Validated {e.value} events from sup.<supplier>.{e.value}, "
            "one row per event_id.",
        )
        for e in EventType
    ],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=landing_key(e),
            description="The Great Expectations suite on this micro-batch: rows checked, "
            "failed rows, and the expectations that failed.",
        )
        for e in EventType
    ],
    can_subset=False,
)
def land_supplier_events(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    kafka: KafkaResource,
    database: DatabaseResource,
    registry: RegistryResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """One bounded micro-batch: decode, validate (GX), land with the offsets, exactly once."""
    try:
        outcome, lag_left = _land_one_batch(config, kafka, database, registry)
    except TransientError as exc:
        # A lost connection or a held lock: try again a few times, then fail with the
        # reason. Terminal errors (schema, data, configuration) fail the run at once.
        context.log.warning(f"will retry: {exc}")
        raise dg.RetryRequested(max_retries=TRANSIENT_RETRIES, seconds_to_wait=2.0) from exc
    context.log.info(
        f"read {outcome.read}: landed {sum(outcome.landed.values())}, duplicates "
        f"{sum(outcome.duplicates.values())}, quarantined {sum(outcome.quarantined.values())}; "
        f"lag left {lag_left}"
    )
    for event_type in EventType:
        yield _materialization(event_type, outcome, lag_left)
        yield _check(event_type, outcome.validation.get(event_type))
