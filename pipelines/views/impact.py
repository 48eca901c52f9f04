"""programme_impact: each supplier's results before and after its smart-factory go-live,
and programme_impact_rollup: the same per sector and per sponsor.

Per supplier and metric, from the daily views (one value per supplier and local day):
- good_per_run_hour = Σ good / Σ run_hours over the day's production_daily rows (units
  per hour); scrap_rate = Σ scrap / (Σ good + Σ scrap) (production_daily);
- oee = the mean of oee_daily.oee over the supplier's lines that day (lines without an
  OEE left out), summed exactly in Python so no row order changes its last digit;
- ppm = Σ defective / Σ inspected * 1,000,000 over the day's quality_daily rows of the
  IN_PROCESS and FINAL stages (defective parts per million; INCOMING inspections judge
  bought-in material, not the supplier's own process).
A day is *before* when it lies before organisation.go_live, *after* when it lies
`impact_ramp_up_days` (setting, default 14) or more after it; the ramp-up days between
are left out. Days without a value (no run hours, nothing inspected) do not count, nor
does any day of a supplier without a go-live date.
days_before, days_after: the days counted. mean_before, mean_after: the means of the
daily values (each day weighs the same). uplift_pct = 100 * (mean_after - mean_before) /
mean_before: the raw change in per cent, so for scrap_rate and ppm, where a fall is the
improvement, a negative uplift is the gain; `better` says whether the metric moved the
good way (`higher_is_better` is the direction). ci_low_pct, ci_high_pct: a 95 %
percentile bootstrap interval of uplift_pct, the before-days and the after-days
resampled independently (`RESAMPLES` times) by the Poisson bootstrap: in each resample
every day of a side counts w times, w drawn from Poisson(1), and the side's mean is the
weighted mean (Hanley and MacGibbon 2006; for the day counts here it agrees with the
classic resampling with replacement). The weights belong to a side's i-th day in day
order and are drawn once from fixed seeds, the same for every supplier and metric, so
the same daily values always give the same interval, incremental refresh or full, and a
refresh costs one matrix-vector product per side instead of fresh draws. Resamples in
which a side draws no day are left out. uplift_pct and the interval are NULL with
`null_reason` when the supplier has no go-live date, a side has fewer than `MIN_DAYS`
days, or mean_before is 0 (no relative change of nothing); the interval alone when a
resample's before-mean is 0.

The roll-up, per sector and per sponsor (organisation.sector; the buyers of the
supplier's sponsorships and organisation.sponsor_id, so a supplier with two sponsors is
in both; suppliers without one are in no group of that kind) and metric: suppliers = those with
an uplift_pct; uplift_pct = their mean (each supplier weighs the same); ci_low_pct,
ci_high_pct = a 95 % percentile bootstrap interval of that mean over the suppliers
(NULL with `null_reason` below `MIN_SUPPLIERS` suppliers). It is small and rebuilt whole
on each refresh.

programme_impact_daily holds the daily values (supplier, metric, day), refreshed per
touched day like the daily views. A touched day changes the supplier's whole
comparison, so programme_impact is recomputed for every supplier of the refresh from
its daily values there: one indexed read, not a pass over the daily views' history.
A reference load (go-live dates, sectors, sponsors) touches its suppliers
(`reads_reference`); a changed ramp-up setting touches no key: `sangsaeng views refresh
--full` applies it.
"""

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Double,
    Integer,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    Text,
    case,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection

from governance.models import Organisation, Sponsorship
from pipelines.views.base import Scope, View, same_day
from pipelines.views.oee import oee_daily
from pipelines.views.production import production_daily
from pipelines.views.quality import quality_daily
from pipelines.views.sql import plus_days, ratio
from sangsaeng.db import METADATA
from schemas.topics import EventType

MIN_DAYS = 3  # days a side needs for an uplift
MIN_SUPPLIERS = 2  # suppliers a roll-up needs for an interval
RESAMPLES = 2_000  # bootstrap resamples
CONFIDENCE = 95.0  # per cent


class Metric(StrEnum):
    """The results compared before and after go-live."""

    GOOD_PER_RUN_HOUR = "good_per_run_hour"
    OEE = "oee"
    SCRAP_RATE = "scrap_rate"
    PPM = "ppm"


HIGHER_IS_BETTER: dict[Metric, bool] = {
    Metric.GOOD_PER_RUN_HOUR: True,
    Metric.OEE: True,
    Metric.SCRAP_RATE: False,
    Metric.PPM: False,
}


class GroupKind(StrEnum):
    """What a roll-up groups the suppliers by."""

    SECTOR = "sector"
    SPONSOR = "sponsor"


def _result_columns(uplift: str) -> list[Column[Any]]:
    return [
        Column("uplift_pct", Double, comment=uplift),
        Column("ci_low_pct", Double, comment="Low end of the 95 % bootstrap interval (%)."),
        Column("ci_high_pct", Double, comment="High end of the 95 % bootstrap interval (%)."),
        Column(
            "higher_is_better",
            Boolean,
            nullable=False,
            comment="The metric's good direction: false for scrap_rate and ppm.",
        ),
        Column("better", Boolean, comment="Whether uplift_pct moved the good direction."),
        Column("null_reason", Text, comment="Why uplift_pct or the interval is NULL."),
    ]


programme_impact = Table(
    "programme_impact",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column(
        "metric", String(32), nullable=False, comment="good_per_run_hour, oee, scrap_rate, ppm."
    ),
    Column("go_live", Date, comment="organisation.go_live when computed (NULL: none)."),
    Column("ramp_up_days", Integer, nullable=False, comment="Days from go-live left out."),
    Column("days_before", Integer, nullable=False, comment="Days with a value before go-live."),
    Column("days_after", Integer, nullable=False, comment="Days with a value after the ramp-up."),
    Column("mean_before", Double, comment="Mean daily value before go-live (metric's unit)."),
    Column("mean_after", Double, comment="Mean daily value after the ramp-up (metric's unit)."),
    *_result_columns("100 * (mean_after - mean_before) / mean_before (per cent)."),
    PrimaryKeyConstraint("supplier_id", "metric"),
    comment="Each supplier's metrics before and after its smart-factory go-live.",
)

programme_impact_daily = Table(
    "programme_impact_daily",
    METADATA,
    Column("supplier_id", String(64), nullable=False),
    Column(
        "metric", String(32), nullable=False, comment="good_per_run_hour, oee, scrap_rate, ppm."
    ),
    Column("day", Date, nullable=False, comment="Local day (site timezone) of the values."),
    Column("value", Double, nullable=False, comment="The metric's daily value (its unit)."),
    PrimaryKeyConstraint("supplier_id", "metric", "day"),
    comment="Each supplier's daily value of the impact metrics (what programme_impact compares).",
)

programme_impact_rollup = Table(
    "programme_impact_rollup",
    METADATA,
    Column("group_kind", String(16), nullable=False, comment="sector or sponsor."),
    Column("group_id", String(100), nullable=False, comment="The sector, or the sponsor's id."),
    Column(
        "metric", String(32), nullable=False, comment="good_per_run_hour, oee, scrap_rate, ppm."
    ),
    Column("suppliers", Integer, nullable=False, comment="Suppliers with an uplift_pct."),
    *_result_columns("Mean of the suppliers' uplift_pct (per cent)."),
    PrimaryKeyConstraint("group_kind", "group_id", "metric"),
    comment="Mean supplier uplift per sector and per sponsor, with a bootstrap interval.",
)


# -- the bootstrap ------------------------------------------------------------------------


def seed_for(*parts: str) -> int:
    """A seed fixed by `parts` (the same in every process, unlike `hash`)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _resampled_means(values: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    picks = rng.integers(0, len(data), size=(RESAMPLES, len(data)))
    means: np.ndarray = data[picks].mean(axis=1)
    return means


def _interval(samples: np.ndarray) -> tuple[float, float]:
    tail = (100.0 - CONFIDENCE) / 2
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


WEIGHT_BLOCK = 256  # days whose Poisson weights are drawn from one seed
# Per side: the weights drawn so far, (RESAMPLES, k * WEIGHT_BLOCK), and their running sums
# along the days (exact: whole numbers), so a side of n days costs a slice, not a copy.
_weights: dict[str, np.ndarray] = {}
_weight_totals: dict[str, np.ndarray] = {}


def _drawn(side: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    have = _weights.get(side, np.zeros((RESAMPLES, 0)))
    if have.shape[1] < n:
        blocks = [have]
        for block in range(have.shape[1] // WEIGHT_BLOCK, (n - 1) // WEIGHT_BLOCK + 1):
            rng = np.random.default_rng(seed_for("impact-weights", side, str(block)))
            blocks.append(rng.poisson(1.0, size=(RESAMPLES, WEIGHT_BLOCK)).astype(np.float64))
        have = _weights[side] = np.hstack(blocks)
        _weight_totals[side] = np.cumsum(have, axis=1)
    return have, _weight_totals[side]


def poisson_weights(side: str, n: int) -> np.ndarray:
    """The (RESAMPLES, n) Poisson(1) weights of a side's first n days: column i is the
    i-th day's, drawn in blocks of `WEIGHT_BLOCK` columns from seeds fixed by the side and
    the block, so it is the same whatever n (and in every process)."""
    return _drawn(side, n)[0][:, :n]


def _weighted_sums(side: str, values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per resample: Σ w·x and Σ w over the side's days."""
    n = len(values)
    weights, totals = _drawn(side, n)
    sums: np.ndarray = weights[:, :n] @ np.asarray(values, dtype=float)
    return sums, totals[:, n - 1] if n else np.zeros(RESAMPLES)


def uplift_interval(before: Sequence[float], after: Sequence[float]) -> tuple[float, float] | None:
    """The 95 % percentile Poisson-bootstrap interval of 100 * (mean after - mean before) /
    mean before, the two sides resampled independently (resamples in which a side draws no
    day left out); None when a resampled before-mean is 0."""
    sums_before, counts_before = _weighted_sums("before", before)
    sums_after, counts_after = _weighted_sums("after", after)
    kept = (counts_before > 0) & (counts_after > 0)
    mean_before = sums_before[kept] / counts_before[kept]
    mean_after = sums_after[kept] / counts_after[kept]
    if not np.all(mean_before != 0):
        return None
    return _interval(100.0 * (mean_after - mean_before) / mean_before)


def mean_interval(values: Sequence[float], seed: int) -> tuple[float, float]:
    """The 95 % percentile bootstrap interval of the mean of `values`."""
    return _interval(_resampled_means(values, np.random.default_rng(seed)))


def _better(metric: Metric, uplift: float | None) -> bool | None:
    if uplift is None:
        return None
    return uplift > 0 if HIGHER_IS_BETTER[metric] else uplift < 0


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(np.asarray(values, dtype=float))) if values else None


def compare(
    supplier_id: str,
    metric: Metric,
    go_live: date | None,
    sides: tuple[Sequence[float], Sequence[float]],
    ramp_up_days: int,
) -> dict[str, Any]:
    """One programme_impact row from a supplier's daily values of `metric` before go-live
    and after the ramp-up (each in day order)."""
    before, after = sides if go_live is not None else ((), ())
    mean_before, mean_after = _mean(before), _mean(after)
    uplift: float | None = None
    interval: tuple[float, float] | None = None
    reason: str | None = None
    if go_live is None:
        reason = "no go-live date"
    elif len(before) < MIN_DAYS:
        reason = f"{_days(len(before))} before go-live, {MIN_DAYS} needed"
    elif len(after) < MIN_DAYS:
        reason = f"{_days(len(after))} after the {ramp_up_days}-day ramp-up, {MIN_DAYS} needed"
    elif mean_before == 0 or mean_before is None or mean_after is None:
        reason = "mean before go-live is 0: no relative change"
    else:
        uplift = 100.0 * (mean_after - mean_before) / mean_before
        interval = uplift_interval(before, after)
        if interval is None:
            reason = "no interval: a resample of the days before go-live has mean 0"
    return {
        "supplier_id": supplier_id,
        "metric": metric.value,
        "go_live": go_live,
        "ramp_up_days": ramp_up_days,
        "days_before": len(before),
        "days_after": len(after),
        "mean_before": mean_before,
        "mean_after": mean_after,
        "uplift_pct": uplift,
        "ci_low_pct": interval[0] if interval else None,
        "ci_high_pct": interval[1] if interval else None,
        "higher_is_better": HIGHER_IS_BETTER[metric],
        "better": _better(metric, uplift),
        "null_reason": reason,
    }


def roll_up(
    kind: GroupKind, group_id: str, metric: Metric, uplifts: Sequence[float]
) -> dict[str, Any]:
    """One programme_impact_rollup row from the group's supplier uplifts (supplier order)."""
    mean = _mean(uplifts)
    interval: tuple[float, float] | None = None
    reason: str | None = None
    if not uplifts:
        reason = "no supplier with an uplift"
    elif len(uplifts) < MIN_SUPPLIERS:
        reason = f"{len(uplifts)} supplier with an uplift, {MIN_SUPPLIERS} needed for an interval"
    else:
        interval = mean_interval(uplifts, seed_for("impact-rollup", kind, group_id, metric))
    return {
        "group_kind": kind.value,
        "group_id": group_id,
        "metric": metric.value,
        "suppliers": len(uplifts),
        "uplift_pct": mean,
        "ci_low_pct": interval[0] if interval else None,
        "ci_high_pct": interval[1] if interval else None,
        "higher_is_better": HIGHER_IS_BETTER[metric],
        "better": _better(metric, mean),
        "null_reason": reason,
    }


# -- the daily values, in SQL -------------------------------------------------------------


def _daily(scope: Scope, metric: Metric) -> Select[Any]:
    """(supplier_id, day, value) of `metric` in the scope, ordered by supplier and day: one
    row per day, but for OEE one per line (averaged in Python, see `_per_day`).

    Every sum is of whole numbers, so exact in any order: an incremental refresh and a
    full one read the same value to the last bit (run hours come back to whole ms)."""
    match metric:
        case Metric.GOOD_PER_RUN_HOUR | Metric.SCRAP_RATE:
            t = production_daily
            good, scrap = func.sum(t.c.good), func.sum(t.c.scrap)
            run_ms = func.sum(func.round(t.c.run_hours * 3_600_000.0))
            value = (
                ratio(good * 3_600_000.0, run_ms)
                if metric is Metric.GOOD_PER_RUN_HOUR
                else ratio(scrap, good + scrap)
            )
            query = select(t.c.supplier_id, t.c.day, value).group_by(t.c.supplier_id, t.c.day)
        case Metric.OEE:
            t = oee_daily
            query = select(t.c.supplier_id, t.c.day, t.c.oee).where(t.c.oee.is_not(None))
        case Metric.PPM:
            t = quality_daily
            value = ratio(func.sum(t.c.defective) * 1_000_000.0, func.sum(t.c.inspected))
            query = (
                select(t.c.supplier_id, t.c.day, value)
                .where(t.c.inspection_stage.in_(("IN_PROCESS", "FINAL")))
                .group_by(t.c.supplier_id, t.c.day)
            )
    return (
        query.select_from(scope.source(t, t.c.day))
        .where(scope.where())
        .order_by(t.c.supplier_id, t.c.day)
    )


def _per_day(rows: Iterable[Any]) -> dict[str, list[tuple[date, float]]]:
    """Each supplier's (day, value) in day order, a day's values averaged (the OEE of its
    lines) with an exactly rounded sum, whatever order the database gave them in."""
    values: dict[tuple[str, date], list[float]] = defaultdict(list)
    for supplier_id, day, value in rows:
        if value is not None:
            values[(supplier_id, day)].append(float(value))
    out: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for (supplier_id, day), found in sorted(values.items()):
        out[supplier_id].append((day, math.fsum(found) / len(found)))
    return out


def _refresh_daily(conn: Connection, scope: Scope) -> None:
    """Delete and re-insert programme_impact_daily over the scope's days."""
    scope.delete(conn, programme_impact_daily)
    rows = [
        {"supplier_id": supplier_id, "metric": metric.value, "day": day, "value": value}
        for metric in Metric
        for supplier_id, values in _per_day(conn.execute(_daily(scope, metric))).items()
        for day, value in values
    ]
    if rows:
        conn.execute(insert(programme_impact_daily), rows)


def recompute(conn: Connection, scope: Scope) -> int:
    _refresh_daily(conn, scope)
    impact, d = programme_impact, programme_impact_daily.c
    conn.execute(delete(impact).where(scope.has_supplier(impact.c.supplier_id)))
    metrics = {m.value: m for m in Metric}
    org = Organisation.__table__
    ramp = scope.settings.impact_ramp_up_days
    side = case(
        (d.day < org.c.go_live, "before"), (d.day >= plus_days(org.c.go_live, ramp), "after")
    )
    sides: dict[tuple[str, Metric], tuple[list[float], list[float]]] = {}
    # The side is worked out in SQL, so the day itself never has to come back: a supplier's
    # history is thousands of rows, and reading dates is most of what reading costs.
    for supplier_id, metric, on_side, value in conn.execute(
        select(d.supplier_id, d.metric, side, d.value)
        .select_from(programme_impact_daily.outerjoin(org, org.c.org_id == d.supplier_id))
        .where(scope.has_supplier(d.supplier_id))
        .order_by(d.day)  # the resample weights belong to the days in this order
    ):
        before, after = sides.setdefault((supplier_id, metrics[metric]), ([], []))
        if on_side == "before":
            before.append(value)
        elif on_side == "after":
            after.append(value)
    go_live = {org_id: day for org_id, day in conn.execute(select(org.c.org_id, org.c.go_live))}
    rows = [
        compare(
            supplier_id,
            metric,
            go_live.get(supplier_id),
            sides.get((supplier_id, metric), ([], [])),
            ramp,
        )
        for supplier_id in sorted({s for s, _ in sides})
        for metric in Metric
    ]
    if rows:
        conn.execute(insert(impact), rows)
    return len(rows) + recompute_rollup(conn)


def sponsors_of(conn: Connection) -> dict[str, set[str]]:
    """Each supplier's sponsors: the buyers of its sponsorships and the reference file's
    `sponsor_id` (a supplier with two sponsors is in both sponsors' groups)."""
    org, sp = Organisation.__table__.c, Sponsorship.__table__.c
    found: dict[str, set[str]] = defaultdict(set)
    for supplier_id, sponsor in conn.execute(
        select(org.org_id, org.sponsor_id).where(org.sponsor_id.is_not(None))
    ):
        found[supplier_id].add(sponsor)
    for supplier_id, sponsor in conn.execute(select(sp.supplier_id, sp.buyer_id)):
        found[supplier_id].add(sponsor)
    return found


def groups_of(conn: Connection) -> dict[str, list[tuple[GroupKind, str]]]:
    """Each supplier's roll-up groups: its sector and each of its sponsors."""
    org = Organisation.__table__.c
    sponsors = sponsors_of(conn)
    out: dict[str, list[tuple[GroupKind, str]]] = defaultdict(list)
    for supplier_id, sector in conn.execute(
        select(org.org_id, org.sector).where(org.sector.is_not(None))
    ):
        out[supplier_id].append((GroupKind.SECTOR, sector))
    for supplier_id, ids in sponsors.items():
        out[supplier_id] += [(GroupKind.SPONSOR, s) for s in sorted(ids)]
    return out


def recompute_rollup(conn: Connection) -> int:
    """Rebuild programme_impact_rollup from the whole of programme_impact."""
    conn.execute(delete(programme_impact_rollup))
    impact = programme_impact
    found = conn.execute(select(impact.c.supplier_id, impact.c.metric, impact.c.uplift_pct)).all()
    member_of = groups_of(conn)
    # sorted here, not by the database's collation: the resamples follow the supplier order
    found.sort(key=lambda r: (r[0], r[1]))
    groups: dict[tuple[GroupKind, str, Metric], list[float]] = {}
    for supplier, metric, uplift in found:
        for kind, group_id in member_of.get(supplier, []):
            uplifts = groups.setdefault((kind, group_id, Metric(metric)), [])
            if uplift is not None:
                uplifts.append(float(uplift))
    rows = [
        roll_up(kind, group_id, metric, uplifts)
        for (kind, group_id, metric), uplifts in sorted(groups.items())
    ]
    if rows:
        conn.execute(insert(programme_impact_rollup), rows)
    return len(rows)


VIEW = View(
    name="programme_impact",
    title="Each supplier's units per run hour, OEE, scrap and ppm before and after go-live",
    tables=(programme_impact, programme_impact_daily, programme_impact_rollup),
    reads=frozenset({EventType.PRODUCTION, EventType.QUALITY, EventType.MACHINE_STATUS}),
    key_range=same_day,  # the daily values; recompute compares the suppliers' whole history
    recompute=recompute,
    depends_on=("production_daily", "quality_daily", "oee_daily"),
    day_column="go_live",
    reads_reference=True,  # go-live dates, sectors and sponsors
)
