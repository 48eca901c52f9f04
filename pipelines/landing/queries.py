"""Read-only counts over landing and quarantine, for summaries (demo, CLI)."""

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pipelines.landing.models import LANDING, QUARANTINE_OPEN, quarantine
from schemas.topics import EventType


def landed_by_supplier(engine: Engine) -> Counter[str]:
    """Landed events per supplier, all event types."""
    counts: Counter[str] = Counter()
    with engine.connect() as conn:
        for table in LANDING.values():
            query = select(table.c.supplier_id, func.count()).group_by(table.c.supplier_id)
            counts.update(dict(conn.execute(query).tuples().all()))
    return counts


def quarantined_by_supplier(engine: Engine) -> dict[str, Counter[str]]:
    """Open quarantined records per supplier, counted by rule (a record may break several)."""
    out: dict[str, Counter[str]] = {}
    q = quarantine.c
    with engine.connect() as conn:
        for supplier_id, reasons in conn.execute(
            select(q.supplier_id, q.reasons).where(q.status == QUARANTINE_OPEN)
        ):
            counter = out.setdefault(supplier_id or "-", Counter())
            counter["records"] += 1
            counter.update({r["rule"] for r in reasons})
    return out


def landing_row_counts(engine: Engine) -> dict[EventType, int]:
    """Rows in each landing table."""
    with engine.connect() as conn:
        return {
            e: conn.scalar(select(func.count()).select_from(table)) or 0
            for e, table in LANDING.items()
        }
