"""Landing assets: one per event type, landed together by one micro-batch, downstream of
the suppliers' Kafka topics (external assets, one per event type).

The asset body only wires: it reads the stored offsets, asks the connectors for a
bounded batch, hands it to `pipelines.ingest`, and reports what happened:

- an observation of every event type's topics (records read, lag left, and the batch's
  totals, which `orchestration.run` reads back), every run;
- a materialisation of each landing table that received records in this batch (landed,
  duplicates, quarantined, rows in the table as `dagster/row_count`), and only those:
  an event type nobody sent keeps its last materialisation, so its freshness says so;
- the Great Expectations check of each event type validated, with a few of the records
  it quarantined as a sample and the command that lists the rest.
"""

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from orchestration.defs.conventions import (
    OWNERS,
    ROW_COUNT,
    database_kind,
    samples,
    table_metadata,
    transient_errors_retried,
)
from orchestration.defs.ingest.resources import DatabaseResource, KafkaResource, RegistryResource
from pipelines.ingest import BatchOutcome, ValidationSummary, build_ingestor, ingest_once
from pipelines.landing.models import LANDING
from pipelines.landing.queries import landing_row_counts
from pipelines.landing.writer import TopicPartition, stored_offsets
from pipelines.quarantine import list_quarantine
from pipelines.validation.outcome import TimeWindow
from sangsaeng.settings import Settings
from schemas.contracts import contract
from schemas.topics import EventType, parse_supplier_topic, subject_for

CHECK_NAME = "great_expectations"
GROUP = "landing"
SAMPLES = 5
# Suppliers' MES report through the shift: a landing table an hour behind means a
# supplier (or ingest) stopped sending.
LANDING_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=1))


def _default(name: str) -> object:
    """A setting's built-in default (the run config carries the configured value)."""
    return Settings.model_fields[name].default


def landing_key(event_type: EventType) -> dg.AssetKey:
    return dg.AssetKey(f"landing_{event_type.value}")


def topic_key(event_type: EventType) -> dg.AssetKey:
    """The external asset of every supplier's `sup.<supplier>.<event type>` topic."""
    return dg.AssetKey(["kafka", f"sup_{event_type.value}"])


def _avro_type(avro: Any) -> str:
    """An Avro field type in a few words: `long (timestamp-millis)`, `enum MachineState`."""
    if isinstance(avro, list):
        kinds = [_avro_type(a) for a in avro if a != "null"]
        return " | ".join(kinds) + (" (optional)" if "null" in avro else "")
    if isinstance(avro, dict):
        if "logicalType" in avro:
            return f"{avro['type']} ({avro['logicalType']})"
        if avro["type"] in ("enum", "record"):
            return f"{avro['type']} {avro['name']}"
        if avro["type"] == "array":
            return f"array of {_avro_type(avro['items'])}"
        return _avro_type(avro["type"])
    return str(avro)


def _contract_docs(event_type: EventType) -> dict[str, str]:
    """Each contract field's Avro doc (with an enum's symbols), by field name."""
    docs = {}
    for f in contract(event_type)["fields"]:
        doc = f.get("doc", "")
        kind = f["type"] if isinstance(f["type"], dict) else {}
        if kind.get("type") == "enum" and not all(s in doc for s in kind["symbols"]):
            doc += f" One of {', '.join(kind['symbols'])}."
        docs[f["name"]] = doc
    return docs


def topic_specs() -> list[dg.AssetSpec]:
    """The suppliers' Kafka topics, one external asset per event type: lineage starts at
    the suppliers. Their column schema is the Avro contract's."""
    specs = []
    for e in EventType:
        schema = contract(e)
        specs.append(
            dg.AssetSpec(
                topic_key(e),
                group_name="suppliers",
                kinds={"kafka", "avro"},
                owners=OWNERS,
                tags={"layer": "source", "tenancy": "topic-per-supplier"},
                description=f"Every supplier's sup.<supplier>.{e.value} topic: "
                f"{schema['doc']} Avro {e.record_name} in the Confluent wire format "
                f"(subject {subject_for(e)}); ingest reads them by pattern.",
                metadata={
                    "topics": f"sup.<supplier_id>.{e.value}",
                    "subject": subject_for(e),
                    "dagster/column_schema": dg.TableSchema(
                        columns=[
                            dg.TableColumn(
                                f["name"], _avro_type(f["type"]), description=f.get("doc")
                            )
                            for f in schema["fields"]
                        ]
                    ),
                },
            )
        )
    return specs


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
) -> tuple[BatchOutcome, dict[TopicPartition, int], dict[EventType, int]]:
    """The batch's outcome, the offsets it started from, and the lag left per event type."""
    engine = database.engine()
    window = TimeWindow(config.event_future_seconds, config.event_horizon_days * 86_400)
    with kafka.reader() as reader, kafka.dead_letters() as dead_letters:
        ingestor = build_ingestor(engine, registry.client(), window, dead_letters=dead_letters)
        start = stored_offsets(engine)  # what ingest_once reads from: one ingest at a time
        outcome = ingest_once(
            reader, ingestor, max_records=config.max_records, max_seconds=config.max_seconds
        )
        lag = dict.fromkeys(EventType, 0)
        for partition in reader.lag(stored_offsets(engine)):
            parsed = parse_supplier_topic(partition.topic)
            if parsed is not None:
                lag[parsed[1]] += partition.lag
        return outcome, start, lag


def _received(outcome: BatchOutcome, event_type: EventType) -> int:
    return (
        outcome.landed[event_type]
        + outcome.duplicates[event_type]
        + outcome.quarantined[event_type]
    )


def _observation(
    event_type: EventType, outcome: BatchOutcome, lag: Mapping[EventType, int]
) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=topic_key(event_type),
        metadata={
            "records_read": _received(outcome, event_type),
            "lag": lag[event_type],
            # The batch's totals (the same on every topic's observation of a run).
            "batch_read": outcome.read,
            "batch_quarantined": sum(outcome.quarantined.values()),
            "batch_reasons": dg.MetadataValue.json(dict(outcome.reasons)),
            "lag_left": sum(lag.values()),
        },
    )


def _check(
    event_type: EventType,
    summary: ValidationSummary,
    refused: list[dict[str, Any]],
) -> dg.AssetCheckResult:
    more = f"sangsaeng quarantine list --event-type {event_type.value}"
    return dg.AssetCheckResult(
        asset_key=landing_key(event_type),
        check_name=CHECK_NAME,
        passed=summary.success,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if summary.success
        else f"{summary.failed_rows} of {summary.checked} rows quarantined: `{more}` lists them",
        metadata={
            "checked": summary.checked,
            "failed_rows": summary.failed_rows,
            "failed_expectations": dg.MetadataValue.json(summary.failed_rules),
            "expectations": len(summary.results),
            **(
                {"sample_quarantined": samples(refused), "more": dg.MetadataValue.md(f"`{more}`")}
                if not summary.success
                else {}
            ),
        },
    )


def _refused_samples(
    database: DatabaseResource,
    event_type: EventType,
    start: Mapping[TopicPartition, int],
    outcome: BatchOutcome,
) -> list[dict[str, Any]]:
    """A few records of `event_type` this batch quarantined, as the listing shows them."""
    read_at = {tp: (start.get(tp, 0), end) for tp, end in outcome.offsets.items()}
    entries = list_quarantine(
        database.engine(), event_type=event_type.value, read_at=read_at, limit=SAMPLES
    )
    return [
        {
            "supplier_id": e.supplier_id,
            "event_id": e.event_id,
            "where": f"{e.topic}[{e.partition}]@{e.offset}",
            "reasons": "; ".join(r["message"] for r in e.reasons),
        }
        for e in entries
    ]


def landing_assets(settings: Settings) -> dg.AssetsDefinition:
    """The landing multi-asset, its kinds naming the configured database."""
    specs = [
        dg.AssetSpec(
            landing_key(e),
            group_name=GROUP,
            deps=[topic_key(e)],
            skippable=True,  # materialised only when this batch had records of its type
            kinds={"kafka", "python", "greatexpectations", database_kind(settings.database_url)},
            owners=OWNERS,
            tags={"layer": "landing", "exactly_once": "true"},
            freshness_policy=LANDING_FRESHNESS,
            description=f"Validated {e.value} events from sup.<supplier>.{e.value}, "
            "one row per event_id, landed exactly once with the offsets they came from.",
            metadata=table_metadata(LANDING[e], _contract_docs(e)),
        )
        for e in EventType
    ]
    check_specs = [
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=landing_key(e),
            description="The Great Expectations suite on this micro-batch: rows checked, "
            "failed rows (quarantined), the expectations that failed, and a few of the "
            "quarantined records (`sangsaeng quarantine list` shows all).",
        )
        for e in EventType
    ]

    # `can_subset=True` only so that the outputs of the event types a batch did not
    # receive are optional (Dagster makes every check of a non-subsettable multi-asset
    # required); a batch lands every event type, so a partial selection is refused.
    @dg.multi_asset(
        name="land_supplier_events",
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
    )
    def land_supplier_events(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        kafka: KafkaResource,
        database: DatabaseResource,
        registry: RegistryResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult | dg.AssetObservation]:
        """One bounded micro-batch: decode, validate (GX), land with the offsets, exactly once."""
        if set(context.selected_asset_keys) != {landing_key(e) for e in EventType}:
            raise dg.Failure(
                "a micro-batch lands every event type at once: materialise all the "
                "landing assets together (the `ingest` job does)",
                allow_retries=False,
            )
        with transient_errors_retried(context):
            outcome, start, lag = _land_one_batch(config, kafka, database, registry)
        # After the commit: an error from here on must not retry (that lands another batch).
        counts = landing_row_counts(database.engine()) if outcome.read else {}
        context.log.info(
            f"read {outcome.read}: landed {sum(outcome.landed.values())}, duplicates "
            f"{sum(outcome.duplicates.values())}, quarantined "
            f"{sum(outcome.quarantined.values())}; lag left {sum(lag.values())}"
        )
        for event_type in EventType:
            yield _observation(event_type, outcome, lag)
            if _received(outcome, event_type):
                yield dg.MaterializeResult(
                    asset_key=landing_key(event_type),
                    metadata={
                        "landed": outcome.landed[event_type],
                        "duplicates": outcome.duplicates[event_type],
                        "quarantined": outcome.quarantined[event_type],
                        ROW_COUNT: counts[event_type],
                    },
                )
            summary = outcome.validation.get(event_type)
            if summary is not None:
                refused = (
                    []
                    if summary.success
                    else _refused_samples(database, event_type, start, outcome)
                )
                yield _check(event_type, summary, refused)

    return land_supplier_events
