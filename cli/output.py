"""What the CLI prints: the consoles, one-line errors, and listings as table, JSON or CSV.

Every list command takes `--format table|json|csv` and hands its rows here. Tables wrap
long text in its own column and never cut an id column, whatever the terminal width
(when the ids alone are wider than the terminal, the table is printed wider).
"""

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class Format(StrEnum):
    """How a listing is printed."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FormatOption = Annotated[
    Format, typer.Option("--format", help="table (for people), json or csv (for programs).")
]


def error(message: str) -> None:
    """One red line on stderr, no traceback."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warning(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def emit(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    *,
    title: str = "",
    ids: Sequence[str] = (),
    right: Sequence[str] = (),
    lines: bool = False,
    markup: Sequence[str] = (),
) -> None:
    """Print `rows` (dicts keyed by `columns`) in `fmt`.

    `ids`: columns never wrapped or cut (ids a user copies); `right`: numbers; `markup`:
    columns whose text carries rich markup (styles), printed as such in tables.
    """
    if fmt is Format.JSON:
        sys.stdout.write(
            json.dumps([{c: _plain(r.get(c)) for c in columns} for r in rows], indent=2) + "\n"
        )
        return
    if fmt is Format.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow(
                [
                    json.dumps(_plain(r.get(c))) if isinstance(r.get(c), list | dict) else r.get(c)
                    for c in columns
                ]
            )
        return
    table = Table(title=title or None, title_justify="left", show_lines=lines)
    for c in columns:
        if c in ids:
            width = max([len(c), *(len(str(r.get(c) or "")) for r in rows)])
            table.add_column(c, no_wrap=True, min_width=width)
        else:
            table.add_column(c, overflow="fold", justify="right" if c in right else "left")
    for r in rows:
        table.add_row(*(str(r.get(c)) if c in markup else _cell(r.get(c)) for c in columns))
    # Rich shrinks even no-wrap columns when their widths add up to more than the
    # terminal: then print wider than the terminal (which wraps the lines) instead.
    needed = Measurement.get(console, console.options.update_width(100_000), table).minimum
    if needed > console.width:
        table.width = needed
    console.print(table, crop=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return escape("\n".join(str(v) for v in value))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(str(value))
