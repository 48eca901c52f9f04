"""Which view keys need recomputing: the touched (supplier, day) keys ingest records in
the same transaction as the rows it lands, and the key ranges a refresh works on.

`view_touched` holds one row per view and (supplier, business day); a refresh claims a
view's rows, recomputes the keys they map to and deletes them in one transaction, so a
key touched again while a refresh runs stays for the next one. `view_refresh_key` is
that transaction's scratch list of (supplier, first day, last day) ranges, tagged with
the refresh's id so two refreshes never read each other's.
"""

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import Column, Date, DateTime, String, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from sangsaeng.db import METADATA

SupplierDay = tuple[str, date]

view_touched = Table(
    "view_touched",
    METADATA,
    Column("view", String(64), primary_key=True),
    Column("supplier_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("touched_at", DateTime(timezone=True)),
    comment="(supplier, business day) keys whose view rows are stale, per view.",
)

view_refresh_key = Table(
    "view_refresh_key",
    METADATA,
    Column("refresh_id", String(36), primary_key=True),
    Column("supplier_id", String(64), primary_key=True),
    Column("first_day", Date, primary_key=True),
    Column("last_day", Date, nullable=False),
    comment="Scratch: the key ranges one refresh transaction recomputes (empty between).",
)


def touch(conn: Connection, touched: Mapping[str, Iterable[SupplierDay]]) -> int:
    """Mark `touched` (view -> keys) stale inside the caller's transaction; returns rows."""
    rows = [
        {"view": view, "supplier_id": supplier, "day": day}
        for view, keys in sorted(touched.items())
        for supplier, day in sorted(set(keys))
    ]
    if not rows:
        return 0
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(view_touched).on_conflict_do_nothing()
    for i in range(0, len(rows), 2_000):
        conn.execute(statement, rows[i : i + 2_000])
    return len(rows)
