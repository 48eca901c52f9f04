"""`sangsaeng orgs add|list|add-key`: the programme's organisations and their API keys."""

from typing import Annotated

import typer

from cli.output import Format, FormatOption, console, emit
from cli.suppliers import parties

app = typer.Typer(
    help="The programme's organisations (suppliers, buyers, operator, ministry) and their "
    "API keys.",
    no_args_is_help=True,
)
ROLES = "supplier, buyer, operator or ministry"


def _role(value: str):  # noqa: ANN202 - keeps imports out of `--help`
    from governance.models import Role

    try:
        return Role(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a role: {ROLES}") from None


@app.command("add")
def orgs_add(
    org_id: Annotated[str, typer.Argument(help="Organisation id: A-Z, a-z, 0-9, _ or -.")],
    role: Annotated[str, typer.Option(help=f"Its role: {ROLES}.")],
    name: Annotated[str, typer.Option(help="Its name.")],
    sector: Annotated[str | None, typer.Option(help="Sector (suppliers).")] = None,
) -> None:
    """Record an organisation (idempotent: a known one keeps its record). A supplier is
    better onboarded with `sangsaeng suppliers add`, which also creates its topics."""
    created = parties().add_organisation(org_id, name, _role(role), sector)
    console.print(f"{org_id}: " + ("recorded" if created else "already known"))


@app.command("list")
def orgs_list(
    role: Annotated[str | None, typer.Option(help=f"Only this role: {ROLES}.")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List the organisations."""
    rows = [
        {"org": o.org_id, "name": o.name, "role": o.role, "sector": o.sector, "since": o.created_at}
        for o in parties().organisations(_role(role) if role else None)
    ]
    emit(rows, ["org", "name", "role", "sector", "since"], fmt, title="Organisations", ids=["org"])


@app.command("add-key")
def orgs_add_key(
    org_id: Annotated[str, typer.Argument(help="A recorded organisation.")],
) -> None:
    """Issue an API key for the buyer API (and a supplier's gateway); printed once,
    stored hashed."""
    console.print(
        f"API key for {org_id} (shown only now): [bold]{parties().issue_org_key(org_id)}[/]"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="orgs")
