"""The programme's roll-ups for the operator and the ministry (never a group of fewer
than five suppliers) and the operator's list of sponsorships."""

import math
from statistics import fmean
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request, Security
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from governance.models import Purpose, Role, Sponsorship
from pipelines.views.impact import groups_of, programme_impact, programme_impact_rollup
from pipelines.views.maturity import LEVELS, supplier_maturity
from pipelines.views.summary import NATIONAL_PCT
from serving.access import (
    Caller,
    Denied,
)
from serving.disclosure import MIN_GROUP, merged_levels, safe_groups
from serving.gate import API_KEY, RESPONSES, Done, Gate


def register(app: FastAPI, gate: Gate) -> None:
    @app.get(
        "/v1/programme/maturity",
        summary="Maturity distribution (operator, ministry)",
        responses=RESPONSES,
    )
    def programme_maturity(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Suppliers per level (each at its latest week) against the national shares.
        No group holds 1 to 4 suppliers: a small level is merged with the one below it
        (`levels` lists what a row covers), so no count can be worked out by subtraction."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.OPERATOR, Role.MINISTRY)
            m = supplier_maturity.c
            latest = (
                select(m.supplier_id, func.max(m.week).label("week"))
                .group_by(m.supplier_id)
                .subquery()
            )
            levels = [
                r.level
                for r in conn.execute(
                    select(m.level).join(
                        latest, and_(latest.c.supplier_id == m.supplier_id, latest.c.week == m.week)
                    )
                )
            ]
            total = len(levels)
            counts = [
                (
                    level.value,
                    sum(1 for v in levels if v == level.value),
                    NATIONAL_PCT.get(level.value),
                )
                for level in LEVELS
            ]
            try:
                groups = merged_levels(counts, MIN_GROUP)
            except ValueError:
                raise Denied(
                    403, f"fewer than {MIN_GROUP} suppliers in the programme: nothing to show"
                ) from None
            rows = [
                {
                    "levels": list(g.levels),
                    "suppliers": g.suppliers,
                    "share_pct": round(100.0 * g.suppliers / total, 1) if total else 0.0,
                    "national_pct": g.national_pct,
                }
                for g in groups
            ]
            return {"suppliers": total, "levels": rows}, Done(rows=len(rows))

        return gate.audited(request, x_api_key, x_purpose, read)

    @app.get(
        "/v1/programme/impact",
        summary="Impact by sector and sponsor (operator, ministry)",
        responses=RESPONSES,
    )
    def impact_by_group(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """The mean uplift per sector and per sponsor with its 95 % interval. Left out:
        groups of fewer than 5 suppliers, and both of a sector and a sponsor whose
        suppliers differ by 1 to 4 (their two means would give those suppliers' mean)."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.OPERATOR, Role.MINISTRY)
            r, i = programme_impact_rollup.c, programme_impact.c
            member_of = groups_of(conn)
            # each live group's members with their uplifts
            members: dict[tuple[str, str, str], dict[str, float]] = {}
            for supplier_id, metric, uplift in conn.execute(
                select(i.supplier_id, i.metric, i.uplift_pct).where(i.uplift_pct.is_not(None))
            ):
                for kind, group in member_of.get(supplier_id, []):
                    members.setdefault((kind.value, group, metric), {})[supplier_id] = uplift
            shown: set[tuple[str, str, str]] = set()
            for metric in {k[2] for k in members}:
                of_metric = {k: frozenset(v) for k, v in members.items() if k[2] == metric}
                shown |= {k for k in safe_groups(of_metric, MIN_GROUP) if isinstance(k, tuple)}
            rows = [
                dict(x._mapping)
                for x in conn.execute(
                    select(programme_impact_rollup)
                    .where(r.suppliers >= MIN_GROUP)
                    .order_by(r.group_kind, r.group_id, r.metric)
                )
                if (x.group_kind, x.group_id, x.metric) in shown
                and _as_live(x, list(members[(x.group_kind, x.group_id, x.metric)].values()))
            ]
            return {"groups": rows, "min_suppliers": MIN_GROUP}, Done(rows=len(rows))

        return gate.audited(request, x_api_key, x_purpose, read)

    @app.get("/v1/sponsorships", summary="Sponsorships (operator)", responses=RESPONSES)
    def sponsorships(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.OPERATOR)
            s = Sponsorship.__table__
            rows = [dict(x._mapping) for x in conn.execute(select(s).order_by(s.c.sponsorship_id))]
            return {"sponsorships": rows}, Done(rows=len(rows))

        return gate.audited(request, x_api_key, x_purpose, read, purpose_needed=False)


def _as_live(row: Any, live: list[float]) -> bool:
    """Whether a stored roll-up row holds what its live group would: as many suppliers,
    the same mean. The groups judged safe are the live ones; a row computed before a
    sponsorship or a sector changed (until the next refresh) may count other suppliers,
    and shown beside live groups its mean could be worked out by difference: it waits."""
    return row.suppliers == len(live) and math.isclose(
        row.uplift_pct, fmean(live), rel_tol=1e-9, abs_tol=1e-9
    )
