"""`sangsaeng quarantine list|reprocess`: events refused by validation, and their retry."""

from enum import StrEnum
from typing import Annotated

import typer

from cli.output import Format, FormatOption, console, emit
from cli.platform import engine, settings
from schemas.topics import EventType

app = typer.Typer(
    help="Events refused by validation, with their reasons; retry them after a fix.",
    no_args_is_help=True,
)


class Status(StrEnum):
    """Which quarantine entries a listing shows."""

    OPEN = "open"
    LANDED = "landed"
    DUPLICATE = "duplicate"
    ALL = "all"


@app.command("list")
def quarantine_list(
    supplier: Annotated[str | None, typer.Option(help="Only this supplier, e.g. S0001.")] = None,
    event_type: Annotated[
        EventType | None, typer.Option("--event-type", help="Only this event type.")
    ] = None,
    status: Annotated[Status, typer.Option(help="Entries in this state.")] = Status.OPEN,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 50,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Show refused events with each reason (rule, field, offending value)."""
    from pipelines.quarantine import list_quarantine

    entries = list_quarantine(
        engine(),
        supplier_id=supplier,
        event_type=event_type.value if event_type else None,
        status=None if status is Status.ALL else status.value,
        limit=limit,
    )
    table = fmt is Format.TABLE
    rows = [
        {
            "id": str(e.quarantine_id),
            "first seen": e.first_seen.strftime("%Y-%m-%d %H:%M:%S"),
            "supplier": e.supplier_id,
            "type": e.event_type,
            "event id": e.event_id,
            "where": f"{e.topic}[{e.partition}]@{e.offset}",
            "topic": e.topic,
            "partition": e.partition,
            "offset": e.offset,
            "status": e.status,
            "reasons": [r["message"] for r in e.reasons] if table else e.reasons,
        }
        for e in entries
    ]
    # A table shows where a record was read in one column; programs get the parts.
    where = ["where"] if table else ["topic", "partition", "offset"]
    columns = ["id", "first seen", "supplier", "type", "event id", *where]
    columns += ["status", "reasons"] if status is Status.ALL else ["reasons"]
    emit(
        rows,
        columns,
        fmt,
        title=f"Quarantine ({status.value})",
        ids=["id", "supplier", "event id", "where"],
        lines=True,
    )
    if fmt is Format.TABLE:
        console.print(
            f"{len(entries)} shown" + (" (raise --limit for more)" if len(entries) == limit else "")
        )


@app.command("reprocess")
def quarantine_reprocess(
    supplier: Annotated[str | None, typer.Option(help="Only this supplier.")] = None,
    event_type: Annotated[
        EventType | None, typer.Option("--event-type", help="Only this event type.")
    ] = None,
) -> None:
    """Retry open quarantined events (after reference data was fixed); each lands once."""
    from pipelines.ingest import build_ingestor
    from pipelines.quarantine import reprocess
    from pipelines.validation.outcome import TimeWindow
    from schemas.registry.auth import client_credentials
    from schemas.registry.client import RegistryClient

    current = settings()
    made = engine()
    ingestor = build_ingestor(
        made,
        RegistryClient(current.schema_registry_url, client_credentials(current)),
        TimeWindow(current.event_future_seconds, current.event_horizon_days * 86_400),
    )
    outcome = reprocess(
        made, ingestor, supplier_id=supplier, event_type=event_type.value if event_type else None
    )
    console.print(
        f"retried {outcome.retried}: landed {outcome.landed}, already landed "
        f"{outcome.duplicates}, still refused {outcome.still_refused}"
        + (
            " (" + ", ".join(f"{r} x{n}" for r, n in outcome.reasons.most_common()) + ")"
            if outcome.reasons
            else ""
        )
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="quarantine")
