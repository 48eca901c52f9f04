"""The programme's roll-ups for the operator and the ministry (never a group of fewer
than five suppliers) and the operator's list of sponsorships."""

from typing import Annotated, Any

from fastapi import FastAPI, Header, Request, Security
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from governance.models import Purpose, Role, Sponsorship
from pipelines.views.impact import programme_impact_rollup
from pipelines.views.maturity import LEVELS, supplier_maturity
from pipelines.views.summary import NATIONAL_PCT
from serving.access import (
    Caller,
    Denied,
)
from serving.gate import API_KEY, RESPONSES, Done, Gate

MIN_GROUP = 5  # the operator and the ministry never see a group of fewer suppliers


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
        """Suppliers per level (each at its latest week) against the national shares;
        a level with fewer than 5 suppliers shows no count (`suppressed`)."""

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
            rows = []
            for level in LEVELS:
                n = sum(1 for v in levels if v == level.value)
                hidden = 0 < n < MIN_GROUP
                rows.append(
                    {
                        "level": level.value,
                        "suppliers": None if hidden else n,
                        "share_pct": None if hidden or not total else round(100.0 * n / total, 1),
                        "national_pct": NATIONAL_PCT.get(level.value),
                        "suppressed": hidden,
                    }
                )
            if 0 < total < MIN_GROUP:
                raise Denied(
                    403, f"fewer than {MIN_GROUP} suppliers in the programme: nothing to show"
                )
            return {"suppliers": total, "levels": rows}, Done(rows=len(rows))

        return gate.audited(request, x_api_key, x_purpose, read)

    @app.get(
        "/v1/programme/impact",
        summary="Impact by sector and sponsor (operator, ministry)",
        responses=RESPONSES,
    )
    def programme_impact(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """The mean uplift per sector and per sponsor with its 95 % interval; groups of
        fewer than 5 suppliers are left out."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.OPERATOR, Role.MINISTRY)
            r = programme_impact_rollup.c
            rows = [
                dict(x._mapping)
                for x in conn.execute(
                    select(programme_impact_rollup)
                    .where(r.suppliers >= MIN_GROUP)
                    .order_by(r.group_kind, r.group_id, r.metric)
                )
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
