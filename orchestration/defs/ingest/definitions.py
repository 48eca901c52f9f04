"""Ingest's definitions: the suppliers' topics, the landing assets with their checks, the
job, the lag sensor."""

import dagster as dg

from orchestration.defs.ingest.assets import landing_assets, topic_specs
from orchestration.defs.ingest.jobs import ingest_job
from orchestration.defs.ingest.resources import DatabaseResource, KafkaResource, RegistryResource
from orchestration.defs.ingest.sensors import ingest_on_lag
from sangsaeng.settings import Settings


def resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources ingest needs, configured from `settings`."""
    return {
        "kafka": KafkaResource(bootstrap=settings.kafka_bootstrap, topics=settings.ingest_topics),
        "database": DatabaseResource(url=settings.database_url),
        "registry": RegistryResource(url=settings.schema_registry_url),
    }


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*topic_specs(), landing_assets(settings)],
        jobs=[ingest_job(settings)],
        sensors=[ingest_on_lag],
        resources=resources(settings),
    )
