"""`sangsaeng gateway serve|add-key|revoke-key`: the HTTP ingest gateway for suppliers' MES."""

from typing import Annotated

import typer

from cli.output import console
from cli.platform import engine, settings
from cli.suppliers import parties

app = typer.Typer(help="The HTTP ingest gateway for suppliers' MES.", no_args_is_help=True)


@app.command("add-key")
def gateway_add_key(
    supplier: Annotated[str, typer.Option("--supplier", help="An onboarded supplier id.")],
) -> None:
    """Issue a new gateway API key for a supplier; printed once, stored hashed."""
    console.print(
        f"gateway API key for {supplier} (shown only now): [bold]{parties().issue_key(supplier)}[/]"
    )


# What `revoke-key --help` promises; `governance.parties.KEY_CACHE_SECONDS` (not imported
# here, so `--help` stays instant; a unit test keeps the two equal).
KEY_CACHE_SECONDS_SHOWN = 5


@app.command("revoke-key")
def gateway_revoke_key(
    supplier: Annotated[str, typer.Option("--supplier", help="The supplier the key belongs to.")],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The key to revoke (ssk_...); asked for, without echo, when neither this "
            "nor --all is given (so it stays out of the shell's history).",
        ),
    ] = None,
    all_keys: Annotated[
        bool,
        typer.Option("--all", help="Revoke every key of the supplier in force instead."),
    ] = False,
) -> None:
    """Revoke a supplier's gateway key: running gateways refuse it within
    5 seconds (the time they keep a key found valid).

    Issue the supplier a new key with `sangsaeng gateway add-key`. Revoking a key
    already revoked changes nothing; a key that is not the supplier's is refused (exit 1).
    """
    if all_keys and key is not None:
        raise typer.BadParameter("give --key or --all, not both")
    if all_keys:
        count = parties().revoke_all_keys(supplier)
        console.print(
            f"{supplier}: {count} key(s) revoked" if count else f"{supplier}: no key in force"
        )
        return
    if key is None:
        key = typer.prompt(f"key of {supplier} to revoke", hide_input=True)
    revoked = parties().revoke_key(supplier, key)
    console.print(
        f"{supplier}: key revoked; running gateways refuse it within {KEY_CACHE_SECONDS_SHOWN} s"
        if revoked
        else f"{supplier}: that key was already revoked"
    )


@app.command("serve")
def gateway_serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: from the URL).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: from the URL).")] = None,
) -> None:
    """Run the gateway in the foreground at SANGSAENG_GATEWAY_URL (OpenAPI at /docs).

    An empty platform database is upgraded first; one at another revision is refused
    with a line naming `sangsaeng db upgrade`.
    """
    from connectors.gateway.server import serve
    from schemas.registry.server import host_port

    current = settings()
    engine().dispose()
    default_host, default_port = host_port(current.gateway_url)
    serve(current, host or default_host, port or default_port)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="gateway")
