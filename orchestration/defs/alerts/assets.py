"""The `quality_alerts` asset: the alert rules (`pipelines.alerts`) over the views they
read, then every webhook delivery due (`serving.webhooks`). One op, run after each
successful views run and whenever a delivery's backoff has passed."""

from datetime import date, timedelta

import dagster as dg
from pydantic import Field

from governance.models import QualityAlert, utcnow
from orchestration.defs.conventions import OWNERS, database_kind, table_metadata
from orchestration.defs.ingest.resources import DatabaseResource
from orchestration.defs.views.assets import view_key
from pipelines.alerts import evaluate
from sangsaeng.settings import Settings
from serving.app import programme_today
from serving.webhooks import deliver_due

GROUP = "alerts"
ALERTS_KEY = dg.AssetKey("quality_alerts")
READS = ("quality_daily", "capability_weekly", "delivery_weekly", "lot_trace")


class AlertsConfig(dg.Config):
    """How one alerts run looks."""

    lookback_days: int = Field(14, ge=1, description="Rows of the last N days are evaluated.")
    today: str | None = Field(
        None, description="The programme day agreements are judged on (default: today, Seoul)."
    )


def alerts_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=ALERTS_KEY,
        group_name=GROUP,
        deps=[view_key(name) for name in READS],
        kinds={"sql", database_kind(settings.database_url)},
        owners=OWNERS,
        metadata=table_metadata(QualityAlert.__table__),
        description="Quality alerts for buyers: ppm above a part's limit, Cpk < 1.33, OTIF "
        "under target, a FAIL at final inspection of a lot already shipped; then the "
        "webhook deliveries that are due (signed, retried with backoff).",
    )
    def quality_alerts(
        context: dg.AssetExecutionContext, config: AlertsConfig, database: DatabaseResource
    ) -> dg.MaterializeResult:
        engine = database.engine()
        today = date.fromisoformat(config.today) if config.today else programme_today()
        found = evaluate(engine, today - timedelta(days=config.lookback_days), today, utcnow())
        sent = deliver_due(engine, today=today)
        context.log.info(
            f"{found.findings} findings, {len(found.created)} new alerts; webhooks: "
            f"{sent.sent} sent, {sent.failed} to retry, {sent.given_up} given up, "
            f"{sent.deferred} left for the next pass (their receiver timed out)"
        )
        return dg.MaterializeResult(
            metadata={
                "findings": found.findings,
                "new_alerts": len(found.created),
                "webhooks_sent": sent.sent,
                "webhooks_failed": sent.failed,
                "webhooks_given_up": sent.given_up,
                "webhooks_deferred": sent.deferred,
            }
        )

    return quality_alerts
