"""The `ingest` job: one micro-batch into every landing asset."""

import dagster as dg

from orchestration.defs.ingest.assets import land_supplier_events

ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.assets(land_supplier_events),
    tags={"sangsaeng/pipeline": "ingest"},  # one run at a time (the instance's run queue)
    description="Consume one bounded micro-batch from the supplier topics, starting at the "
    "offsets stored in the database, and land it (decode, validate, write) in one transaction.",
)
