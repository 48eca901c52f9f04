"""`sangsaeng views list|refresh|show`: the shared supply-chain views."""

from datetime import date, datetime
from typing import Annotated, Any

import typer

from cli.output import Format, FormatOption, console, emit, error, warning
from cli.platform import engine, settings

app = typer.Typer(
    help="The shared supply-chain views built from the landed events (README, Views).",
    no_args_is_help=True,
)


def _names() -> list[str]:
    from pipelines.views.catalog import VIEWS

    return [v.name for v in VIEWS]


def _known(name: str) -> str:
    if name not in _names():
        raise typer.BadParameter(f"no view {name!r}; the views are: {', '.join(_names())}")
    return name


@app.command("list")
def views_list(fmt: FormatOption = Format.TABLE) -> None:
    """Every view with what it holds, its rows and the touched keys waiting for a refresh."""
    from sqlalchemy import func, select

    from pipelines.views.catalog import ordered
    from pipelines.views.refresh import stale_keys

    made = engine()
    waiting = stale_keys(made)
    rows = []
    with made.connect() as conn:
        for view in ordered():
            count = conn.scalar(select(func.count()).select_from(view.table))
            rows.append(
                {
                    "view": view.name,
                    "rows": count,
                    "stale keys": waiting.get(view.name, 0),
                    "holds": view.title,
                }
            )
    emit(
        rows,
        ["view", "rows", "stale keys", "holds"],
        fmt,
        title="Views",
        ids=["view"],
        right=["rows", "stale keys"],
    )


@app.command("refresh")
def views_refresh(
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild every key, not only those ingest touched.")
    ] = False,
    view: Annotated[
        list[str] | None,
        typer.Option("--view", help="Only this view (repeatable); the views it reads first."),
    ] = None,
) -> None:
    """Recompute the view keys ingest touched since the last refresh (or all: --full).

    Runs the Dagster `views` job in this process, on the state dir's instance (the run
    shows in `sangsaeng ui`), then the views' checks: totals against landing, ratios in
    [0, 1], no touched key left. Exits with status 1 when a check finds a view wrong.
    """
    from orchestration.run import run_views

    names = [_known(v) for v in view] if view else None
    engine().dispose()  # the database is at this release (upgraded when empty)
    report = run_views(settings(), names, full=full)
    print_views_report(report)
    if report.broken:
        raise typer.Exit(1)


def print_views_report(report: Any) -> None:
    """One line per view refreshed, then each failed check with a few sample rows."""
    if report.run_id is None:
        console.print("views: no key touched since the last refresh")
        return
    for done in report.refreshed:
        what = "rebuilt" if done.full else f"{done.keys} touched keys, {done.ranges} ranges"
        console.print(
            f"{done.view}: {what}, {done.rows:,} rows written, {done.total_rows:,} in all"
        )
    for failed in report.failed_checks:
        say = error if failed.severity == "ERROR" else warning
        say(f"{failed.view}: check {failed.check} failed: {failed.summary}")
        if failed.samples:
            columns = list(dict.fromkeys(k for row in failed.samples for k in row))
            emit(failed.samples, columns, Format.TABLE, title=f"{failed.view}: {failed.check}")


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@app.command("show")
def views_show(
    name: Annotated[str, typer.Argument(help="The view, e.g. production_daily (`views list`).")],
    supplier: Annotated[str | None, typer.Option(help="Only this supplier, e.g. S0001.")] = None,
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Only periods from this day (YYYY-MM-DD)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.", min=1)] = 200,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Print a view's rows (oldest period first)."""
    from pipelines.views.catalog import BY_NAME
    from pipelines.views.read import view_rows

    table = BY_NAME[_known(name)].table
    rows = view_rows(
        engine(), name, supplier_id=supplier, since=since.date() if since else None, limit=limit
    )
    columns = [c.name for c in table.columns]
    shown = [{c: _cell(r[c]) for c in columns} for r in rows] if fmt is Format.TABLE else rows
    numeric = [c.name for c in table.columns if c.type.python_type in (int, float)]
    emit(shown, columns, fmt, title=name, ids=["supplier_id"], right=numeric)
    if fmt is Format.TABLE:
        console.print(
            f"{len(rows)} rows" + (" (raise --limit for more)" if len(rows) == limit else "")
        )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="views")
