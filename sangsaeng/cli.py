"""The `sangsaeng` command line: wires settings to the stages; holds no logic of its own.

Every `PlatformError` ends as one red line on stderr and exit code 1 (2 for bad
settings), never a traceback.
"""

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sangsaeng import __version__
from sangsaeng.errors import ConfigError, PlatformError
from sangsaeng.settings import get_settings

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="sangsaeng",
    help="Sangsaeng (상생): supply-chain data sharing for the win-win smart-factory programme.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
stack_app = typer.Typer(
    help="Run the local stack: Apache Kafka (KRaft) and, on request, PostgreSQL.",
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")


def _version(value: bool) -> None:
    if value:
        console.print(f"sangsaeng {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Sangsaeng (상생): supply-chain data sharing for the win-win smart-factory programme.

    Settings come from SANGSAENG_* environment variables (see README).
    """


def _stack():  # noqa: ANN202 - keeps the import of infra out of `--help`
    from infra.stack import Stack

    return Stack.from_settings(get_settings())


STATE_STYLE = {
    "running": "green",
    "stopped": "dim",
    "crashed": "bold red",
    "unresponsive": "yellow",
}


def _print_status(statuses: list) -> None:
    table = Table(title="Sangsaeng local stack", title_justify="left")
    for column in ("service", "state", "address", "pid", "since (UTC)", "log / detail"):
        table.add_column(column)
    for s in statuses:
        style = STATE_STYLE[s.state]
        table.add_row(
            s.name,
            f"[{style}]{s.state}[/]",
            s.address,
            str(s.pid or ""),
            s.since,
            s.detail or s.log,
        )
    console.print(table)


@stack_app.command("up")
def stack_up(
    postgres: Annotated[
        bool, typer.Option("--postgres", help="Also start the project-local PostgreSQL.")
    ] = False,
) -> None:
    """Start Apache Kafka (and PostgreSQL with --postgres); a no-op for what already runs."""
    stack = _stack()
    with console.status("Starting the stack…") as status:
        statuses = stack.up(postgres=postgres, report=status.update)
    _print_status(statuses)
    if postgres:
        console.print(f"PostgreSQL URL: [bold]{stack.postgres.url}[/]")


@stack_app.command("down")
def stack_down(
    wipe: Annotated[
        bool, typer.Option("--wipe", help="Also delete the stack's data (topics, databases).")
    ] = False,
) -> None:
    """Stop what `stack up` started, and only that."""
    for line in _stack().down(wipe=wipe):
        console.print(line)


@stack_app.command("status")
def stack_status() -> None:
    """Show each service: running, stopped or crashed, where, since when, its pid.

    Exits 1 when a service that `up` started has crashed or stopped answering.
    """
    statuses = _stack().status()
    _print_status(statuses)
    if any(s.state in ("crashed", "unresponsive") for s in statuses):
        raise typer.Exit(1)


@stack_app.command("fetch")
def stack_fetch() -> None:
    """Resolve the Apache Kafka jars with Maven into the cache (done once per release)."""
    from infra.kafka.broker import kafka_version, resolve_jars

    with console.status("Resolving Apache Kafka jars…") as status:
        libs = resolve_jars(get_settings().cache_dir, report=status.update)
    console.print(f"Apache Kafka {kafka_version()}: {libs}")


@app.command("demo")
def demo() -> None:
    """Bring the stack up and show it working: a topic, produce, consume with a group."""
    from sangsaeng.demo import run_demo

    run_demo(get_settings(), console)


def main() -> None:
    """Entry point of the `sangsaeng` script."""
    try:
        app()
    except ConfigError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except PlatformError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
