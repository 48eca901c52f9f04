"""Ingest's definitions: the suppliers' topics, the landing assets with their checks, the
job, the lag sensor."""

import os
from typing import Any

import dagster as dg

from orchestration.defs.ingest.assets import landing_assets, topic_specs
from orchestration.defs.ingest.jobs import ingest_job
from orchestration.defs.ingest.resources import DatabaseResource, KafkaResource, RegistryResource
from orchestration.defs.ingest.sensors import ingest_on_lag
from sangsaeng.settings import Settings

AUTH_ENV = "SANGSAENG_REGISTRY_AUTH"


def _registry_auth(settings: Settings) -> Any:
    """The registry credentials set in the settings: read from the environment at run time
    when that is where they came from (so the Dagster UI never shows the password)."""
    if settings.registry_auth is None:
        return None
    if os.environ.get(AUTH_ENV) == settings.registry_auth:
        return dg.EnvVar(AUTH_ENV)
    return settings.registry_auth


def resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources ingest needs, configured from `settings`."""
    return {
        "kafka": KafkaResource(bootstrap=settings.kafka_bootstrap, topics=settings.ingest_topics),
        "database": DatabaseResource(url=settings.database_url),
        "registry": RegistryResource(
            url=settings.schema_registry_url,
            state_dir=str(settings.state_dir),
            auth=_registry_auth(settings),
        ),
    }


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*topic_specs(), landing_assets(settings)],
        jobs=[ingest_job(settings)],
        sensors=[ingest_on_lag],
        resources=resources(settings),
    )
