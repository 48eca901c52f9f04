"""`sangsaeng push`: a JSON Lines export sent through the supplier SDK."""

from pathlib import Path
from typing import Annotated

import typer

from cli.output import Format, console, emit, warning
from cli.platform import settings
from schemas.topics import EventType


def push(
    file: Annotated[
        Path,
        typer.Argument(help="JSON Lines file, one event per line.", exists=True, dir_okay=False),
    ],
    supplier: Annotated[str, typer.Option("--supplier", help="Supplier id, e.g. S0001.")],
    event_type: Annotated[EventType, typer.Option("--type", help="The event type of every line.")],
) -> None:
    """Send events from a JSON Lines file through the supplier SDK (spool, then Kafka).

    Valid lines are accepted even if others are refused; refused lines are listed with
    their line number, field and reason (exit 1). Accepted events that the broker could
    not take stay in the local spool and go out with the next push. When the broker
    answers and has no topics for the supplier (not onboarded), the push is refused
    before anything is read or spooled. Logs in to Kafka as SANGSAENG_KAFKA_USERNAME /
    _PASSWORD (the supplier's login, printed once by `sangsaeng suppliers add`).
    """
    from rich.progress import Progress

    from connectors.sdk import SupplierClient
    from connectors.sdk.coerce import max_event_depth
    from connectors.sdk.limits import NotEventJSON, parse_json
    from sangsaeng.errors import TransientError

    client = SupplierClient.from_settings(supplier, settings())
    accepted, refused = 0, []

    def accept(chunk: list[tuple[int, object]]) -> None:
        nonlocal accepted
        ids, rejected = client.send_batch(event_type, [record for _, record in chunk])
        accepted += len(ids)
        refused.extend((chunk[i][0], exc.field or "", exc.reason) for i, exc in rejected)

    try:
        client.require_onboarded()
        chunk: list[tuple[int, object]] = []
        with file.open() as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    chunk.append((number, parse_json(line, max_event_depth())))
                except NotEventJSON as exc:
                    refused.append((number, "", str(exc)))
                if len(chunk) == 1000:
                    accept(chunk)
                    chunk = []
        accept(chunk)
        refused.sort()
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("Forwarding to Kafka", total=client.pending())
                client.flush(progress=lambda n: progress.advance(task, n))
        except TransientError as exc:
            warning(str(exc))
        console.print(
            f"accepted {accepted}, refused {len(refused)}, still spooled {client.pending()}"
        )
    finally:
        client.close()
    if refused:
        rows = [{"line": str(n), "field": f, "reason": r} for n, f, r in refused[:50]]
        emit(rows, ["line", "field", "reason"], Format.TABLE, title=f"Refused lines of {file}")
        if len(refused) > 50:
            console.print(f"… and {len(refused) - 50} more")
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.command("push")(push)
