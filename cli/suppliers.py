"""`sangsaeng suppliers add|list|offboard`: onboarding suppliers (record, topics, Kafka
login and ACLs, gateway key) and taking their broker access away."""

from typing import Annotated

import typer

from cli.output import Format, FormatOption, console, emit
from cli.platform import engine, settings

app = typer.Typer(
    help="Onboard suppliers (record, topics, Kafka login, gateway key); offboard them.",
    no_args_is_help=True,
)


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
    """Onboard a supplier: create its topics, its Kafka login (SCRAM-SHA-512) with ACLs
    on its own topics only, record it, issue its gateway API key.

    The login and the key are printed once. Idempotent: a known supplier keeps its
    record, login and key; missing topics and ACLs are created. Then load its sites,
    lines and parts with `sangsaeng reference load`.
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
    if done.kafka_login:
        console.print(
            "Kafka login for its MES (shown only now): "
            f"SANGSAENG_KAFKA_USERNAME=[bold]{done.kafka_login.username}[/] "
            f"SANGSAENG_KAFKA_PASSWORD=[bold]{done.kafka_login.password}[/]"
        )
    elif done.kafka_logins:
        console.print("it already has a Kafka login (offboard and add again for a new one)")
    else:
        console.print("the broker takes no logins (PLAINTEXT): no Kafka login made")
    if done.api_key:
        console.print(f"gateway API key (shown only now): [bold]{done.api_key}[/]")
    else:
        console.print("it already has a gateway key; `sangsaeng gateway add-key` issues another")


@app.command("offboard")
def suppliers_offboard(
    supplier_id: Annotated[str, typer.Argument(help="The supplier to take broker access from.")],
) -> None:
    """Take a supplier's Kafka access away: delete its login and every ACL naming it.

    Effective at once: the broker refuses its next request, open connections included.
    Its topics, rows and gateway keys stay (revoke keys with `sangsaeng gateway
    revoke-key --supplier ID --all`); `sangsaeng suppliers add` gives it a new login.
    """
    from connectors.onboarding import offboard

    removed = offboard(settings().kafka_bootstrap, supplier_id)
    console.print(f"supplier {supplier_id}: Kafka login deleted, {removed} ACL(s) removed")


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
