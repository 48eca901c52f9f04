"""`sangsaeng ingest`: land supplier events (the Dagster `ingest` job, in this process)."""

from typing import Annotated, Any

import typer

from cli.output import Format, console, emit
from cli.platform import engine, settings
from schemas.topics import EventType


def print_ingest_report(report: Any) -> None:
    """The per-event-type counts, the lag left, and why records were quarantined."""
    rows: list[dict[str, Any]] = [
        {
            "event type": e.value,
            "landed": report.landed[e.value],
            "duplicates": report.duplicates[e.value],
            "quarantined": report.quarantined[e.value],
        }
        for e in EventType
    ]
    rows.append(
        {
            "event type": "all",
            "landed": sum(report.landed.values()),
            "duplicates": sum(report.duplicates.values()),
            "quarantined": sum(report.quarantined.values()),
        }
    )
    counts = ["landed", "duplicates", "quarantined"]
    emit(rows, ["event type", *counts], Format.TABLE, title="Ingest", right=counts)
    console.print(
        f"read {report.read:,} records in {report.runs} run(s); lag left {report.lag_left:,}"
    )
    if report.reasons:
        emit(
            [{"rule": r, "records": n} for r, n in report.reasons.most_common()],
            ["rule", "records"],
            Format.TABLE,
            title="Quarantined by reason",
            right=["records"],
        )


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
    no_views: Annotated[
        bool,
        typer.Option(
            "--no-views", help="Do not refresh the views afterwards (`sangsaeng views refresh`)."
        ),
    ] = False,
) -> None:
    """Land supplier events: decode, validate (Great Expectations), write exactly once.

    Runs the Dagster `ingest` job in this process (the same job the lag sensor starts
    under `sangsaeng ui`), from the offsets stored in the database; the runs are kept on
    the state dir's Dagster instance. Refused events go to the quarantine table and
    dlq.<event type>; see them with `sangsaeng quarantine list`. Then, unless --no-views,
    the Dagster `views` job refreshes the view keys the landed events touched, as the
    sensor after ingest does under `sangsaeng ui`.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from orchestration.run import run_ingest

    engine().dispose()
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
            settings(),
            until_caught_up=until_caught_up,
            max_records=max_records,
            max_seconds=max_seconds,
            on_run=on_run,
        )
    print_ingest_report(report)
    if not no_views:
        from cli.views import print_views_report
        from orchestration.run import run_views

        with console.status("Refreshing the views (the Dagster `views` job)…"):
            views = run_views(settings(), only_if_touched=True)
        print_views_report(views)


def register(root: typer.Typer) -> None:
    root.command("ingest")(ingest)
