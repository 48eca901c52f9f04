"""For revisions that create views: mark the view stale for every (supplier, business
day) a database already holds, so the first `sangsaeng views refresh` after the upgrade
builds it from the history (nothing for a new database)."""

from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op


def touch_history(view: str, landing_tables: Iterable[str], *, quarantine: bool = False) -> None:
    """Insert `view`'s touched keys from `landing_tables` (and the quarantine's received
    days when `quarantine`), once each (written as SQL both databases take)."""
    sources = [
        f"SELECT DISTINCT supplier_id, business_day FROM {table} WHERE business_day IS NOT NULL"
        for table in landing_tables
    ]
    if quarantine:
        sources.append(
            "SELECT DISTINCT supplier_id, received_day FROM quarantine "
            "WHERE supplier_id IS NOT NULL AND received_day IS NOT NULL"
        )
    if not view.isidentifier():  # inlined below: PostgreSQL cannot type a bare parameter
        raise ValueError(f"not a view name: {view!r}")
    for source in sources:
        op.get_bind().execute(
            sa.text(
                "INSERT INTO view_touched (view, supplier_id, day) "
                # WHERE true: SQLite would read ON CONFLICT as a join constraint otherwise
                f"SELECT '{view}', keys.* FROM ({source}) AS keys WHERE true "
                "ON CONFLICT DO NOTHING"
            )
        )
