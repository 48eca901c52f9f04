"""`sangsaeng reference load`: the sites, lines and parts validation checks events against."""

from pathlib import Path
from typing import Annotated

import typer

from cli.output import console
from cli.platform import engine

app = typer.Typer(
    help="Reference data validation checks against: organisations, sites, lines, parts.",
    no_args_is_help=True,
)


@app.command("load")
def reference_load(
    file: Annotated[
        Path,
        typer.Argument(
            help="YAML file with organisations, sites, lines and parts (the simulator "
            "writes one to <state dir>/reference.yaml).",
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Load (upsert) reference data; events naming unknown entries are quarantined.

    The file may list only sites, lines and parts of suppliers onboarded with
    `sangsaeng suppliers add`; a site, line or part naming a supplier that is neither
    onboarded nor listed under the file's organisations is refused, and so is an entry
    that would change a known organisation's role.
    """
    from governance.reference import load_reference, read_reference_file, suppliers_named
    from pipelines.views.refresh import mark_suppliers_stale

    made, data = engine(), read_reference_file(file)
    counts = load_reference(made, data)
    console.print(
        "reference data loaded: " + ", ".join(f"{n} {name}" for name, n in counts.items())
    )
    # Ideal cycle times and go-live dates change what some views computed already.
    stale = mark_suppliers_stale(made, suppliers_named(data))
    if stale:
        console.print(f"{stale} view keys to recompute: run `sangsaeng views refresh`")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="reference")
