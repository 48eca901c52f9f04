"""`sangsaeng registry ...` (the schema registry service and its users) and
`sangsaeng schemas ...` (the event contracts in it)."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cli.output import Format, FormatOption, console, emit
from cli.platform import registry_engine, settings
from sangsaeng.errors import PlatformError

registry_app = typer.Typer(help="The Confluent-compatible schema registry.", no_args_is_help=True)
schemas_app = typer.Typer(
    help="The event contracts (schemas/avro/*.avsc) in the schema registry.", no_args_is_help=True
)


@registry_app.command("serve")
def registry_serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: from the URL).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: from the URL).")] = None,
) -> None:
    """Run the registry in the foreground at SANGSAENG_SCHEMA_REGISTRY_URL (OpenAPI at /docs).

    Keeps schemas and users in SANGSAENG_REGISTRY_DATABASE_URL (a SQLite file of its own
    in the state dir by default). An empty database is upgraded first; one at another
    revision is refused with a line naming `sangsaeng db upgrade`.
    """
    from schemas.registry.server import host_port, serve

    current = settings()
    registry_engine().dispose()
    default_host, default_port = host_port(current.schema_registry_url)
    serve(current, host or default_host, port or default_port)


@registry_app.command("add-user")
def registry_add_user(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Create (or reset) a user who may write to the registry; prints its password once."""
    from schemas.registry.auth import Credentials

    password = Credentials(registry_engine()).add_user(name)
    console.print(f"user [bold]{name}[/], password [bold]{password}[/] (shown only now)")
    console.print(f"clients use it as SANGSAENG_REGISTRY_AUTH={name}:<password>")


def registry_client():  # noqa: ANN201 - keeps imports out of `--help`
    """A registry client with the local write credentials (if any)."""
    from schemas.registry.auth import client_credentials
    from schemas.registry.client import RegistryClient

    current = settings()
    return RegistryClient(current.schema_registry_url, client_credentials(current))


@schemas_app.command("register")
def schemas_register(fmt: FormatOption = Format.TABLE) -> None:
    """Register every contract; prints subject, version and id.

    Fails with the compatibility reasons when a changed contract breaks the subject's
    rule (BACKWARD_TRANSITIVE unless configured otherwise).
    """
    from schemas.contracts import register_contracts

    done = register_contracts(registry_client())
    rows = [
        {
            "event type": c.event_type.value,
            "subject": c.subject,
            "version": str(c.version),
            "id": str(c.schema_id),
        }
        for c in done
    ]
    emit(
        rows,
        ["event type", "subject", "version", "id"],
        fmt,
        title="Registered contracts",
        ids=["subject"],
    )


@schemas_app.command("check")
def schemas_check(
    file: Annotated[
        Path, typer.Argument(help="An .avsc file (a record schema).", exists=True, dir_okay=False)
    ],
) -> None:
    """Would the registry accept this schema under its subject? Exit 1 with the reasons if not."""
    from schemas.registry.client import RegistryClientError
    from schemas.serde import full_name

    text = file.read_text()
    try:
        subject = full_name(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise PlatformError(f"{file} is not an Avro record schema (JSON with a name)") from None
    client = registry_client()
    try:
        problems = client.compatibility(subject, text)
    except RegistryClientError as exc:
        if exc.error_code != 40401:
            raise
        console.print(f"[green]accepted[/]: {subject} is a new subject (version 1)")
        return
    if problems:
        console.print(f"[bold red]refused[/] under {subject}:")
        for problem in problems:
            console.print(f"  - {escape(problem)}")
        raise typer.Exit(1)
    console.print(f"[green]accepted[/]: compatible with {subject}")


@schemas_app.command("list")
def schemas_list(fmt: FormatOption = Format.TABLE) -> None:
    """List the registry's subjects with their latest version, id and compatibility level."""
    client = registry_client()
    rows = []
    for subject in client.subjects():
        latest = client.latest(subject)
        rows.append(
            {
                "subject": subject,
                "latest version": str(latest["version"]),
                "id": str(latest["id"]),
                "fields": str(len(json.loads(latest["schema"]).get("fields", []))),
                "compatibility": client.level(subject),
            }
        )
    emit(
        rows,
        ["subject", "latest version", "id", "fields", "compatibility"],
        fmt,
        title=f"Schema registry at {client.url}",
        ids=["subject"],
    )


def register(root: typer.Typer) -> None:
    root.add_typer(registry_app, name="registry")
    root.add_typer(schemas_app, name="schemas")
