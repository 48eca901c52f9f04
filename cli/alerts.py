"""`sangsaeng alerts run|list|webhook`: quality alerts for buyers, for the operator."""

from datetime import date
from typing import Annotated

import typer

from cli.output import Format, FormatOption, console, emit
from cli.platform import engine, settings

app = typer.Typer(
    help="Quality alerts: rules over the views raise them for buyers, webhooks deliver them.",
    no_args_is_help=True,
)
COLUMNS = ["alert", "rule", "supplier", "buyer", "subject", "status", "created", "attempts"]


@app.command("run")
def alerts_run(
    today: Annotated[
        str | None, typer.Option(help="Judge agreements on this day (YYYY-MM-DD; default today).")
    ] = None,
) -> None:
    """Run the alerts job once (the Dagster `alerts` job): the rules over the views, then
    the webhook deliveries that are due. The sensors do this after each views run."""
    from orchestration.run import run_alerts

    day = date.fromisoformat(today) if today else None
    with console.status("Evaluating the alert rules (the Dagster `alerts` job)…"):
        figures = run_alerts(settings(), today=day)
    console.print(
        f"{figures.get('findings', 0)} findings, {figures.get('new_alerts', 0)} new alerts; "
        f"webhooks: {figures.get('webhooks_sent', 0)} sent, "
        f"{figures.get('webhooks_failed', 0)} to retry, "
        f"{figures.get('webhooks_given_up', 0)} given up"
    )


@app.command("list")
def alerts_list(
    buyer: Annotated[str | None, typer.Option(help="Only this buyer's.")] = None,
    supplier: Annotated[str | None, typer.Option(help="Only about this supplier.")] = None,
    status: Annotated[str | None, typer.Option(help="CREATED, SENT, ACKNOWLEDGED, CLOSED.")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List the alerts, newest first."""
    from sqlalchemy import select

    from governance.alerts import alert

    a = alert.c
    query = select(alert).order_by(a.created_at.desc(), a.alert_id).limit(1_000)
    for column, value in ((a.buyer_id, buyer), (a.supplier_id, supplier)):
        if value:
            query = query.where(column == value)
    if status:
        from governance.alerts import AlertError
        from governance.models import AlertStatus

        names = [s.value for s in AlertStatus]
        if status.upper() not in names:
            raise AlertError(f"unknown status {status!r}: one of {', '.join(names)}")
        query = query.where(a.status == status.upper())
    with engine().connect() as conn:
        rows = [
            {
                "alert": r.alert_id,
                "rule": r.rule,
                "supplier": r.supplier_id,
                "buyer": r.buyer_id,
                "subject": r.subject,
                "status": r.status,
                "created": r.created_at.isoformat(timespec="seconds"),
                "attempts": r.attempts,
            }
            for r in conn.execute(query)
        ]
    emit(rows, COLUMNS, fmt, title="Quality alerts", ids=["alert"], right=["attempts"])


@app.command("webhook")
def alerts_webhook(
    buyer: Annotated[str, typer.Argument(help="The buyer's organisation id.")],
    url: Annotated[str, typer.Argument(help="https URL (http only to 127.0.0.1).")],
) -> None:
    """Set a buyer's webhook; prints its signing secret (shown only now)."""
    from governance.alerts import set_webhook
    from governance.models import utcnow

    with engine().begin() as conn:
        secret = set_webhook(conn, buyer, url, utcnow())
    console.print(f"webhook of {buyer}: {url}")
    console.print(f"signing secret (shown only now): [bold]{secret}[/]")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="alerts")
