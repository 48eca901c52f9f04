"""View assets: one per view of `pipelines.views.catalog.VIEWS`, refreshed by one op.

Every view is an asset of the `views` group, downstream of the landing assets of the
event types it reads and of the views it reads; its asset checks are the ones it
declares something for (`pipelines.views.checks`). Nothing here names a view: a view
added to the catalogue appears with its lineage, schema and checks.

One multi-asset op refreshes the selected views in the catalogue's order (each after
the views it reads), one database transaction per view (`refresh_view`), then runs
each view's checks on what it committed. One op, not one per view: the refreshes are
short SQL statements on one database, which a step (a process, under `dagster dev`)
per view would only queue behind the same write lock. Each selected view is
materialised every run, with the keys and ranges it recomputed (0 when nothing was
touched), rows written and rows held: its freshness says when it was last brought up to
date with landing.
"""

import sys
import time
from collections.abc import Iterator
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
    table_schema,
    transient_errors_retried,
)
from orchestration.defs.ingest.assets import landing_key
from orchestration.defs.ingest.resources import DatabaseResource
from pipelines.views.base import View
from pipelines.views.catalog import VIEWS, ordered
from pipelines.views.checks import (
    CHECKS,
    DESCRIPTIONS,
    TOTALS,
    TOUCHED,
    CheckOutcome,
    checks_of,
)
from pipelines.views.refresh import refresh_view
from sangsaeng.settings import Settings

GROUP = "views"
OP_NAME = "refresh_views"
# A view is refreshed within seconds of the ingest run that touched it (the sensor);
# an hour more than landing's hour means the refresh itself stopped.
VIEW_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2))


def view_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name)


class ViewsConfig(dg.Config):
    """How one views run refreshes."""

    full: bool = Field(False, description="Rebuild every key, not only those ingest touched.")


def _description(view: View) -> str:
    """The view's title and its definition (its module's docstring: formulas, units)."""
    module = sys.modules.get(view.recompute.__module__)
    definition = (module.__doc__ or "").strip() if module else ""
    return f"{view.title}.\n\n{definition}" if definition else view.title


def _spec(view: View, settings: Settings) -> dg.AssetSpec:
    landing = [landing_key(e) for e in sorted(view.reads)]
    extra = {
        f"schema of {t.name}": dg.MetadataValue.table_schema(table_schema(t))
        for t in view.tables[1:]
    }
    return dg.AssetSpec(
        view_key(view.name),
        group_name=GROUP,
        deps=[*landing, *(view_key(name) for name in view.depends_on)],
        kinds={"sql", database_kind(settings.database_url)},
        owners=OWNERS,
        tags={"layer": "view", "refresh": "incremental"},
        freshness_policy=VIEW_FRESHNESS,
        description=_description(view),
        metadata={
            **table_metadata(view.table),
            "tables": [t.name for t in view.tables],
            "reads": sorted(e.value for e in view.reads)
            + (["quarantine"] if view.reads_quarantine else []),
            "key_range": getattr(view.key_range, "__name__", str(view.key_range)),
            **extra,
        },
    )


def _more(view: View, check: str, outcome: CheckOutcome) -> str:
    """The command that shows what a failed check found, beyond its samples."""
    if check == TOUCHED:
        return f"`sangsaeng views refresh --view {view.name}` takes them"
    supplier = next((s["supplier_id"] for s in outcome.samples if "supplier_id" in s), None)
    flag = f" --supplier {supplier}" if supplier and supplier != "all" else ""
    return f"`sangsaeng views show {view.name}{flag}` shows the rows"


def _severity(check: str, outcome: CheckOutcome) -> dg.AssetCheckSeverity:
    # Keys waiting were touched by an ingest after the refresh (or missed by it): the
    # next refresh takes them, so they warn; so does a total read while keys waited.
    # A total off with nothing waiting, or a ratio outside [0, 1], is a broken view.
    if check == TOUCHED or (check == TOTALS and outcome.waiting):
        return dg.AssetCheckSeverity.WARN
    return dg.AssetCheckSeverity.ERROR


def check_result(view: View, check: str, outcome: CheckOutcome) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {"checked": outcome.checked, "failed": outcome.failed}
    if check in (TOTALS, TOUCHED):
        metadata["keys_waiting"] = outcome.waiting
    if not outcome.passed:
        metadata["samples"] = samples(outcome.samples)
        metadata["more"] = dg.MetadataValue.md(_more(view, check, outcome))
    return dg.AssetCheckResult(
        asset_key=view_key(view.name),
        check_name=check,
        passed=outcome.passed,
        severity=_severity(check, outcome),
        description=outcome.summary,
        metadata=metadata,
    )


def view_assets(settings: Settings) -> dg.AssetsDefinition:
    """The views multi-asset; the refreshes read `settings` (e.g. a view's factors)."""
    specs = [_spec(v, settings) for v in VIEWS]
    check_specs = [
        dg.AssetCheckSpec(check, asset=view_key(v.name), description=DESCRIPTIONS[check])
        for v in VIEWS
        for check in checks_of(v)
    ]

    @dg.multi_asset(name=OP_NAME, specs=specs, check_specs=check_specs, can_subset=True)
    def refresh_views(
        context: dg.AssetExecutionContext, config: ViewsConfig, database: DatabaseResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        """Refresh the selected views (touched keys, or all: `full`), then check them."""
        refreshed = {k.to_user_string() for k in context.selected_asset_keys}
        checked = {
            (k.asset_key.to_user_string(), k.name) for k in context.selected_asset_check_keys
        }
        names = refreshed | {name for name, _ in checked}
        for view in ordered(sorted(names)):
            if view.name in refreshed:
                yield _refresh(context, view, settings, database, full=config.full)
            for check in checks_of(view):
                if (view.name, check) in checked:
                    with transient_errors_retried(context):
                        outcome = CHECKS[check](database.engine(), view)
                    yield check_result(view, check, outcome)

    return refresh_views


def _refresh(
    context: dg.AssetExecutionContext,
    view: View,
    settings: Settings,
    database: DatabaseResource,
    *,
    full: bool,
) -> dg.MaterializeResult:
    started = time.monotonic()
    # A retry runs the op again from its first view: those refreshed already find their
    # keys claimed and recompute nothing (a full rebuild does it again, identically).
    # preserve_rowcount: SQLAlchemy reports the rows of an INSERT ... SELECT only when
    # asked (PostgreSQL gives -1 otherwise, and "rows written" would read 0).
    engine = database.engine().execution_options(preserve_rowcount=True)
    with transient_errors_retried(context):
        done = refresh_view(engine, view, settings, full=full)
    what = "rebuilt" if done.full else f"{done.keys} touched keys in {done.ranges} ranges"
    context.log.info(f"{view.name}: {what}, {done.rows} rows written, {done.total_rows} in all")
    return dg.MaterializeResult(
        asset_key=view_key(view.name),
        metadata={
            "full": done.full,
            "keys_recomputed": done.keys,
            "ranges_recomputed": done.ranges,
            "rows_written": done.rows,
            ROW_COUNT: done.total_rows,
            "seconds": round(time.monotonic() - started, 3),
        },
    )
