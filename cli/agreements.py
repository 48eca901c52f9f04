"""`sangsaeng agreements list|revoke`: the sharing agreements, for the operator."""

from typing import Annotated

import typer

from cli.output import Format, FormatOption, console, emit
from cli.platform import engine

app = typer.Typer(
    help="Sharing agreements: which views a supplier shares with a buyer, for which "
    "purposes and parts.",
    no_args_is_help=True,
)
COLUMNS = [
    "agreement",
    "supplier",
    "buyer",
    "views",
    "purposes",
    "parts",
    "valid from",
    "valid to",
    "status",
]


@app.command("list")
def agreements_list(
    supplier: Annotated[str | None, typer.Option(help="Only this supplier's.")] = None,
    buyer: Annotated[str | None, typer.Option(help="Only those with this buyer.")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List the agreements."""
    from governance.sharing import read_agreements

    with engine().connect() as conn:
        rows = [a.as_row() for a in read_agreements(conn, supplier_id=supplier, buyer_id=buyer)]
    emit(rows, COLUMNS, fmt, title="Sharing agreements", ids=["agreement"], lines=True)


@app.command("revoke")
def agreements_revoke(
    agreement_id: Annotated[str, typer.Argument(help="The agreement's id (`agreements list`).")],
) -> None:
    """Revoke an agreement at once (the buyer's next read no longer sees its rows)."""
    from governance.models import utcnow
    from governance.sharing import revoke

    with engine().begin() as conn:
        done = revoke(conn, agreement_id, utcnow())
    console.print(f"agreement {done.agreement_id} ({done.supplier_id} -> {done.buyer_id}): revoked")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="agreements")
