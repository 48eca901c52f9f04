"""What a view is to the refresh: its tables, the landing tables that touch it, the key
range a touched day maps to, and how it recomputes a scope (delete + insert).

A `Scope` is what one refresh transaction recomputes: every key (`full`) or the
(supplier, first day, last day) ranges in `view_refresh_key` under its refresh id.
Views select their input through `Scope.source`, a join from those ranges to the
landing table on (supplier_id, business_day) that the index on both serves, and delete
their own rows through `Scope.delete`; a full rebuild runs the very same statements
without the join, which is why `--full` and the incremental refresh cannot disagree.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, exists, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause

from pipelines.views.keys import view_refresh_key
from sangsaeng.settings import Settings
from schemas.topics import EventType

KeyRange = Callable[[date], tuple[date, date]]


def same_day(day: date) -> tuple[date, date]:
    return day, day


def same_week(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def same_month(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


@dataclass(frozen=True)
class Scope:
    """The keys one refresh transaction recomputes (`refresh_id` None: all of them)."""

    refresh_id: str | None
    settings: Settings

    @property
    def full(self) -> bool:
        return self.refresh_id is None

    def _key_match(self, supplier: Any, day: Any) -> ColumnElement[bool]:
        k = view_refresh_key.c
        return and_(
            k.refresh_id == self.refresh_id,
            k.supplier_id == supplier,
            day >= k.first_day,
            day <= k.last_day,
        )

    def source(self, table: Table | FromClause, day: Any | None = None) -> FromClause:
        """`table` restricted to the scope: joined from the key ranges on supplier_id and
        `day` (its business_day by default); `table` itself for a full rebuild."""
        if self.full:
            return table
        day = table.c.business_day if day is None else day
        return view_refresh_key.join(table, self._key_match(table.c.supplier_id, day))

    def where(self) -> ColumnElement[bool]:
        """The condition that goes with `source` (the refresh id; true when full)."""
        return true() if self.full else view_refresh_key.c.refresh_id == self.refresh_id

    def covers(self, supplier: Any, day: Any) -> ColumnElement[bool]:
        """Whether (supplier, day) lies in the scope, as a correlated condition."""
        return true() if self.full else exists().where(self._key_match(supplier, day))

    def has_supplier(self, supplier: Any) -> ColumnElement[bool]:
        """Whether `supplier` has a key range in the scope (any day)."""
        if self.full:
            return true()
        k = view_refresh_key.c
        return supplier.in_(select(k.supplier_id).where(k.refresh_id == self.refresh_id))

    def delete(self, conn: Connection, table: Table, day_column: str = "day") -> None:
        """Delete `table`'s rows of the scope (all of them when full)."""
        conn.execute(delete(table).where(self.covers(table.c.supplier_id, table.c[day_column])))


@dataclass(frozen=True)
class View:
    """One view as the refresh, the CLI and Dagster see it."""

    name: str
    title: str  # one line, for listings and Dagster
    tables: tuple[Table, ...]  # the first is the one `views show` prints
    reads: frozenset[EventType]  # landing tables whose new rows make it stale
    key_range: KeyRange  # the keys a touched (supplier, day) makes stale
    recompute: Callable[[Connection, Scope], int]  # delete + insert the scope; rows written
    depends_on: tuple[str, ...] = ()  # views it reads, refreshed before it
    day_column: str = "day"  # the main table's period column (`views show --since`)
    reads_quarantine: bool = False  # quarantined records make it stale too
    reads_reference: bool = False  # reloaded reference data makes its suppliers stale
    # For the asset checks: columns that must lie in [0, 1], and totals that must equal
    # the landing table's: (view column, event type, landing column) summed over all rows.
    ratios: tuple[str, ...] = ()
    totals: tuple[tuple[str, EventType, str], ...] = ()

    @property
    def table(self) -> Table:
        return self.tables[0]
