"""`sangsaeng sponsorships add|list`: buyers co-funding suppliers' smart factories."""

from datetime import date
from typing import Annotated

import typer

from cli.output import Format, FormatOption, console, emit
from cli.platform import engine

app = typer.Typer(
    help="Sponsorships: a buyer co-funding a supplier's smart factory (creates the default "
    "sharing agreement).",
    no_args_is_help=True,
)


def _split(value: str):  # noqa: ANN202 - keeps imports out of `--help`
    from governance.sharing import Split

    try:
        government, buyer, sme = (int(x) for x in value.split("/"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: give government/buyer/SME shares in per cent, e.g. 30/30/40"
        ) from None
    return Split(government, buyer, sme)


@app.command("add")
def sponsorships_add(
    buyer: Annotated[str, typer.Option(help="The sponsoring buyer's id.")],
    supplier: Annotated[str, typer.Option(help="The supplier's id.")],
    project: Annotated[str, typer.Option(help="The project's name.")],
    go_live: Annotated[
        str | None, typer.Option(help="Smart-factory go-live date, YYYY-MM-DD.")
    ] = None,
    split: Annotated[
        str, typer.Option(help="Cost split government/buyer/SME in per cent (SME at most 40).")
    ] = "30/30/40",
) -> None:
    """Record a sponsorship and its default agreement: every shareable view, every
    purpose, the parts shipped to the buyer, from today, open-ended. The supplier may
    narrow or revoke it at any time (`/v1/me/agreements`)."""
    from governance.sharing import add_sponsorship
    from pipelines.views.refresh import mark_suppliers_stale
    from serving.app import programme_today

    try:
        live = date.fromisoformat(go_live) if go_live else None
    except ValueError:
        raise typer.BadParameter(f"--go-live {go_live!r} is not YYYY-MM-DD") from None
    made = engine()
    sponsorship_id, agreement_id = add_sponsorship(
        made, buyer, supplier, project, programme_today(), go_live=live, split=_split(split)
    )
    # the impact roll-up per sponsor counts the supplier for this buyer from the next refresh
    stale = mark_suppliers_stale(made, [supplier])
    console.print(f"sponsorship {sponsorship_id}: {buyer} sponsors {supplier} ({project})")
    console.print(f"default agreement {agreement_id}: all views and purposes, parts shipped")
    if stale:
        console.print(f"{stale} view keys to refresh: `sangsaeng views refresh`")


@app.command("list")
def sponsorships_list(fmt: FormatOption = Format.TABLE) -> None:
    """List the sponsorships."""
    from sqlalchemy import select

    from governance.models import Sponsorship

    t = Sponsorship.__table__
    with engine().connect() as conn:
        found = conn.execute(select(t).order_by(t.c.buyer_id, t.c.supplier_id)).all()
    rows = [
        {
            "sponsorship": r.sponsorship_id,
            "buyer": r.buyer_id,
            "supplier": r.supplier_id,
            "project": r.project,
            "go-live": r.go_live,
            "split gov/buyer/SME": f"{r.government_share}/{r.buyer_share}/{r.sme_share}",
        }
        for r in found
    ]
    emit(
        rows,
        list(rows[0]) if rows else ["sponsorship"],
        fmt,
        title="Sponsorships",
        ids=["sponsorship"],
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sponsorships")
