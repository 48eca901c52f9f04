"""The `sangsaeng` app: its command groups, and how errors end (one line, an exit code).

Every `PlatformError` ends as one red line on stderr and exit code 1 (2 for bad
settings), never a traceback.
"""

import sys
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from cli import (
    agreements,
    alerts,
    api,
    audit,
    db,
    demo,
    files,
    gateway,
    ingest,
    orgs,
    push,
    quarantine,
    reference,
    registry,
    simulate,
    sponsorships,
    spool,
    stack,
    suppliers,
    ui,
    views,
)
from cli.output import console, err_console, error
from sangsaeng import __version__
from sangsaeng.db import database_error
from sangsaeng.errors import ConfigError, PlatformError

app = typer.Typer(
    name="sangsaeng",
    help="Sangsaeng (상생): supply-chain data sharing for the win-win smart-factory programme.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for group in (
    stack,
    db,
    registry,
    suppliers,
    gateway,
    spool,
    files,
    reference,
    quarantine,
    views,
    orgs,
    sponsorships,
    agreements,
    audit,
    alerts,
    api,
):
    group.register(app)
for command in (simulate, push, ingest, ui, demo):
    command.register(app)


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


def main() -> None:
    """Entry point of the `sangsaeng` script."""
    try:
        app()
    except ConfigError as exc:
        error(str(exc))
        sys.exit(2)
    except PlatformError as exc:
        error(str(exc))
        sys.exit(1)
    except DBAPIError as exc:  # a database error no command classified itself
        error(str(database_error(exc, "running the command")))
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
