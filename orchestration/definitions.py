"""The Dagster code location: every domain's definitions merged (`dagster dev` loads this)."""

import dagster as dg

from orchestration.defs.alerts.definitions import definitions as alerts_definitions
from orchestration.defs.ingest.definitions import definitions as ingest_definitions
from orchestration.defs.views.definitions import definitions as views_definitions
from sangsaeng.settings import Settings, get_settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The platform's definitions, configured from `settings` (the environment if None)."""
    settings = settings or get_settings()
    return dg.Definitions.merge(
        ingest_definitions(settings), views_definitions(settings), alerts_definitions(settings)
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What `dagster dev` loads: the settings are read when the code location loads."""
    return build_definitions()
