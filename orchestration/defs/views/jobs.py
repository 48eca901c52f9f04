"""The `views` job: refresh every view (or a selection) after ingest, then check them."""

from typing import Any

import dagster as dg

from orchestration.defs.conventions import PIPELINE_TAG
from orchestration.defs.views.assets import GROUP, OP_NAME

VIEWS_JOB = "views"


def views_config(*, full: bool = False) -> dict[str, Any]:
    """The run config of one views run: incremental, or every key rebuilt (`full`)."""
    return {"ops": {OP_NAME: {"config": {"full": full}}}}


def views_job() -> Any:  # an unresolved asset job
    return dg.define_asset_job(
        VIEWS_JOB,
        selection=dg.AssetSelection.groups(GROUP),
        # One views run at a time, under a limit of its own: never queued behind ingest.
        # One op: the default multiprocess executor would start a second process per
        # run (imports and all) for nothing.
        executor_def=dg.in_process_executor,
        tags={PIPELINE_TAG: VIEWS_JOB},
        description="Recompute the view keys ingest touched since the last refresh (config "
        "`full: true` rebuilds every key), each view in one transaction after the views it "
        "reads, then check its totals against landing, its ratios and its touched keys.",
    )
