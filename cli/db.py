"""`sangsaeng db upgrade|current`: the platform database's schema (Alembic migrations)."""

import typer

from cli.output import console
from cli.platform import engine

app = typer.Typer(
    help="The platform database's schema: upgrade it to this release, show where it stands.",
    no_args_is_help=True,
)


@app.command("upgrade")
def db_upgrade() -> None:
    """Bring the platform database to this release (idempotent).

    Runs the Alembic revisions in migrations/versions, then adds the landing columns the
    event contracts gained (generated from the diff between the contracts and the
    tables; old rows get the field's default).
    """
    from migrations.schema import upgrade

    made = engine(ensure=False)
    outcome = upgrade(made)
    for change in outcome.changes:
        console.print(f"  {change}")
    if outcome.changed:
        console.print(
            f"upgraded from {outcome.before or 'an empty database'} to revision "
            f"{outcome.after}"
            + (f", {len(outcome.changes)} contract column change(s)" if outcome.changes else "")
        )
    else:
        console.print(f"already at revision {outcome.after}; nothing to do")
    made.dispose()


@app.command("current")
def db_current() -> None:
    """Show the database's revision and whether it matches this release (exit 1 if not)."""
    from migrations.schema import status

    made = engine(ensure=False)
    found = status(made)
    made.dispose()
    console.print(f"revision {found.revision or '(none)'}; this release: {found.head}")
    console.print(found.explain(), soft_wrap=True)
    if not found.current:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
