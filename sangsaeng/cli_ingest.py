"""CLI for the trusted side of the platform: reference data, ingest, and the quarantine.

Registered on the `sangsaeng` app by `cli.py`; wires settings to `pipelines/` and
`orchestration/` and prints what happened. Heavy imports (Dagster, Great
Expectations) stay inside the commands so `--help` is instant.
"""

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sangsaeng.settings import get_settings
from schemas.topics import EventType

console = Console()

reference_app = typer.Typer(
    help="Reference data validation checks against: organisations, sites, lines, parts.",
    no_args_is_help=True,
)
quarantine_app = typer.Typer(
    help="Events refused by validation, with their reasons; retry them after a fix.",
    no_args_is_help=True,
)


def _engine():  # noqa: ANN202 - keeps SQLAlchemy out of `--help`
    from sangsaeng.db import make_engine

    return make_engine(get_settings().database_url)


@reference_app.command("load")
def reference_load(
    file: Annotated[
        Path,
        typer.Argument(
            help="YAML file with organisations, sites, lines and parts (the simulator "
            "writes one to <state dir>/reference.yaml).",
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Load (upsert) reference data; events naming unknown entries are quarantined."""
    from pipelines.reference import load_reference, read_reference_file

    counts = load_reference(_engine(), read_reference_file(file))
    console.print(
        "reference data loaded: " + ", ".join(f"{n} {name}" for name, n in counts.items())
    )


def ingest_summary(report: Any) -> Table:
    """The per-event-type table of an `IngestReport`."""
    table = Table(title="Ingest", title_justify="left")
    for column in ("event type", "landed", "duplicates", "quarantined"):
        table.add_column(column, justify="left" if column == "event type" else "right")
    for event_type in EventType:
        table.add_row(
            event_type.value,
            f"{report.landed[event_type.value]:,}",
            f"{report.duplicates[event_type.value]:,}",
            f"{report.quarantined[event_type.value]:,}",
        )
    table.add_section()
    table.add_row(
        "all",
        f"{sum(report.landed.values()):,}",
        f"{sum(report.duplicates.values()):,}",
        f"{sum(report.quarantined.values()):,}",
    )
    return table


def print_ingest_report(report: Any) -> None:
    console.print(ingest_summary(report))
    console.print(
        f"read {report.read:,} records in {report.runs} run(s); lag left {report.lag_left:,}"
    )
    if report.reasons:
        reasons = Table(title="Quarantined by reason", title_justify="left")
        reasons.add_column("rule")
        reasons.add_column("records", justify="right")
        for rule, n in report.reasons.most_common():
            reasons.add_row(rule, f"{n:,}")
        console.print(reasons)


def ingest(
    until_caught_up: Annotated[
        bool,
        typer.Option(
            "--until-caught-up", help="Run batch after batch until no supplier partition lags."
        ),
    ] = False,
    max_records: Annotated[
        int | None,
        typer.Option(
            help="Records per micro-batch (default: the SANGSAENG_INGEST_MAX_RECORDS setting).",
            min=1,
        ),
    ] = None,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            help="Seconds per batch at most (default: the SANGSAENG_INGEST_MAX_SECONDS setting).",
            min=0.1,
        ),
    ] = None,
) -> None:
    """Land supplier events: decode, validate (Great Expectations), write exactly once.

    Runs the Dagster `ingest` job in this process (the same job the lag sensor starts
    under `make ui`), from the offsets stored in the database. Refused events go to the
    quarantine table and dlq.<event type>; see them with `sangsaeng quarantine list`.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from orchestration.run import run_ingest

    settings = get_settings()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Ingesting", total=None)

        def on_run(report: Any) -> None:
            progress.update(task, completed=report.read, total=report.read + report.lag_left)

        report = run_ingest(
            settings,
            until_caught_up=until_caught_up,
            max_records=max_records,
            max_seconds=max_seconds,
            on_run=on_run,
        )
    print_ingest_report(report)


@quarantine_app.command("list")
def quarantine_list(
    supplier: Annotated[str | None, typer.Option(help="Only this supplier, e.g. S0001.")] = None,
    event_type: Annotated[
        EventType | None, typer.Option("--event-type", help="Only this event type.")
    ] = None,
    status: Annotated[str, typer.Option(help="open, landed, duplicate, or all.")] = "open",
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 50,
) -> None:
    """Show refused events with each reason (rule, field, offending value)."""
    from pipelines.quarantine import list_quarantine

    if status not in ("open", "landed", "duplicate", "all"):
        raise typer.BadParameter("open, landed, duplicate or all", param_hint="--status")
    entries = list_quarantine(
        _engine(),
        supplier_id=supplier,
        event_type=event_type.value if event_type else None,
        status=None if status == "all" else status,
        limit=limit,
    )
    table = Table(title=f"Quarantine ({status})", title_justify="left", show_lines=True)
    for column in ("id", "first seen", "supplier", "type", "event id", "where", "reasons"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            str(e.quarantine_id),
            e.first_seen.strftime("%Y-%m-%d %H:%M:%S"),
            e.supplier_id or "-",
            e.event_type or "-",
            e.event_id or "-",
            f"{e.topic}[{e.partition}]@{e.offset}" + (f" ({e.status})" if status == "all" else ""),
            "\n".join(escape(r["message"]) for r in e.reasons),
        )
    console.print(table)
    console.print(
        f"{len(entries)} shown" + (" (raise --limit for more)" if len(entries) == limit else "")
    )


@quarantine_app.command("reprocess")
def quarantine_reprocess(
    supplier: Annotated[str | None, typer.Option(help="Only this supplier.")] = None,
    event_type: Annotated[
        EventType | None, typer.Option("--event-type", help="Only this event type.")
    ] = None,
) -> None:
    """Retry open quarantined events (after reference data was fixed); each lands once."""
    from pipelines.ingest import Ingestor
    from pipelines.quarantine import reprocess
    from pipelines.reference import ReferenceSets
    from pipelines.validation.runner import Validator
    from pipelines.validation.suites import TimeWindow
    from schemas.registry.client import RegistryClient
    from schemas.serde import AvroDeserializer

    settings = get_settings()
    engine = _engine()
    ingestor = Ingestor(
        engine,
        AvroDeserializer.for_contracts(RegistryClient(settings.schema_registry_url)),
        Validator(
            ReferenceSets.required(engine),
            TimeWindow(settings.event_future_seconds, settings.event_horizon_days * 86_400),
        ),
    )
    outcome = reprocess(
        engine, ingestor, supplier_id=supplier, event_type=event_type.value if event_type else None
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


def register(app: typer.Typer) -> None:
    """Add these commands to the `sangsaeng` app."""
    app.add_typer(reference_app, name="reference")
    app.add_typer(quarantine_app, name="quarantine")
    app.command("ingest")(ingest)
