"""`sangsaeng files watch`: the file connector for MES exports (CSV, JSON Lines)."""

from pathlib import Path
from typing import Annotated

import typer

from cli.output import console, warning
from cli.platform import settings

app = typer.Typer(
    help="The file connector for MES exports (CSV, JSON Lines).", no_args_is_help=True
)


@app.command("watch")
def files_watch(
    folder: Annotated[
        Path,
        typer.Argument(help="Folder the MES drops exports into.", exists=True, file_okay=False),
    ],
    supplier: Annotated[str, typer.Option("--supplier", help="Supplier id, e.g. S0001.")],
    mapping: Annotated[
        Path,
        typer.Option(
            "--mapping", help="YAML mapping of columns to fields.", exists=True, dir_okay=False
        ),
    ],
    once: Annotated[
        bool, typer.Option("--once", help="Process what is there now, then exit.")
    ] = False,
) -> None:
    """Send the rows of each *.csv / *.jsonl export in FOLDER, then move it to done/ or failed/.

    Refused rows are listed in <file>.report.txt beside the moved file. Resumable: after
    a crash a file continues after its last committed chunk, and the same content
    dropped again is recognised and not sent twice. Logs in to Kafka as
    SANGSAENG_KAFKA_USERNAME / _PASSWORD (the supplier's login from `suppliers add`).
    """
    from connectors.files.connector import watch
    from connectors.files.mapping import Mapping
    from connectors.sdk import SupplierClient

    rules = Mapping.load(mapping)
    client = SupplierClient.from_settings(supplier, settings())

    def said(outcome) -> None:  # noqa: ANN001 - FileOutcome
        where = outcome.moved_to.parent.name if outcome.moved_to else "?"
        console.print(
            f"{outcome.name}: {outcome.rows} rows, {outcome.accepted} accepted, "
            f"{len(outcome.refused)} refused -> {where}/"
            + (f" ({outcome.note})" if outcome.note else "")
        )

    try:
        watch(
            folder,
            client,
            rules,
            once=once,
            on_file=said,
            on_warning=warning,
        )
    finally:
        client.close()


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="files")
