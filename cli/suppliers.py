"""`sangsaeng suppliers add|list`: onboarding suppliers (record, topics, gateway key)."""

from typing import Annotated

import typer

from cli.output import Format, FormatOption, console, emit
from cli.platform import engine, settings

app = typer.Typer(help="Onboard suppliers: record, topics, gateway key.", no_args_is_help=True)


def parties():  # noqa: ANN201 - keeps imports out of `--help`
    """The organisation records of the platform database."""
    from governance.parties import Parties

    return Parties(engine())


@app.command("add")
def suppliers_add(
    supplier_id: Annotated[str, typer.Argument(help="Supplier id: A-Z, a-z, 0-9, _ or -.")],
    name: Annotated[str, typer.Option(help="The supplier's name.")],
    sector: Annotated[str, typer.Option(help="Sector, e.g. 'auto parts', 'masks'.")],
) -> None:
    """Onboard a supplier: create its topics, record it, issue its gateway API key.

    Idempotent: a known supplier keeps its record and key; missing topics are created.
    Then load its sites, lines and parts with `sangsaeng reference load`.
    """
    from connectors.onboarding import onboard

    current = settings()
    done = onboard(
        parties(),
        current.kafka_bootstrap,
        supplier_id,
        name,
        sector,
        partitions=current.topic_partitions,
        retention_days=current.topic_retention_days,
        max_message_bytes=current.topic_max_message_bytes,
    )
    console.print(
        f"supplier {supplier_id}: "
        + ("onboarded" if done.created else "already known")
        + f"; {len(done.topics_created)} topic(s) created"
    )
    if done.api_key:
        console.print(f"gateway API key (shown only now): [bold]{done.api_key}[/]")
    else:
        console.print("it already has a gateway key; `sangsaeng gateway add-key` issues another")


@app.command("list")
def suppliers_list(fmt: FormatOption = Format.TABLE) -> None:
    """List the onboarded suppliers."""
    from governance.models import Role

    rows = [
        {"supplier": o.org_id, "name": o.name, "sector": o.sector, "onboarded (UTC)": o.created_at}
        for o in parties().organisations(Role.SUPPLIER)
    ]
    emit(
        rows,
        ["supplier", "name", "sector", "onboarded (UTC)"],
        fmt,
        title="Suppliers",
        ids=["supplier"],
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="suppliers")
