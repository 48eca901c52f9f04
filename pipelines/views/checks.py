"""The checks every view answers to, in SQL: its totals reconcile with the landing
tables, its ratios lie in [0, 1], and no key ingest touched was left unrefreshed.

Each check reads only what the view declares (`View.totals`, `View.ratios`) and returns
a `CheckOutcome`: passed or not, how much was looked at, how much offends, and a few
sample offending rows (the Dagster asset checks show them; `sangsaeng views show` the
rest). Nothing here imports Dagster: orchestration/ wraps these as asset checks.

Totals: for each (view column, event type, landing column), Σ of the view column over
all the view's rows must equal Σ of the landing column over the whole landing table
("event_id" as the landing column means the landing rows counted), per supplier when
both tables have `supplier_id`. Both sums and the view's touched keys are read in ONE
statement, so they come from one snapshot on SQLite and PostgreSQL alike: rows an
ingest lands after the refresh arrive with touched keys in the same transaction, and a
mismatch seen while keys wait (`CheckOutcome.waiting`) is reported as such, not as a
broken view.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, func, literal_column, or_, select, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from pipelines.landing.models import LANDING
from pipelines.views.base import View
from pipelines.views.keys import view_touched
from pipelines.views.sql import real
from sangsaeng.db import database_error

SAMPLES = 5  # offending rows a check returns
COUNTED = "event_id"  # the landing "column" of a total that counts rows
# Sums of doubles (kWh, hours) are added in another order by the view than by the
# check: equal within this relative tolerance (integer totals are compared exactly).
RELATIVE_TOLERANCE = 1e-9

TOTALS, RATIOS, TOUCHED = "totals_reconcile", "ratios_in_range", "no_key_left_touched"


@dataclass(frozen=True)
class CheckOutcome:
    """What one check found: `failed` of `checked` offend; `samples` are a few of them."""

    passed: bool
    checked: int  # rows, groups or keys looked at
    failed: int  # of those, how many offend
    summary: str  # one line, for people
    samples: list[dict[str, Any]] = field(default_factory=list)
    waiting: int = 0  # touched keys waiting for a refresh when the check read the view


def _plain(value: Any) -> Any:
    """A sample value as JSON and Dagster table records accept it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def _table_with(view: View, column: str) -> Table:
    """The first of the view's tables that has `column`; `ValueError` when none has."""
    for table in view.tables:
        if column in table.c:
            return table
    raise ValueError(f"view {view.name} declares {column!r}, which none of its tables has")


def _waiting(view: View) -> Any:
    touched = view_touched.c
    return (
        select(func.count()).select_from(view_touched).where(touched.view == view.name)
    ).scalar_subquery()


def _totals_query(view: View) -> Any:
    """(group, total index, Σ view, Σ landing, touched keys waiting) in one statement."""
    parts = []
    for i, (view_column, event_type, landing_column) in enumerate(view.totals):
        table = _table_with(view, view_column)
        landing = LANDING[event_type]
        by_supplier = "supplier_id" in table.c and "supplier_id" in landing.c
        measured = (
            func.count() if landing_column == COUNTED else func.sum(landing.c[landing_column])
        )
        # Constants inline (not bound): PostgreSQL cannot type a bare parameter in a UNION.
        index, zero = literal_column(str(i)), real(literal_column("0"))
        for source, group, in_view, in_landing in (
            (table, table.c.get("supplier_id"), real(func.sum(table.c[view_column])), zero),
            (landing, landing.c.get("supplier_id"), zero, real(measured)),
        ):
            part = select(
                (group if by_supplier else literal_column("'all'")).label("grp"),
                index.label("total"),
                in_view.label("in_view"),
                in_landing.label("in_landing"),
            ).select_from(source)
            parts.append(part.group_by(group) if by_supplier else part)
    both = union_all(*parts).subquery()
    return (
        select(
            both.c.grp,
            both.c.total,
            func.coalesce(func.sum(both.c.in_view), 0),
            func.coalesce(func.sum(both.c.in_landing), 0),
            _waiting(view),
        )
        .group_by(both.c.grp, both.c.total)
        .order_by(both.c.grp, both.c.total)
    )


def _differs(in_view: float, in_landing: float) -> bool:
    return abs(in_view - in_landing) > RELATIVE_TOLERANCE * max(1.0, abs(in_landing))


def totals_reconcile(engine: Engine, view: View, *, samples: int = SAMPLES) -> CheckOutcome:
    """Whether each declared total of `view` equals the landing table's (see the module)."""
    if not view.totals:
        return CheckOutcome(True, 0, 0, f"{view.name} declares no totals")
    rows = _read(engine, _totals_query(view), f"checking the totals of view {view.name}")
    waiting = rows[0][4] if rows else 0
    offending = []
    for group, i, in_view, in_landing, _ in rows:
        if _differs(float(in_view), float(in_landing)):
            view_column, event_type, landing_column = view.totals[i]
            what = "rows" if landing_column == COUNTED else landing_column
            offending.append(
                {
                    "supplier_id": group,
                    "view_column": view_column,
                    "landing": f"{event_type.value}.{what}",
                    "in_view": _number(in_view),
                    "in_landing": _number(in_landing),
                    "difference": _number(float(in_view) - float(in_landing)),
                }
            )
    offending.sort(key=lambda r: -abs(r["difference"]))
    totals = ", ".join(v for v, _, _ in view.totals)
    if not offending:
        summary = f"{totals}: equal to the landing tables' for {len(rows)} (supplier, total)"
    else:
        summary = (
            f"{len(offending)} of {len(rows)} (supplier, total) differ from the landing "
            f"tables ({', '.join(sorted({r['view_column'] for r in offending}))})"
        )
        if waiting:
            summary += f"; {waiting} touched keys wait for a refresh (rows landed since)"
    return CheckOutcome(
        not offending, len(rows), len(offending), summary, offending[:samples], waiting
    )


def _number(value: Any) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else value


def _key_columns(table: Table, extra: Sequence[str]) -> list[Any]:
    """The columns a sample row is recognised by: its text and date columns (at most
    six), then `extra`."""
    keys = [
        c for c in table.columns if c.name not in extra and _python_type(c) in (str, date, datetime)
    ][:6]
    return keys + [table.c[name] for name in extra]


def _python_type(column: Any) -> Any:
    try:
        return column.type.python_type
    except NotImplementedError:  # JSON and other types without one
        return None


def ratios_in_range(engine: Engine, view: View, *, samples: int = SAMPLES) -> CheckOutcome:
    """Whether every declared ratio of `view` lies in [0, 1] (NULL means "no ratio": fine)."""
    if not view.ratios:
        return CheckOutcome(True, 0, 0, f"{view.name} declares no ratios")
    by_table: dict[str, list[str]] = {}
    for column in view.ratios:
        by_table.setdefault(_table_with(view, column).name, []).append(column)
    checked = failed = 0
    found: list[dict[str, Any]] = []
    doing = f"checking the ratios of view {view.name}"
    for table in (t for t in view.tables if t.name in by_table):
        columns = by_table[table.name]
        outside: ColumnElement[bool] = or_(*[or_(table.c[c] < 0, table.c[c] > 1) for c in columns])
        counted = select(func.count(), func.count().filter(outside)).select_from(table)
        total, bad = _read(engine, counted, doing)[0]
        checked, failed = checked + total, failed + bad
        if bad and len(found) < samples:
            keys = _key_columns(table, columns)
            query = select(*keys).where(outside).limit(samples - len(found))
            found += [
                {"table": table.name, **{k: _plain(v) for k, v in r._mapping.items()}}
                for r in _read(engine, query, doing)
            ]
    names = ", ".join(view.ratios)
    summary = (
        f"{names}: all in [0, 1] over {checked} rows"
        if not failed
        else f"{failed} of {checked} rows have {names} outside [0, 1]"
    )
    return CheckOutcome(not failed, checked, failed, summary, found)


def no_key_left_touched(engine: Engine, view: View, *, samples: int = SAMPLES) -> CheckOutcome:
    """Whether `view` has no touched (supplier, day) key waiting: after its refresh, any
    left is one the refresh missed, or one an ingest touched since (the next takes it)."""
    touched = view_touched.c
    mine = touched.view == view.name
    doing = f"checking the touched keys of view {view.name}"
    count = _read(engine, select(func.count()).where(mine), doing)[0][0]
    rows = (
        _read(
            engine,
            select(touched.supplier_id, touched.day, touched.touched_at)
            .where(mine)
            .order_by(touched.day, touched.supplier_id)
            .limit(samples),
            doing,
        )
        if count
        else []
    )
    found = [{k: _plain(v) for k, v in r._mapping.items()} for r in rows]
    summary = (
        "no touched key waits for a refresh"
        if not count
        else f"{count} touched (supplier, day) keys wait for a refresh"
    )
    return CheckOutcome(not count, count, count, summary, found, count)


def _read(engine: Engine, query: Any, doing: str) -> list[Any]:
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).all())
    except DBAPIError as exc:
        raise database_error(exc, doing) from exc


Check = Callable[..., CheckOutcome]
CHECKS: dict[str, Check] = {
    TOTALS: totals_reconcile,
    RATIOS: ratios_in_range,
    TOUCHED: no_key_left_touched,
}
DESCRIPTIONS: dict[str, str] = {
    TOTALS: "Each declared total (Σ of a view column over all its rows) equals the landing "
    "table's Σ (or row count), per supplier.",
    RATIOS: "The view's ratio columns lie in [0, 1] (NULL: no ratio, with its reason).",
    TOUCHED: "No (supplier, day) key ingest touched waits for a refresh of this view.",
}


def checks_of(view: View) -> list[str]:
    """The checks `view` declares something for (every view: the touched keys)."""
    names = [TOTALS] if view.totals else []
    names += [RATIOS] if view.ratios else []
    return [*names, TOUCHED]
