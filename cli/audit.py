"""`sangsaeng audit verify`: check the audit trail's hash chain."""

import typer

from cli.output import console, error
from cli.platform import engine

app = typer.Typer(help="The audit trail of reads of the buyer API.", no_args_is_help=True)


@app.command("verify")
def audit_verify() -> None:
    """Walk the audit trail's hash chain from the first row; report the first broken
    link (a row edited, deleted or inserted) and exit 1, or how many rows hold."""
    from governance.audit import verify

    found = verify(engine())
    if found.intact:
        console.print(f"audit trail intact: {found.rows:,} rows, every link holds")
        return
    error(
        f"audit trail broken at row {found.broken_seq}: {found.problem} "
        f"({found.rows:,} rows before it hold)"
    )
    raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")
