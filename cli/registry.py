"""`sangsaeng registry ...` (the schema registry service and its users) and
`sangsaeng schemas ...` (the event contracts in it)."""

import json
from enum import StrEnum
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


class RoleChoice(StrEnum):
    """A registry user's role (as `schemas.registry.auth.Role`, kept out of `--help`'s imports)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@registry_app.command("add-user")
def registry_add_user(
    name: Annotated[str, typer.Argument(help="User name (1-64 characters, no ':').")],
    role: Annotated[
        RoleChoice | None,
        typer.Option(
            help="read: look schemas up (the SDK, ingest); write: also register; admin: also "
            "delete and configure. Default: read for a new user, unchanged for an existing one."
        ),
    ] = None,
) -> None:
    """Create a registry user, or reset an existing one's password; prints the password once.

    Written straight to the registry's database (SANGSAENG_REGISTRY_DATABASE_URL); every
    running registry honours the change within seconds. Refuses to demote the last admin.
    """
    from schemas.registry.auth import Credentials, Role

    credentials = Credentials(registry_engine())
    password = credentials.add_user(name, role=Role(role) if role else None)
    given = dict(credentials.users())[name]
    console.print(
        f"user [bold]{escape(name)}[/], role [bold]{given}[/], password [bold]{password}[/] "
        "(shown only now)"
    )
    console.print(f"clients use it as SANGSAENG_REGISTRY_AUTH={escape(name)}:<password>")


@registry_app.command("remove-user")
def registry_remove_user(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Delete a registry user; every running registry refuses it within seconds.

    Refuses to remove the last admin (make another with `add-user NAME --role admin` first).
    """
    from schemas.registry.auth import Credentials

    Credentials(registry_engine()).remove_user(name)
    console.print(f"removed registry user [bold]{escape(name)}[/]")


@registry_app.command("reset-admin")
def registry_reset_admin() -> None:
    """Give the `admin` user a new password and write it to the state dir's credentials file.

    The way out when `<state_dir>/registry-credentials` no longer matches the registry's
    database (HTTP 401, error 40101): resets `admin` (made if missing, role admin) straight
    in SANGSAENG_REGISTRY_DATABASE_URL, then rewrites the file (mode 0600). Running
    registries accept the new password within seconds; no restart needed.
    """
    from schemas.registry.auth import Credentials

    current = settings()
    made = Credentials(registry_engine()).reset_admin(current.state_dir)
    console.print(f"reset the registry user [bold]admin[/]; its credentials are in {made}")
    if current.registry_auth is not None:
        console.print(
            "[yellow]note[/]: SANGSAENG_REGISTRY_AUTH is set and takes precedence over the file"
        )


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
