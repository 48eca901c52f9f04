"""Reading a view's rows for operators (the CLI); buyers read through serving/, filtered
by their agreements."""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from pipelines.views.catalog import BY_NAME
from sangsaeng.db import database_error


def view_rows(
    engine: Engine,
    name: str,
    *,
    supplier_id: str | None = None,
    since: date | None = None,
    limit: int = 1_000,
) -> list[dict[str, Any]]:
    """Rows of view `name`'s main table, oldest period first; `KeyError` for no such view."""
    view = BY_NAME[name]
    table = view.table
    query = select(table)
    if supplier_id is not None and "supplier_id" in table.c:
        query = query.where(table.c.supplier_id == supplier_id)
    if since is not None and view.day_column in table.c:
        query = query.where(table.c[view.day_column] >= since)
    order = [table.c[view.day_column]] if view.day_column in table.c else []
    query = query.order_by(*order, *[c for c in table.c if c.name != view.day_column][:4])
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.limit(limit))]
    except DBAPIError as exc:
        raise database_error(exc, f"reading view {name}") from exc
