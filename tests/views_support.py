"""Test support for the views: land rows straight into the landing tables as ingest
would (business day stamped, view keys touched in the same transaction), compare tables,
and check an incremental refresh against a full rebuild."""

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from governance.reference import ReferenceFile, ReferenceSets, load_reference
from pipelines.landing.days import LocalDays
from pipelines.landing.models import LANDING, quarantine
from pipelines.views.catalog import VIEWS, stale
from pipelines.views.keys import touch, view_touched
from pipelines.views.refresh import refresh
from sangsaeng.settings import Settings
from schemas.topics import EventType

ENVELOPE = {"site_id": "P1", "source_system": "test-mes", "buyer_id": None}
_offsets = iter(range(10**9))


def reference(engine: Engine, data: Mapping[str, Any]) -> ReferenceSets:
    """Load reference data (the YAML file's shape, as a dict); returns what validation sees."""
    load_reference(engine, ReferenceFile.model_validate(data))
    return ReferenceSets.read(engine)


def land(
    engine: Engine,
    event_type: EventType,
    rows: Iterable[Mapping[str, Any]],
    *,
    received: datetime | None = None,
) -> list[dict[str, Any]]:
    """Insert `rows` into `event_type`'s landing table as ingest lands them: missing
    envelope fields filled in, the business day from the sites' time zones, the Kafka
    timestamp `received` (default: the event time), and the views' keys touched."""
    sets = ReferenceSets.read(engine)
    days = LocalDays(sets.site_timezones, sets.supplier_timezones)
    table = LANDING[event_type]
    made = []
    for row in rows:
        full = {**ENVELOPE, **row}
        full.setdefault("event_id", str(uuid.uuid4()))
        full["business_day"] = days.business_day(event_type, full)
        stamp = received or full["event_time"]
        full.setdefault("kafka_timestamp", int(stamp.timestamp() * 1000))
        full.setdefault("kafka_topic", f"sup.{full['supplier_id']}.{event_type.value}")
        full.setdefault("kafka_partition", 0)
        full.setdefault("kafka_offset", next(_offsets))
        full.setdefault("landed_at", datetime.now(UTC))  # clock-ok: bookkeeping only
        made.append({c.name: full.get(c.name) for c in table.columns})
    if made:
        with engine.begin() as conn:
            conn.execute(insert(table), made)
            touch(conn, stale({event_type: {(r["supplier_id"], r["business_day"]) for r in made}}))
    return made


def quarantine_rows(engine: Engine, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert quarantine rows (supplier_id, event_type, received_day, kafka_timestamp...)
    and touch the views that read the quarantine."""
    made = []
    for row in rows:
        offset = next(_offsets)
        made.append(
            {
                "kafka_topic": f"sup.{row['supplier_id']}.{row.get('event_type', 'production')}",
                "kafka_partition": 0,
                "kafka_offset": offset,
                "kafka_timestamp": 0,
                "reasons": [{"rule": "test", "message": "refused in a test"}],
                "payload": b"",
                "first_seen": datetime.now(UTC),  # clock-ok: bookkeeping only
                "status": "open",
                "attempts": 1,
                **row,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(quarantine), made)
        touch(conn, stale({}, {(r["supplier_id"], r["received_day"]) for r in made}))


def table_rows(engine: Engine, name: str) -> list[tuple[Any, ...]]:
    """Every row of the view table `name`, sorted (floats rounded to 9 digits)."""
    table = next(t for v in VIEWS for t in v.tables if t.name == name)

    def norm(value: Any) -> Any:
        return round(value, 9) if isinstance(value, float) else value

    with engine.connect() as conn:
        rows = conn.execute(select(table)).all()
    return sorted((tuple(norm(v) for v in r) for r in rows), key=repr)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every view table's rows."""
    return {t.name: table_rows(engine, t.name) for v in VIEWS for t in v.tables}


def assert_full_equals_incremental(engine: Engine, settings: Settings) -> None:
    """Refresh incrementally, snapshot, rebuild everything, and compare table by table."""
    refresh(engine, settings)
    with engine.connect() as conn:
        assert conn.execute(select(view_touched)).first() is None, "no key left touched"
    incremental = snapshot(engine)
    refresh(engine, settings, full=True)
    full = snapshot(engine)
    for name in full:
        assert incremental[name] == full[name], f"{name}: incremental != --full"


def wipe(engine: Engine) -> None:
    """Empty the landing, quarantine, touched and view tables (between hypothesis examples)."""
    with engine.begin() as conn:
        for table in [*LANDING.values(), quarantine, view_touched]:
            conn.execute(delete(table))
        for view in VIEWS:
            for table in view.tables:
                conn.execute(delete(table))


def at(day: date, hour: float, zone_offset_hours: int = 9) -> datetime:
    """UTC instant of local `hour` on `day` at a site `zone_offset_hours` ahead of UTC."""
    from datetime import timedelta

    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        hours=hour - zone_offset_hours
    )
