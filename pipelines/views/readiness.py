"""data_readiness: how ready a supplier's data is, per supplier, event type and business day.

For onboarding and for the operator: did the feed arrive, is it complete, is it fresh,
how much of it was refused. One row per event type (all five) for every day on which the
supplier landed or had quarantined anything, so a feed that is missing shows as zeros.

- received: events of the type landed with that business_day (landing rows).
- Periods. The supplier's operating window on a day is the local hours from its first to
  its last production run (from the earliest start_time to the latest end_time of the day's
  production reports); on a day without production, from the first to the last hour with
  any event. Hours are the slots [h:00, h+1:00) of the site's standard time (its zone's
  UTC offset without daylight saving, so no day has 23 or 25 of them; on a summer-time
  day the local hour after midnight folds into hour 0); a run or energy period counts in
  every hour it overlaps for some time, a point event (quality, machine status, shipment)
  in the hour it closes (an event at 08:00 sharp counts for 07-08, like a reading at the
  end of a slot).
  Each event type has its period, the cadence a healthy feed keeps (`PERIOD_HOURS`):
  production 1 h, energy 1 h, quality 2 h (an in-process inspection every two hours),
  machine_status 8 h (a state at least once a shift), shipment 24 h. Periods are aligned to
  local midnight. expected_periods = the type's periods that overlap the operating window;
  received_periods = those of them with at least one event of the type.
  periods_completeness = received_periods / expected_periods.
- fields_completeness: the share of non-null values over the contract's optional fields of
  the type (read from the Avro contract: the fields whose type is a union with null),
  Σ non-null / (received * optional fields).
- freshness: median and p95 of (kafka_timestamp - event_time) in seconds, nearest rank
  (the value at rank ⌈p·n⌉ in ascending order), rows with a NULL kafka_timestamp ignored.
  Negative lags (an event time up to the tolerated 5 minutes ahead of receipt) are kept.
- quarantined: OPEN quarantine rows of the supplier and type with that received_day (the
  supplier's local day of the Kafka timestamp). Resolved rows are not counted: a record
  reprocessed into landing counts once, as received on its business day, and records
  refused only for missing reference data stop counting once the reference is fixed.
  quarantine_rate = quarantined / (received + quarantined). The two counts are on
  different days (business vs received day) when events arrive late; the rate is a rate
  of what was handled for that day, not of one set of events.
- score (0-100) = 100 * (0.4 * periods_completeness + 0.2 * fields_completeness
  + 0.2 * freshness_score + 0.2 * (1 - quarantine_rate)), where freshness_score is 1 for
  a median lag up to 60 s, 0.75 up to 15 min, 0.5 up to 1 h, 0.25 up to 24 h, else 0.
  When freshness cannot be measured (no Kafka timestamps: rows landed before they were
  kept) its weight is left out: the sum is divided by 0.8. No event of the type landed
  that day: fields, freshness and score are NULL, with the reason in null_reason.
"""

from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    column,
    func,
    insert,
    literal,
    select,
    true,
    union,
    union_all,
    values,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from governance.models import Organisation, Role, Site
from pipelines.landing.days import DEFAULT_TIMEZONE
from pipelines.landing.models import LANDING, QUARANTINE_OPEN, quarantine
from pipelines.views.base import Scope, View, same_day
from pipelines.views.sql import epoch_ms, ratio, real
from sangsaeng.db import METADATA
from schemas.contracts import contract
from schemas.topics import EventType

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# The cadence a healthy feed of each type keeps (hours; each divides 24).
PERIOD_HOURS: dict[EventType, int] = {
    EventType.PRODUCTION: 1,
    EventType.ENERGY: 1,
    EventType.QUALITY: 2,
    EventType.MACHINE_STATUS: 8,
    EventType.SHIPMENT: 24,
}
# Events that cover a stretch of time: (start, end) columns. The others are points in
# time, at their business time (pipelines/landing/days.py).
INTERVALS: dict[EventType, tuple[str, str]] = {
    EventType.PRODUCTION: ("start_time", "end_time"),
    EventType.ENERGY: ("period_start", "period_end"),
}
POINT_TIME: dict[EventType, str] = {
    EventType.QUALITY: "event_time",
    EventType.MACHINE_STATUS: "event_time",
    EventType.SHIPMENT: "shipped_at",
}
# Score weights (they sum to 1) and the freshness steps: (median lag up to s, score).
WEIGHT_PERIODS, WEIGHT_FIELDS, WEIGHT_FRESHNESS, WEIGHT_QUARANTINE = 0.4, 0.2, 0.2, 0.2
FRESHNESS_STEPS: tuple[tuple[float, float], ...] = (
    (60.0, 1.0),
    (900.0, 0.75),
    (3_600.0, 0.5),
    (86_400.0, 0.25),
)


def optional_fields(event_type: EventType) -> tuple[str, ...]:
    """The contract's optional fields of `event_type` (a union with null)."""
    return tuple(
        f["name"]
        for f in contract(event_type)["fields"]
        if isinstance(f["type"], list) and "null" in f["type"]
    )


data_readiness = Table(
    "data_readiness",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("day", Date, nullable=False, comment="The supplier's local (business) day."),
    Column("received", Integer, nullable=False, comment="Events landed with that business_day."),
    Column("period_hours", Integer, nullable=False, comment="The type's period (hours)."),
    Column("first_hour", Integer, comment="First local hour (0-23) of the operating window."),
    Column("last_hour", Integer, comment="Last local hour (0-23) of the operating window."),
    Column("expected_periods", Integer, comment="The type's periods overlapping the window."),
    Column(
        "received_periods",
        Integer,
        nullable=False,
        comment="Expected periods with at least one event of the type.",
    ),
    Column("periods_completeness", Double, comment="received_periods / expected_periods."),
    Column("optional_fields", Integer, nullable=False, comment="Optional contract fields."),
    Column("fields_completeness", Double, comment="Share of non-null optional field values."),
    Column("freshness_median_s", Double, comment="Median (kafka_timestamp - event_time), s."),
    Column("freshness_p95_s", Double, comment="95th percentile of the same lag, s."),
    Column("quarantined", Integer, nullable=False, comment="Open quarantine rows that day."),
    Column("quarantine_rate", Double, comment="quarantined / (received + quarantined)."),
    Column("score", Double, comment="0-100, the weighted formula of the module docstring."),
    Column("null_reason", Text, comment="Why some values are NULL."),
    Index("ix_data_readiness_supplier_day", "supplier_id", "day"),
    comment="Received vs expected, completeness, freshness and quarantine per feed and day.",
)


@cache
def standard_offset_ms(zone: str) -> int:
    """The UTC offset of `zone`'s standard time in ms (Asia/Seoul's for an unknown zone)."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo(DEFAULT_TIMEZONE)
    probe = datetime(2026, 1, 15, 12, tzinfo=tz)
    offset, dst = probe.utcoffset() or timedelta(0), probe.dst() or timedelta(0)
    return int((offset - dst).total_seconds() * 1000)


def zone_tables(conn: Connection) -> tuple[Any, Any]:
    """(site offsets, supplier offsets): the reference data's time zones as standard UTC
    offsets (ms), VALUES lists to join landing rows on (supplier, site) and on supplier."""
    sites = conn.execute(select(Site.supplier_id, Site.site_id, Site.timezone)).all()
    suppliers = conn.execute(
        select(Organisation.org_id, Organisation.timezone).where(Organisation.role == Role.SUPPLIER)
    ).all()
    # A VALUES list cannot be empty: a row no landing row matches keeps it valid.
    site_rows = [(s, p, standard_offset_ms(z or DEFAULT_TIMEZONE)) for s, p, z in sites]
    supplier_rows = [(s, standard_offset_ms(z or DEFAULT_TIMEZONE)) for s, z in suppliers]
    site_zones = values(
        column("supplier_id", String),
        column("site_id", String),
        column("offset_ms", BigInteger),
        name="site_zones",
    ).data(site_rows or [("", "", 0)])
    supplier_zones = values(
        column("supplier_id", String), column("offset_ms", BigInteger), name="supplier_zones"
    ).data(supplier_rows or [("", 0)])
    return site_zones.cte("site_zones"), supplier_zones.cte("supplier_zones")


def _clamp(value: Any, low: int, high: int) -> ColumnElement[Any]:
    return case((value < low, low), (value > high, high), else_=value)


def hour_spans(scope: Scope, conn: Connection) -> Any:
    """Every landing row of the scope as (supplier_id, day, event_type, lo, hi, nonnull,
    lag_ms): the local hour slots it covers (lo..hi, 0-23), its non-null optional fields
    and its Kafka lag in ms (NULL without a Kafka timestamp)."""
    site_zones, supplier_zones = zone_tables(conn)
    branches = []
    for event_type in EventType:
        table = LANDING[event_type]
        c = table.c
        offset = func.coalesce(site_zones.c.offset_ms, supplier_zones.c.offset_ms, 9 * HOUR_MS)
        midnight = epoch_ms(c.business_day) - offset  # the day's local midnight, epoch ms
        if event_type in INTERVALS:
            start_column, end_column = (c[name] for name in INTERVALS[event_type])
        else:  # a point in time: an interval of no length
            start_column = end_column = c[POINT_TIME[event_type]]
        nonnull: Any = literal(0)
        for name in optional_fields(event_type):
            nonnull = nonnull + case((c[name].is_not(None), 1), else_=0)
        lag = case(
            (c.kafka_timestamp.is_(None), None), else_=c.kafka_timestamp - epoch_ms(c.event_time)
        )
        source = (
            scope.source(table)
            .outerjoin(
                site_zones,
                and_(site_zones.c.supplier_id == c.supplier_id, site_zones.c.site_id == c.site_id),
            )
            .outerjoin(supplier_zones, supplier_zones.c.supplier_id == c.supplier_id)
        )
        branches.append(
            select(
                c.supplier_id.label("supplier_id"),
                c.business_day.label("day"),
                literal(event_type.value, String).label("event_type"),
                (epoch_ms(start_column) - midnight).label("start_ms"),
                (epoch_ms(end_column) - midnight).label("end_ms"),
                nonnull.label("nonnull"),
                lag.label("lag_ms"),
            )
            .select_from(source)
            .where(scope.where(), c.business_day.is_not(None))
        )
    local = union_all(*branches).cte("local_times")
    x = local.c
    # The hours [lo, hi] a row overlaps for some time; a point (or a run of no length)
    # counts in the hour it closes: 08:00 sharp is hour 7.
    slots = select(
        x.supplier_id,
        x.day,
        x.event_type,
        (_clamp(x.start_ms, 0, DAY_MS - 1) // HOUR_MS).label("lo_raw"),
        (_clamp(x.end_ms - 1, 0, DAY_MS - 1) // HOUR_MS).label("hi"),
        x.nonnull,
        x.lag_ms,
    ).cte("hour_slots")
    h = slots.c
    return select(
        h.supplier_id,
        h.day,
        h.event_type,
        case((h.lo_raw > h.hi, h.hi), else_=h.lo_raw).label("lo"),
        h.hi,
        h.nonnull,
        h.lag_ms,
    ).cte("spans")


def _freshness_score(median_s: Any) -> ColumnElement[Any]:
    return case(
        *((median_s <= limit, literal(score, Double)) for limit, score in FRESHNESS_STEPS),
        else_=literal(0.0, Double),
    )


def recompute(conn: Connection, scope: Scope) -> int:
    scope.delete(conn, data_readiness)
    spans = hour_spans(scope, conn)
    s = spans.c
    types = (
        values(
            column("event_type", String),
            column("period_hours", Integer),
            column("optional_fields", Integer),
            name="feed_types",
        )
        .data([(e.value, PERIOD_HOURS[e], len(optional_fields(e))) for e in EventType])
        .cte()
    )
    hours = values(column("h", Integer), name="hours").data([(h,) for h in range(24)]).cte()
    production = s.event_type == EventType.PRODUCTION.value

    window = (
        select(
            s.supplier_id,
            s.day,
            func.coalesce(func.min(case((production, s.lo))), func.min(s.lo)).label("w_lo"),
            func.coalesce(func.max(case((production, s.hi))), func.max(s.hi)).label("w_hi"),
        )
        .group_by(s.supplier_id, s.day)
        .cte("operating_window")
    )
    q = quarantine.c
    refused = (
        select(
            q.supplier_id,
            q.received_day.label("day"),
            q.event_type,
            func.count().label("n"),
        )
        .select_from(scope.source(quarantine, q.received_day))
        .where(
            scope.where(),
            q.status == QUARANTINE_OPEN,
            q.supplier_id.is_not(None),
            q.received_day.is_not(None),
            q.event_type.in_([e.value for e in EventType]),
        )
        .group_by(q.supplier_id, q.received_day, q.event_type)
        .cte("refused")
    )
    keys = union(
        select(window.c.supplier_id, window.c.day),
        select(refused.c.supplier_id, refused.c.day),
    ).cte("active_days")
    counts = (
        select(
            s.supplier_id,
            s.day,
            s.event_type,
            func.count().label("received"),
            func.sum(s.nonnull).label("nonnull"),
        )
        .group_by(s.supplier_id, s.day, s.event_type)
        .cte("counts")
    )
    # The distinct periods each type's rows hit, kept when they overlap the window.
    hits = (
        select(s.supplier_id, s.day, s.event_type, (hours.c.h // types.c.period_hours).label("p"))
        .select_from(
            spans.join(types, types.c.event_type == s.event_type).join(
                hours, and_(hours.c.h >= s.lo, hours.c.h <= s.hi)
            )
        )
        .distinct()
        .subquery("hits")
    )
    hit_types = types.alias("hit_types")
    periods_hit = (
        select(hits.c.supplier_id, hits.c.day, hits.c.event_type, func.count().label("n"))
        .select_from(
            hits.join(
                window,
                and_(window.c.supplier_id == hits.c.supplier_id, window.c.day == hits.c.day),
            ).join(hit_types, hit_types.c.event_type == hits.c.event_type)
        )
        .where(
            hits.c.p >= window.c.w_lo // hit_types.c.period_hours,
            hits.c.p <= window.c.w_hi // hit_types.c.period_hours,
        )
        .group_by(hits.c.supplier_id, hits.c.day, hits.c.event_type)
        .cte("periods_hit")
    )
    partition = [s.supplier_id, s.day, s.event_type]
    ranked = (
        select(
            s.supplier_id,
            s.day,
            s.event_type,
            s.lag_ms,
            func.row_number().over(partition_by=partition, order_by=s.lag_ms).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(s.lag_ms.is_not(None))
        .subquery("ranked")
    )
    r = ranked.c
    lags = (
        select(
            r.supplier_id,
            r.day,
            r.event_type,
            # nearest rank: the value at rank ceil(p * n)
            func.max(case((r.rn == (r.n + 1) // 2, r.lag_ms))).label("median_ms"),
            func.max(case((r.rn == (95 * r.n + 99) // 100, r.lag_ms))).label("p95_ms"),
        )
        .group_by(r.supplier_id, r.day, r.event_type)
        .cte("lags")
    )

    def on(other: Any) -> ColumnElement[bool]:
        return and_(
            other.c.supplier_id == keys.c.supplier_id,
            other.c.day == keys.c.day,
            other.c.event_type == types.c.event_type,
        )

    received = func.coalesce(counts.c.received, 0)
    refused_n = func.coalesce(refused.c.n, 0)
    period = types.c.period_hours
    expected = case(
        (window.c.w_lo.is_(None), None),
        else_=window.c.w_hi // period - window.c.w_lo // period + 1,
    )
    received_periods = func.coalesce(periods_hit.c.n, 0)
    periods_completeness = ratio(received_periods, expected)
    fields_completeness = case(
        (
            and_(received > 0, types.c.optional_fields > 0),
            real(counts.c.nonnull) / real(received * types.c.optional_fields),
        ),
        else_=None,
    )
    median_s = real(lags.c.median_ms) / 1000.0
    quarantine_rate = ratio(refused_n, received + refused_n)
    freshness = _freshness_score(median_s)
    weighted = (
        WEIGHT_PERIODS * func.coalesce(periods_completeness, 0.0)
        + WEIGHT_FIELDS * func.coalesce(fields_completeness, 1.0)
        + WEIGHT_FRESHNESS * func.coalesce(case((lags.c.median_ms.is_not(None), freshness)), 0.0)
        + WEIGHT_QUARANTINE * (1.0 - func.coalesce(quarantine_rate, 0.0))
    )
    weights = case(
        (lags.c.median_ms.is_(None), 1.0 - WEIGHT_FRESHNESS),
        else_=1.0,
    )
    score = case((received > 0, 100.0 * weighted / weights), else_=None)
    null_reason = case(
        (
            window.c.w_lo.is_(None),
            literal("nothing landed this day (only quarantined records): no operating window"),
        ),
        (received == 0, literal("no events of this type landed this day")),
        (
            lags.c.median_ms.is_(None),
            literal("no Kafka timestamps (rows landed before they were kept): no freshness"),
        ),
        else_=None,
    )
    query = select(
        keys.c.supplier_id,
        types.c.event_type,
        keys.c.day,
        received,
        period,
        window.c.w_lo,
        window.c.w_hi,
        expected,
        received_periods,
        periods_completeness,
        types.c.optional_fields,
        fields_completeness,
        median_s,
        real(lags.c.p95_ms) / 1000.0,
        refused_n,
        quarantine_rate,
        score,
        null_reason,
    ).select_from(
        keys.join(types, true())
        .outerjoin(
            window, and_(window.c.supplier_id == keys.c.supplier_id, window.c.day == keys.c.day)
        )
        .outerjoin(counts, on(counts))
        .outerjoin(periods_hit, on(periods_hit))
        .outerjoin(lags, on(lags))
        .outerjoin(refused, on(refused))
    )
    columns = [c.name for c in data_readiness.columns]
    conn.execute(insert(data_readiness).from_select(columns, query))
    # counted, not rowcount: SQLite reports none for an INSERT that starts with WITH
    written = select(func.count()).where(
        scope.covers(data_readiness.c.supplier_id, data_readiness.c.day)
    )
    return conn.scalar(written.select_from(data_readiness)) or 0


VIEW = View(
    name="data_readiness",
    title="Received vs expected periods, field completeness, freshness, quarantine, score",
    tables=(data_readiness,),
    reads=frozenset(EventType),
    key_range=same_day,
    recompute=recompute,
    reads_quarantine=True,
    ratios=("periods_completeness", "fields_completeness", "quarantine_rate"),
)
