"""`sangsaeng api serve`: the buyer API (OpenAPI at /docs)."""

from typing import Annotated

import typer

from cli.platform import engine, settings

app = typer.Typer(
    help="The buyer API: views read under the sharing agreements.", no_args_is_help=True
)


@app.command("serve")
def api_serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: from the URL).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: from the URL).")] = None,
) -> None:
    """Run the buyer API in the foreground at SANGSAENG_API_URL (OpenAPI at /docs).

    An empty platform database is upgraded first; one at another revision is refused
    with a line naming `sangsaeng db upgrade`.
    """
    from schemas.registry.server import host_port
    from serving.app import POOL, create_app, serve

    default_host, default_port = host_port(settings().api_url)
    serve(create_app(engine(**POOL)), host or default_host, port or default_port)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="api")
