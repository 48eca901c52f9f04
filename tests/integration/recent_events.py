"""Valid events of one supplier's site, line and part, stamped a few hours before now.

Validation compares `event_time` with the Kafka timestamp the broker gives each record
on receipt (at most 5 minutes ahead, 180 days back), so these are built relative to
now, never from the simulator's shift calendar (which depends on the weekday).
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.topics import EventType


def reference_yaml(supplier_id: str) -> str:
    """A reference file with only the supplier's site, line and part (no organisations)."""
    return (
        "sites:\n"
        f"  - {{site_id: {supplier_id}-P1, supplier_id: {supplier_id}}}\n"
        "lines:\n"
        f"  - {{line_id: L1, site_id: {supplier_id}-P1, supplier_id: {supplier_id}, "
        "machines: [M1]}\n"
        "parts:\n"
        f"  - {{part_number: P-100, supplier_id: {supplier_id}}}\n"
    )


def recent_events(event_type: EventType, supplier_id: str, n: int, **changes: Any) -> list[dict]:
    """`n` valid JSON-ready events (the reference file's site, line and part), one a minute,
    ending three hours ago; `changes` overrides fields of every event."""
    now = datetime.now(UTC).replace(microsecond=0)  # clock-ok: Kafka stamps receipt now
    end = now - timedelta(hours=3)
    made = []
    for i in range(n):
        at = end - timedelta(minutes=n - i)
        common = {
            "event_id": str(uuid.uuid4()),
            "event_time": at.isoformat(),
            "supplier_id": supplier_id,
            "site_id": f"{supplier_id}-P1",
            "source_system": "MES test",
            "line_id": "L1",
        }
        if event_type is EventType.PRODUCTION:
            body = {
                "work_order_id": f"WO-{i}",
                "part_number": "P-100",
                "lot_id": f"LOT-{i}",
                "quantity_good": 95.0,
                "quantity_scrap": 2.0,
                "unit": "H87",
                "start_time": (at - timedelta(minutes=15)).isoformat(),
                "end_time": at.isoformat(),
            }
        elif event_type is EventType.QUALITY:
            body = {
                "part_number": "P-100",
                "lot_id": f"LOT-{i}",
                "inspection_stage": "FINAL",
                "inspected_quantity": 50,
                "defect_quantity": 1,
                "result": "PASS",
            }
        elif event_type is EventType.MACHINE_STATUS:
            body = {"machine_id": "M1", "state": "RUNNING" if i % 2 else "IDLE"}
        else:
            raise ValueError(f"no recent {event_type} events here")
        made.append({**common, **body, **changes})
    return made
