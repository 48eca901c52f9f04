"""Refresh the views: recompute the keys ingest touched, or everything (`full`).

One transaction per view: claim (delete, returning) the view's touched keys, map each
(supplier, day) to the key range it makes stale and merge the ranges per supplier, write
them to `view_refresh_key` under a fresh id, delete and re-insert the view's rows in
those ranges, drop the ranges, commit. A crash rolls the claim back with the rest, so
nothing is lost; running it twice recomputes nothing twice. The first statement writes,
so on SQLite the transaction holds the write lock from its start and an ingest landing
meanwhile waits rather than touching a key the claim would miss.
"""

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from pipelines.views.base import Scope, View
from pipelines.views.catalog import ordered, readers
from pipelines.views.keys import SupplierDay, touch, view_refresh_key, view_touched
from pipelines.views.sql import KEEP_ROWCOUNT
from sangsaeng.db import database_error
from sangsaeng.settings import Settings


@dataclass(frozen=True)
class ViewRefresh:
    """What refreshing one view did."""

    view: str
    full: bool
    keys: int  # touched (supplier, day) keys claimed
    ranges: int  # merged key ranges recomputed
    rows: int  # rows written
    total_rows: int  # rows in the view's main table afterwards


def merged_ranges(view: View, keys: Iterable[SupplierDay]) -> list[tuple[str, date, date]]:
    """The disjoint (supplier, first day, last day) ranges `keys` make stale in `view`."""
    spans: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for supplier, day in keys:
        spans[supplier].append(view.key_range(day))
    out: list[tuple[str, date, date]] = []
    for supplier, ranges in sorted(spans.items()):
        ranges.sort()
        first, last = ranges[0]
        for a, b in ranges[1:]:
            if a.toordinal() <= last.toordinal() + 1:
                last = max(last, b)
            else:
                out.append((supplier, first, last))
                first, last = a, b
        out.append((supplier, first, last))
    return out


def _claim(conn: Connection, view: View) -> list[SupplierDay]:
    claimed = conn.execute(
        delete(view_touched)
        .where(view_touched.c.view == view.name)
        .returning(view_touched.c.supplier_id, view_touched.c.day)
    ).all()
    return [(s, d) for s, d in claimed]


def _lock(conn: Connection, view: View) -> None:
    """One refresh of a view at a time (and PostgreSQL's JIT off for it). SQLite: the
    claim's write lock already serialises writers. PostgreSQL: a transaction-scoped
    advisory lock per view, or two refreshes of overlapping ranges could both delete and
    both insert (READ COMMITTED)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"view:{view.name}".encode()).digest()[:8], "big")
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key - (1 << 63)})
        # JIT compiles a statement whose estimated cost is high; a view's statements are
        # many and mid-sized, and compiling one took longer than running it (1.8 s against
        # 0.9 s measured for a maturity query of 31 weeks).
        conn.execute(text("SET LOCAL jit = off"))


def _touch_readers(conn: Connection, view: View, keys: list[SupplierDay], *, full: bool) -> None:
    """Make the views that read `view` stale where it changed, in its own transaction: a
    reader refreshed before this commit (another run, `--view`) then runs again."""
    readers_of = readers(view)
    if not readers_of:
        return
    if full:
        table = view.table
        rows = conn.execute(select(table.c.supplier_id, table.c[view.day_column]).distinct()).all()
        keys = [(s, d) for s, d in rows if s is not None and d is not None]
    touch(conn, {reader.name: keys for reader in readers_of})


def refresh_view(engine: Engine, view: View, settings: Settings, *, full: bool) -> ViewRefresh:
    """Refresh one view in one transaction (see the module's docstring)."""
    try:
        with engine.begin() as conn:
            _lock(conn, view)
            keys = _claim(conn, view)
            if full:
                rows, ranges = view.recompute(conn, Scope(None, settings)), 0
            else:
                spans = merged_ranges(view, keys)
                rows, ranges = 0, len(spans)
                if spans:
                    refresh_id = str(uuid.uuid4())
                    conn.execute(
                        insert(view_refresh_key),
                        [
                            {
                                "refresh_id": refresh_id,
                                "supplier_id": s,
                                "first_day": a,
                                "last_day": b,
                            }
                            for s, a, b in spans
                        ],
                    )
                    # Not ANALYZEd: empty between refreshes, its statistics tell the
                    # planner "a few rows", so it joins the landing tables through their
                    # (supplier_id, business_day) index, which is what a refresh wants.
                    # Told the true count (30 ranges), PostgreSQL chose hash joins over
                    # whole landing tables: 4 times slower, measured.
                    rows = view.recompute(conn, Scope(refresh_id, settings))
                    conn.execute(
                        delete(view_refresh_key).where(view_refresh_key.c.refresh_id == refresh_id)
                    )
            _touch_readers(conn, view, keys, full=full)
            total = conn.scalar(select(func.count()).select_from(view.table)) or 0
    except DBAPIError as exc:
        raise database_error(exc, f"refreshing view {view.name}") from exc
    return ViewRefresh(view.name, full, len(keys), ranges, max(rows, 0), total)


def refresh(
    engine: Engine, settings: Settings, names: list[str] | None = None, *, full: bool = False
) -> list[ViewRefresh]:
    """Refresh `names` (every view when None) in dependency order."""
    return [refresh_view(engine, view, settings, full=full) for view in ordered(names)]


def mark_suppliers_stale(engine: Engine, supplier_ids: Iterable[str]) -> int:
    """Touch every landed day of `supplier_ids` in the views that read reference data
    (ideal cycle times, go-live dates): after a reference load changed what they compute
    with. Returns the keys touched."""
    from sqlalchemy import literal
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    from pipelines.landing.models import LANDING
    from pipelines.views.catalog import VIEWS

    ids = sorted(set(supplier_ids))
    touched = 0
    if not ids:
        return 0
    try:
        with engine.begin() as conn:
            dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            for view in (v for v in VIEWS if v.reads_reference):
                for event_type in sorted(view.reads):
                    t = LANDING[event_type]
                    days = (
                        select(literal(view.name), t.c.supplier_id, t.c.business_day)
                        .where(t.c.supplier_id.in_(ids), t.c.business_day.is_not(None))
                        .distinct()
                    )
                    statement = dialect_insert(view_touched).from_select(
                        ["view", "supplier_id", "day"], days
                    )
                    result = conn.execute(
                        statement.on_conflict_do_nothing(), execution_options=KEEP_ROWCOUNT
                    )
                    touched += max(result.rowcount, 0)
    except DBAPIError as exc:
        raise database_error(exc, "marking views stale after a reference load") from exc
    return touched


def stale_keys(engine: Engine) -> dict[str, int]:
    """Touched keys waiting per view."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(view_touched.c.view, func.count()).group_by(view_touched.c.view)
        ).all()
    return {view: count for view, count in rows}
