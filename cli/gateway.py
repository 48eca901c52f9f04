"""`sangsaeng gateway serve|add-key`: the HTTP ingest gateway for suppliers' MES."""

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
