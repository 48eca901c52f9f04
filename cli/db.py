"""`sangsaeng db upgrade|current`: the platform's databases and their schema (Alembic)."""

import typer

from cli.output import console
from cli.platform import databases

app = typer.Typer(
    help="The platform database's schema: upgrade it to this release, show where it stands.",
    no_args_is_help=True,
)


@app.command("upgrade")
def db_upgrade() -> None:
    """Bring the platform database (and the registry's, when separate) to this release.

    Idempotent. Runs the Alembic revisions in migrations/versions, then adds the landing
    columns the event contracts gained (generated from the diff between the contracts
    and the tables; old rows get the field's default).
    """
    from migrations.schema import upgrade
    from sangsaeng.db import make_engine

    for role, url in databases().items():
        made = make_engine(url)
        outcome = upgrade(made)
        made.dispose()
        for change in outcome.changes:
            console.print(f"  {change}")
        if outcome.changed:
            console.print(
                f"{role} database: upgraded from {outcome.before or 'an empty database'} to "
                f"revision {outcome.after}"
                + (f", {len(outcome.changes)} column change(s)" if outcome.changes else ""),
                soft_wrap=True,
            )
        else:
            console.print(f"{role} database: already at revision {outcome.after}; nothing to do")


@app.command("current")
def db_current() -> None:
    """Show each database's revision and whether it matches this release (exit 1 if not)."""
    from migrations.schema import status
    from sangsaeng.db import make_engine

    behind = False
    for role, url in databases().items():
        made = make_engine(url)
        found = status(made)
        made.dispose()
        console.print(
            f"{role} database: revision {found.revision or '(none)'}; this release: {found.head}"
        )
        # The registry's own database is told apart from the platform's by its role.
        console.print(
            found.explain().replace("the platform database", f"the {role} database", 1),
            soft_wrap=True,
        )
        behind = behind or not found.current
    if behind:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
