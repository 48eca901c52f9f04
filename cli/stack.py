"""`sangsaeng stack up|down|status|fetch`: the local stack (Kafka, registry, gateway, PG)."""

from typing import Annotated, Any

import typer

from cli.output import Format, FormatOption, console, emit
from cli.platform import settings

app = typer.Typer(
    help="Run the local stack: Apache Kafka (KRaft), the schema registry, the ingest gateway "
    "and, on request, PostgreSQL.",
    no_args_is_help=True,
)

STATE_STYLE = {
    "running": "green",
    "stopped": "dim",
    "crashed": "bold red",
    "unresponsive": "yellow",
}


def _stack():  # noqa: ANN202 - keeps the import of infra out of `--help`
    from infra.stack import Stack

    return Stack.from_settings(settings())


def _print_status(statuses: list[Any], fmt: Format) -> None:
    table = fmt is Format.TABLE
    rows = [
        {
            "service": s.name,
            "state": f"[{STATE_STYLE[s.state]}]{s.state}[/]" if table else s.state,
            "address": s.address,
            "pid": (str(s.pid) if s.pid else "") if table else s.pid,
            "since (UTC)": s.since,
            "log / detail": s.detail or s.log,
        }
        for s in statuses
    ]
    columns = ["service", "state", "address", "pid", "since (UTC)", "log / detail"]
    emit(
        rows,
        columns,
        fmt,
        title="Sangsaeng local stack",
        ids=["service", "address", "pid", "since (UTC)"],
        markup=["state"],
    )


def _prepare_database() -> None:
    """Before the registry and gateway start: their databases at this release (or refused)."""
    from cli.platform import engine, registry_engine

    engine().dispose()
    registry_engine().dispose()


@app.command("up")
def stack_up(
    postgres: Annotated[
        bool, typer.Option("--postgres", help="Also start the project-local PostgreSQL.")
    ] = False,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve Kafka's clients over TLS (SASL_SSL): a CA and the broker's "
            "certificate are made in <state_dir>/tls/; this state dir's stack stays TLS.",
        ),
    ] = False,
) -> None:
    """Start Kafka, the registry and the gateway (+ PostgreSQL with --postgres); skips what runs.

    An empty platform database is created at this release's revision first; one at an
    older revision is refused with a line naming `sangsaeng db upgrade`.
    """
    stack = _stack()
    with console.status("Starting the stack…") as status:
        statuses = stack.up(
            postgres=postgres, report=status.update, prepare=_prepare_database, tls=tls
        )
    _print_status(statuses, Format.TABLE)
    if postgres:
        console.print(f"PostgreSQL URL: [bold]{stack.postgres.url}[/]")


@app.command("down")
def stack_down(
    wipe: Annotated[
        bool, typer.Option("--wipe", help="Also delete the stack's data (topics, databases).")
    ] = False,
) -> None:
    """Stop what `stack up` started, and only that."""
    for line in _stack().down(wipe=wipe):
        console.print(line)


@app.command("status")
def stack_status(fmt: FormatOption = Format.TABLE) -> None:
    """Show each service: running, stopped or crashed, where, since when, its pid.

    Exits 1 when a service that `up` started has crashed or stopped answering.
    """
    statuses = _stack().status()
    _print_status(statuses, fmt)
    if any(s.state in ("crashed", "unresponsive") for s in statuses):
        raise typer.Exit(1)


@app.command("fetch")
def stack_fetch() -> None:
    """Resolve the Apache Kafka jars with Maven into the cache (done once per release)."""
    from infra.kafka.broker import kafka_version, resolve_jars

    with console.status("Resolving Apache Kafka jars…") as status:
        libs = resolve_jars(settings().cache_dir, report=status.update)
    console.print(f"Apache Kafka {kafka_version()}: {libs}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="stack")
