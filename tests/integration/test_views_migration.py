"""A database of the release before the views, with a history, upgraded to this one
(both databases): its rows get their business day and received day, every view's keys
of that history are stale, and the first refresh builds the views from it."""

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import select, text

from migrations.schema import _config, upgrade
from pipelines.landing.models import LANDING, quarantine
from pipelines.views.catalog import VIEWS
from pipelines.views.keys import view_touched
from pipelines.views.read import view_rows
from pipelines.views.refresh import refresh
from sangsaeng.db import make_engine
from sangsaeng.settings import load_settings
from schemas.topics import EventType

pytestmark = pytest.mark.integration


def _at_revision_0001(url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.commit()
    engine.dispose()


def test_an_upgrade_builds_the_views_of_the_history(empty_db_url: str) -> None:
    _at_revision_0001(empty_db_url)
    engine = make_engine(empty_db_url)
    # 23:30 UTC on Sunday 4 January is 08:30 on Monday 5 January in Seoul.
    end = datetime(2026, 1, 4, 23, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisation (org_id, name, role, timezone, created_at) "
                "VALUES ('S1', 'Supplier', 'supplier', 'Asia/Seoul', :now)"
            ),
            {"now": end},
        )
        conn.execute(
            text(
                "INSERT INTO site (site_id, supplier_id, timezone) "
                "VALUES ('P1', 'S1', 'Asia/Seoul')"
            )
        )
        row = {
            "event_id": "00000000-0000-4000-8000-000000000001",
            "event_time": end,
            "supplier_id": "S1",
            "site_id": "P1",
            "source_system": "mes",
            "buyer_id": None,
            "line_id": "L1",
            "work_order_id": "W",
            "part_number": "X",
            "lot_id": "LOT",
            "quantity_good": 90,
            "quantity_scrap": 10,
            "planned_quantity": 100,
            "start_time": datetime(2026, 1, 4, 22, 30, tzinfo=UTC),
            "end_time": end,
            "unit": "H87",
            "kafka_topic": "sup.S1.production",
            "kafka_partition": 0,
            "kafka_offset": 0,
            "landed_at": end,
        }
        columns = ", ".join(row)
        conn.execute(
            text(
                f"INSERT INTO landing_production ({columns}) VALUES "
                f"({', '.join(':' + c for c in row)})"
            ),
            row,
        )
        conn.execute(
            text(
                "INSERT INTO quarantine (kafka_topic, kafka_partition, kafka_offset, "
                "kafka_timestamp, event_type, supplier_id, reasons, first_seen, status, "
                "attempts) VALUES ('sup.S1.production', 0, 1, :ms, 'production', 'S1', "
                "'[]', :now, 'open', 1)"
            ),
            {"ms": int(end.timestamp() * 1000), "now": end},
        )
    upgrade(engine)
    with engine.connect() as conn:
        p = LANDING[EventType.PRODUCTION].c
        assert conn.scalar(select(p.business_day)) == date(2026, 1, 5)
        assert conn.scalar(select(quarantine.c.received_day)) == date(2026, 1, 5)
        stale = {v for (v,) in conn.execute(select(view_touched.c.view).distinct())}
    reading_production = {v.name for v in VIEWS if EventType.PRODUCTION in v.reads}
    assert reading_production <= stale, "every view over production has the history's key"
    refresh(engine, load_settings())
    (daily,) = view_rows(engine, "production_daily")
    assert (daily["day"], daily["good"], daily["scrap"]) == (date(2026, 1, 5), 90, 10)
    (lot,) = view_rows(engine, "lot_trace")
    assert lot["lot_id"] == "LOT" and lot["good"] == 90
    readiness = [r for r in view_rows(engine, "data_readiness") if r["event_type"] == "production"]
    assert readiness[0]["quarantined"] == 1  # the old quarantine row counts on its day
    engine.dispose()
