"""Views' definitions: the view assets with their checks, the job, the sensor after ingest."""

import dagster as dg

from orchestration.defs.ingest.jobs import ingest_job
from orchestration.defs.views.assets import view_assets
from orchestration.defs.views.jobs import views_job
from orchestration.defs.views.sensors import views_after_ingest
from sangsaeng.settings import Settings


def definitions(settings: Settings) -> dg.Definitions:
    """The views (their `database` resource comes with ingest's definitions)."""
    job = views_job()
    return dg.Definitions(
        assets=[view_assets(settings)],
        jobs=[job],
        sensors=[views_after_ingest(ingest_job(settings), job)],
    )
