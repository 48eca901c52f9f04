"""`sangsaeng spool list|status|retry|drop`: the local spools' dead letters (events the
broker refused for good) and what still waits for the broker."""

from pathlib import Path
from typing import Annotated

import typer

from cli.output import Format, FormatOption, console, emit, warning
from cli.platform import settings

app = typer.Typer(
    help="The local spools (<state_dir>/spool): events waiting for the broker, and those "
    "it refused for good (dead letters), to retry or drop.",
    no_args_is_help=True,
)

SupplierFilter = Annotated[str | None, typer.Option(help="Only this supplier, e.g. S0001.")]
Supplier = Annotated[str, typer.Option("--supplier", help="The supplier whose spool, e.g. S0001.")]
Seqs = Annotated[
    list[int] | None,
    typer.Option("--seq", help="Only this dead letter (its seq in `spool list`); repeatable."),
]


def _folder() -> Path:
    from connectors.sdk.spool import spool_folder

    return spool_folder(settings().state_dir)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


@app.command("list")
def spool_list(supplier: SupplierFilter = None, fmt: FormatOption = Format.TABLE) -> None:
    """Show the dead letters: events the broker refused for good, with its reason.

    The table ends with each spool's pending and dead-lettered counts.
    """
    from connectors.sdk.spool import dead_letters_in, spool_statuses

    folder = _folder()
    rows = [
        {
            "seq": str(dead.seq) if fmt is Format.TABLE else dead.seq,
            "supplier": supplier_id,
            "type": dead.event_type,
            "event id": dead.event_id,
            "topic": dead.topic,
            "bytes": dead.size,
            "refused at": dead.refused_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "reason": dead.reason,
        }
        for supplier_id, dead in dead_letters_in(folder, supplier)
    ]
    emit(
        rows,
        ["seq", "supplier", "type", "event id", "topic", "bytes", "refused at", "reason"],
        fmt,
        title="Dead letters (refused by the broker for good)",
        ids=["seq", "supplier", "event id"],
        right=["bytes"],
        lines=True,
    )
    if fmt is Format.TABLE:
        statuses = spool_statuses(folder, supplier)
        console.print(
            "; ".join(
                f"{s.supplier_id}: {s.pending:,} pending, {_plural(s.dead_letters, 'dead letter')}"
                for s in statuses
            )
            or f"no spool in {folder}"
        )


@app.command("status")
def spool_status(supplier: SupplierFilter = None, fmt: FormatOption = Format.TABLE) -> None:
    """Each spool's events waiting for the broker (pending) and its dead letters."""
    from connectors.sdk.spool import spool_statuses

    rows = [
        {
            "supplier": s.supplier_id,
            "pending": s.pending,
            "dead letters": s.dead_letters,
            "file": str(s.path),
        }
        for s in spool_statuses(_folder(), supplier)
    ]
    emit(
        rows,
        ["supplier", "pending", "dead letters", "file"],
        fmt,
        title="Spools",
        ids=["supplier"],
        right=["pending", "dead letters"],
    )


@app.command("retry")
def spool_retry(supplier: Supplier, seq: Seqs = None) -> None:
    """Move dead letters back to the tail of the spool, to be forwarded again.

    All of the supplier's, or the --seq ones: after raising the topic's limit, say.
    """
    from connectors.sdk.spool import retry_dead_letters

    moved, pending = retry_dead_letters(_folder(), supplier, seq)
    if seq and moved < len(set(seq)):
        warning(f"{len(set(seq)) - moved} of the given seqs are not dead letters of {supplier}")
    console.print(
        f"moved {_plural(moved, 'dead letter')} of {supplier} back to its spool "
        f"({pending:,} pending): a running gateway forwards them within a second, "
        "otherwise the supplier's next flush does"
    )


@app.command("drop")
def spool_drop(
    supplier: Supplier,
    seq: Seqs = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete dead letters for good (all of the supplier's, or the --seq ones); asks first."""
    from connectors.sdk.spool import dead_letters_in, drop_dead_letters

    folder = _folder()
    chosen = [d for _, d in dead_letters_in(folder, supplier) if not seq or d.seq in seq]
    if not chosen:
        console.print(f"no dead letters of {supplier} to drop")
        return
    if not yes:
        typer.confirm(
            f"drop {_plural(len(chosen), 'dead letter')} of {supplier} for good?", abort=True
        )
    dropped = drop_dead_letters(folder, supplier, [d.seq for d in chosen])
    console.print(f"dropped {_plural(dropped, 'dead letter')} of {supplier}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="spool")
