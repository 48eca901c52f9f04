"""oee_daily: overall equipment effectiveness per supplier, site, line and business day
(ISO 22400-2), from the machine states and the production reports of the day.

Machine states. Each state event opens an interval that the machine's next event of the
same business day closes; the day's last interval is closed at the end of the local day
(the next local midnight at the site), so an interval running past midnight is clipped
there. Events of a machine at the same instant count in the order received (Kafka
timestamp, partition, offset; event id last): a shift's IDLE and the next shift's
RUNNING sent at one instant leave the machine RUNNING. Time before a machine's first
event of the day is not counted: the state carried over from the previous day is not
assumed, which keeps a day's OEE a function of that day's events only (a late event of
Monday changes Monday, never Tuesday). Per machine: actual production time APT = time
RUNNING; planned busy time PBT = time RUNNING + time DOWN (an unplanned stop); SETUP
and MAINTENANCE (planned stops) and IDLE (nothing planned) are outside PBT. A line's
APT and PBT are the averages over its machines that reported a state that day
(`machines`), in hours (`apt_hours`, `pbt_hours`).

  availability  = APT / PBT
  effectiveness = Σ (quantity_good + quantity_scrap) * ideal cycle time (s) / APT (s),
                  over the line's production reports of the day, each with the ideal
                  cycle time of its part on the line (reference data `cycle_times:`)
  quality_ratio = Σ quantity_good / Σ (quantity_good + quantity_scrap)
  oee           = availability * effectiveness * quality_ratio

A factor is NULL when its inputs are missing, with the reason in
`availability_null_reason` (no machine states; no planned busy time),
`effectiveness_null_reason` (no production; no ideal cycle time for a part made that
day, named; no machine states; no actual production time) or `quality_null_reason` (no
production; nothing produced); oee is NULL when any factor is. Effectiveness above 1
means the ideal cycle time is slower than the line really ran (reference data to fix):
it is kept, not clipped, and `effectiveness_note` says so. A line-day has a row when it
has machine states or production reports. A reference load makes its suppliers' days
stale (`reads_reference`), so new cycle times reach the view at the next refresh.

The local midnights come from the sites' time zones in Python (zoneinfo: SQLite has no
time zones), written for the refresh's days to the scratch table `oee_day_end` and
joined there; everything else is computed in SQL.
"""

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Double,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.engine import Connection

from governance.models import IdealCycleTime, Organisation, Role, Site
from pipelines.landing.days import LocalDays, zone
from pipelines.landing.models import LANDING
from pipelines.views.base import Scope, View, same_day
from pipelines.views.sql import KEEP_ROWCOUNT, analyze, epoch_ms, ratio, real
from sangsaeng.db import METADATA
from schemas.topics import EventType

NO_STATES = "no machine states reported"
NO_BUSY_TIME = "no planned busy time (no machine RUNNING or DOWN)"
NO_PRODUCTION = "no production reported"
NO_CYCLE_TIME = "no ideal cycle time for part "  # + the (first) part number lacking one
NO_RUN_TIME = "no actual production time (no machine RUNNING)"
NOTHING_PRODUCED = "nothing produced (good + scrap = 0)"
ABOVE_ONE = "above 1: the ideal cycle time is slower than the line ran"

RUNNING, DOWN = "RUNNING", "DOWN"  # production time; unplanned stop (both in PBT)
HOUR_MS = 3_600_000.0

oee_daily = Table(
    "oee_daily",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column("site_id", String(64), nullable=False),
    Column("line_id", String(64), nullable=False),
    Column("day", Date, nullable=False, comment="Local day at the site."),
    Column("machines", Integer, nullable=False, comment="Machines that reported a state that day."),
    Column("apt_hours", Double, comment="Actual production time (RUNNING), machine average, h."),
    Column("pbt_hours", Double, comment="Planned busy time (RUNNING + DOWN), machine average, h."),
    Column("availability", Double, comment="APT / PBT (ISO 22400-2)."),
    Column("availability_null_reason", Text),
    Column("produced", BigInteger, comment="Σ (quantity_good + quantity_scrap) (units)."),
    Column("good", BigInteger, comment="Σ quantity_good (units)."),
    Column("effectiveness", Double, comment="Σ produced * ideal cycle time / APT."),
    Column("effectiveness_null_reason", Text),
    Column("quality_ratio", Double, comment="good / produced."),
    Column("quality_null_reason", Text),
    Column("oee", Double, comment="availability * effectiveness * quality_ratio."),
    Column("effectiveness_note", Text, comment="Set when effectiveness exceeds 1."),
    Index("ix_oee_daily_supplier_day", "supplier_id", "day"),
    comment="Daily OEE per supplier, site and line (ISO 22400-2).",
)

oee_day_end = Table(
    "oee_day_end",
    METADATA,
    Column("refresh_id", String(36), primary_key=True),
    Column("supplier_id", String(64), primary_key=True),
    Column("site_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("end_ms", BigInteger, nullable=False, comment="The next local midnight, epoch ms."),
    comment="Scratch: the end of each local day one oee_daily refresh clips at (empty between).",
)


def day_end_ms(day: date, timezone: str) -> int:
    """The UTC instant (epoch ms) of the local midnight that ends `day` in `timezone`."""
    midnight = datetime.combine(day + timedelta(days=1), time(), zone(timezone))
    return int(midnight.timestamp()) * 1000


def _local_days(conn: Connection) -> LocalDays:
    sites = conn.execute(select(Site.supplier_id, Site.site_id, Site.timezone)).all()
    suppliers = conn.execute(
        select(Organisation.org_id, Organisation.timezone).where(Organisation.role == Role.SUPPLIER)
    ).all()
    return LocalDays(
        {f"{a}/{b}": tz for a, b, tz in sites if tz}, {s: tz for s, tz in suppliers if tz}
    )


def _write_day_ends(conn: Connection, scope: Scope, refresh_id: str) -> None:
    """The end of every (supplier, site, day) with machine states in the scope."""
    m = LANDING[EventType.MACHINE_STATUS]
    days = conn.execute(
        select(m.c.supplier_id, m.c.site_id, m.c.business_day)
        .distinct()
        .select_from(scope.source(m))
        .where(scope.where())
    ).all()
    zones = _local_days(conn)
    rows = [
        {
            "refresh_id": refresh_id,
            "supplier_id": supplier,
            "site_id": site,
            "day": day,
            "end_ms": day_end_ms(day, zones.timezone(supplier, site)),
        }
        for supplier, site, day in days
    ]
    for i in range(0, len(rows), 2_000):
        conn.execute(insert(oee_day_end), rows[i : i + 2_000])
    analyze(conn, oee_day_end)


def received_order(m: Any) -> list[Any]:
    """A machine's events in time order, and those at the same instant as received (Kafka
    timestamp, partition, offset; the event id last): the state received last holds.
    NULLS FIRST (rows landed before Kafka timestamps were kept) on both databases, which
    order NULLs differently by default."""
    return [
        m.event_time,
        m.kafka_timestamp.asc().nulls_first(),
        m.kafka_partition,
        m.kafka_offset,
        m.event_id,
    ]


def _line_states(scope: Scope, refresh_id: str) -> Any:
    """Per line and day: machines reporting, and their average APT and PBT in ms."""
    landing = LANDING[EventType.MACHINE_STATUS]
    m = landing.c
    start = epoch_ms(m.event_time)
    machine_day = [m.supplier_id, m.site_id, m.line_id, m.machine_id, m.business_day]
    states = (
        select(
            *machine_day,
            m.state,
            start.label("start_ms"),
            func.lead(start)
            .over(partition_by=machine_day, order_by=received_order(m))
            .label("next_ms"),
        )
        .select_from(scope.source(landing))
        .where(scope.where())
        .subquery("states")
    )
    s, e = states.c, oee_day_end.c
    end = func.coalesce(s.next_ms, e.end_ms)
    lasted = case((end > s.start_ms, end - s.start_ms), else_=0)
    machines = (
        select(
            s.supplier_id,
            s.site_id,
            s.line_id,
            s.machine_id,
            s.business_day,
            func.sum(case((s.state == RUNNING, lasted), else_=0)).label("running_ms"),
            func.sum(case((s.state.in_([RUNNING, DOWN]), lasted), else_=0)).label("busy_ms"),
        )
        .select_from(
            states.join(
                oee_day_end,
                and_(
                    e.refresh_id == refresh_id,
                    e.supplier_id == s.supplier_id,
                    e.site_id == s.site_id,
                    e.day == s.business_day,
                ),
            )
        )
        .group_by(s.supplier_id, s.site_id, s.line_id, s.machine_id, s.business_day)
        .subquery("machines")
    )
    k = machines.c
    count = func.count()
    return (
        select(
            k.supplier_id,
            k.site_id,
            k.line_id,
            k.business_day,
            count.label("machines"),
            (real(func.sum(k.running_ms)) / count).label("apt_ms"),
            (real(func.sum(k.busy_ms)) / count).label("pbt_ms"),
        )
        .group_by(k.supplier_id, k.site_id, k.line_id, k.business_day)
        .subquery("line_states")
    )


def _line_output(scope: Scope) -> Any:
    """Per line and day: produced, good, Σ produced * ideal cycle time (s), and the parts
    made without an ideal cycle time."""
    landing = LANDING[EventType.PRODUCTION]
    p = landing.c
    ict = IdealCycleTime.__table__.c
    produced = p.quantity_good + p.quantity_scrap
    lacking = and_(ict.ideal_cycle_seconds.is_(None), produced > 0)
    ideal_us = cast(func.round(ict.ideal_cycle_seconds * 1_000_000), BigInteger)
    return (
        select(
            p.supplier_id,
            p.site_id,
            p.line_id,
            p.business_day,
            func.sum(produced).label("produced"),
            func.sum(p.quantity_good).label("good"),
            # Whole microseconds, so the sum is exact and its order cannot change it.
            func.coalesce(func.sum(produced * ideal_us), 0).label("ideal_us"),
            func.sum(case((lacking, 1), else_=0)).label("lacking"),
            func.min(case((lacking, p.part_number))).label("lacking_part"),
        )
        .select_from(
            scope.source(landing).outerjoin(
                IdealCycleTime.__table__,
                and_(
                    ict.supplier_id == p.supplier_id,
                    ict.site_id == p.site_id,
                    ict.line_id == p.line_id,
                    ict.part_number == p.part_number,
                ),
            )
        )
        .where(scope.where())
        .group_by(p.supplier_id, p.site_id, p.line_id, p.business_day)
        .subquery("line_output")
    )


def _factors(scope: Scope, refresh_id: str) -> Any:
    states, output = _line_states(scope, refresh_id), _line_output(scope)
    s, o = states.c, output.c
    key_columns = ("supplier_id", "site_id", "line_id", "business_day")
    keys = union(
        select(*[s[c] for c in key_columns]), select(*[o[c] for c in key_columns])
    ).subquery("line_days")
    k = keys.c

    def on(sub: Any) -> Any:
        return and_(*[sub.c[c] == k[c] for c in key_columns])

    no_states = s.machines.is_(None)
    no_output = o.produced.is_(None)
    return (
        select(
            *[k[c] for c in key_columns],
            func.coalesce(s.machines, 0).label("machines"),
            (s.apt_ms / HOUR_MS).label("apt_hours"),
            (s.pbt_ms / HOUR_MS).label("pbt_hours"),
            ratio(s.apt_ms, s.pbt_ms).label("availability"),
            case((no_states, NO_STATES), (s.pbt_ms <= 0, NO_BUSY_TIME)).label(
                "availability_null_reason"
            ),
            o.produced,
            o.good,
            case(
                (or_(no_output, o.lacking > 0, no_states), None),
                else_=ratio(real(o.ideal_us) / 1000.0, s.apt_ms),
            ).label("effectiveness"),
            case(
                (no_output, NO_PRODUCTION),
                (o.lacking > 0, literal(NO_CYCLE_TIME) + o.lacking_part),
                (no_states, NO_STATES),
                (s.apt_ms <= 0, NO_RUN_TIME),
            ).label("effectiveness_null_reason"),
            ratio(o.good, o.produced).label("quality_ratio"),
            case((no_output, NO_PRODUCTION), (o.produced <= 0, NOTHING_PRODUCED)).label(
                "quality_null_reason"
            ),
        )
        .select_from(keys.outerjoin(states, on(states)).outerjoin(output, on(output)))
        .subquery("factors")
    )


def recompute(conn: Connection, scope: Scope) -> int:
    scope.delete(conn, oee_daily)
    refresh_id = scope.refresh_id or str(uuid.uuid4())
    _write_day_ends(conn, scope, refresh_id)
    f = _factors(scope, refresh_id).c
    query = select(
        f.supplier_id,
        f.site_id,
        f.line_id,
        f.business_day,
        f.machines,
        f.apt_hours,
        f.pbt_hours,
        f.availability,
        f.availability_null_reason,
        f.produced,
        f.good,
        f.effectiveness,
        f.effectiveness_null_reason,
        f.quality_ratio,
        f.quality_null_reason,
        f.availability * f.effectiveness * f.quality_ratio,
        case((f.effectiveness > 1.0, ABOVE_ONE)),
    )
    columns = [c.name for c in oee_daily.columns]
    written = conn.execute(
        insert(oee_daily).from_select(columns, query), execution_options=KEEP_ROWCOUNT
    ).rowcount
    conn.execute(delete(oee_day_end).where(oee_day_end.c.refresh_id == refresh_id))
    return written


VIEW = View(
    name="oee_daily",
    title="OEE (availability, effectiveness, quality ratio) per line and day, ISO 22400-2",
    tables=(oee_daily,),
    reads=frozenset({EventType.MACHINE_STATUS, EventType.PRODUCTION}),
    key_range=same_day,
    recompute=recompute,
    ratios=("availability", "quality_ratio"),  # effectiveness may exceed 1 (see above)
    reads_reference=True,  # ideal cycle times
)
