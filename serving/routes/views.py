"""The views, lots and suppliers a caller may read: `/v1/views/{view}`, `/v1/lots/{lot}/trace`,
`/v1/suppliers`."""

import csv
import io
import json
from collections import Counter
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request, Security
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from governance.models import Organisation, Purpose, Role
from governance.sharing import read_agreements
from pipelines.views.lots import lot_shipments, lot_trace
from pipelines.views.maturity import supplier_maturity
from pipelines.views.readiness import data_readiness
from serving.access import (
    FILTERS,
    MAX_LIMIT,
    Caller,
    Denied,
    agreements_in_force,
    out_value,
    page_of,
    request_filters,
    rule_values,
    shipments_condition,
    view_query,
    view_table,
)
from serving.gate import API_KEY, RESPONSES, Done, Gate


class ViewPage(BaseModel):
    view: str
    columns: list[str]
    rows: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return value.isoformat() if isinstance(value, date) else value


def csv_of(page_columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=page_columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def register(app: FastAPI, gate: Gate) -> None:
    _view(app, gate)
    _lot(app, gate)
    _suppliers(app, gate)


def _view(app: FastAPI, gate: Gate) -> None:
    @app.get(
        "/v1/views/{view}",
        summary="Rows of a view",
        responses={200: {"model": ViewPage}, **RESPONSES},
    )
    def get_view(  # noqa: PLR0917 - FastAPI reads the parameters
        request: Request,
        view: str,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
        accept: Annotated[str | None, Header()] = None,
        supplier: str | None = None,
        site: str | None = None,
        line: str | None = None,
        part: str | None = None,
        from_: Annotated[date | None, Query(alias="from")] = None,
        to: date | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        cursor: str | None = None,
    ) -> Any:
        """The view's rows the caller may read for the purpose, in key order, `limit` at a
        time (`next_cursor` continues). Filters: supplier, site, line, part (the
        supplier's part number, or the buyer's own where mapped), from / to (the view's
        period column, inclusive). `Accept: text/csv` returns the page as CSV, the next
        cursor in the `X-Next-Cursor` header."""
        filters = request_filters(
            supplier=supplier, site=site, line=line, part=part, from_=from_, to=to
        )
        unknown = set(request.query_params) - {*FILTERS, "limit", "cursor"}

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            if unknown:
                raise Denied(
                    400,
                    f"unknown parameter {sorted(unknown)[0]!r}: filters are {', '.join(FILTERS)}",
                )
            assert purpose is not None
            view_table(view)  # 404 for a name that is no shareable view
            on = gate.today()  # once: the check and the query judge the same day
            query, keys = view_query(caller, view, purpose, on, filters, limit=limit, cursor=cursor)
            page = page_of(query, conn.execute(query).all(), keys, limit)
            # No row: is it that nothing matches, or that nothing is shared? (Asked only
            # then: a row proves an agreement, and a read saves the query.)
            if not page.rows and caller.role == Role.BUYER:
                grants = conn.execute(agreements_in_force(caller.org_id, view, purpose, on)).all()
                if not grants:
                    raise Denied(
                        403,
                        f"no agreement in force shares {view} with you for {purpose.value}: "
                        "a supplier's agreement names the views and purposes it allows",
                    )
            done = Done(suppliers=page.suppliers, rows=len(page.rows))
            if accept and "text/csv" in accept:
                headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
                body = csv_of(page.columns, page.rows)
                return Response(body, media_type="text/csv", headers=headers), done
            return ViewPage(
                view=view, columns=page.columns, rows=page.rows, next_cursor=page.next_cursor
            ), done

        return gate.audited(request, x_api_key, x_purpose, read, view=view)


def _lot(app: FastAPI, gate: Gate) -> None:
    @app.get("/v1/lots/{lot}/trace", summary="Trace a lot", responses=RESPONSES)
    def lot_trace_of(
        request: Request,
        lot: str,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
        supplier: str | None = None,
    ) -> Any:
        """The lot as the caller may see it: produced (first and last time, good, scrap,
        lines), inspections (count, FAIL, defects) and its shipments (to this buyer only,
        for a buyer)."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            assert purpose is not None
            on = gate.today()
            filters = {"supplier": supplier} if supplier else {}
            query, keys = view_query(
                caller,
                "lot_trace",
                purpose,
                on,
                filters,
                limit=MAX_LIMIT,
                where=[lot_trace.c.lot_id == lot],
            )
            rows = page_of(query, conn.execute(query).all(), keys, MAX_LIMIT).rows
            s = lot_shipments.c
            out = []
            for row in rows:
                shipped = select(lot_shipments).where(
                    s.supplier_id == row["supplier_id"], s.lot_id == lot
                )
                if caller.role == Role.BUYER:  # its own shipments, of parts in its scope
                    shipped = shipped.where(shipments_condition()).params(
                        rule_values(caller, purpose, on)
                    )
                shipments = [
                    {k: out_value(v) for k, v in r._mapping.items()}
                    for r in conn.execute(shipped.order_by(s.shipped_at, s.shipment_id))
                ]
                out.append({**row, "shipped_to": shipments})
            if not out:
                raise Denied(404, f"no lot {lot!r} you may see for {purpose.value}")
            counted = Counter(r["supplier_id"] for r in out)
            return {"lot_id": lot, "found": out}, Done(suppliers=dict(counted), rows=len(out))

        return gate.audited(request, x_api_key, x_purpose, read, view="lot_trace")


def _suppliers(app: FastAPI, gate: Gate) -> None:
    @app.get("/v1/suppliers", summary="My sponsored suppliers (buyer)", responses=RESPONSES)
    def suppliers(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """The suppliers with an agreement in force with you for the purpose: name,
        sector, the latest maturity level (where supplier_maturity is shared) and the mean
        readiness score of its last 7 scored days (where data_readiness is shared)."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.BUYER)
            assert purpose is not None
            on = gate.today()
            shared = {
                view: {
                    r.supplier_id
                    for r in conn.execute(agreements_in_force(caller.org_id, view, purpose, on))
                }
                for view in ("supplier_maturity", "data_readiness")
            }
            ids = sorted(
                {
                    r.supplier_id
                    for r in read_agreements(conn, buyer_id=caller.org_id)
                    if r.in_force(on) and purpose.value in r.purposes
                }
            )
            org = Organisation.__table__.c
            names = {
                r.org_id: (r.name, r.sector)
                for r in conn.execute(
                    select(org.org_id, org.name, org.sector).where(org.org_id.in_(ids))
                )
            }
            m, d = supplier_maturity.c, data_readiness.c
            out = []
            for supplier_id in ids:
                level = None
                if supplier_id in shared["supplier_maturity"]:
                    level = conn.scalar(
                        select(m.level)
                        .where(m.supplier_id == supplier_id)
                        .order_by(m.week.desc())
                        .limit(1)
                    )
                readiness = None
                if supplier_id in shared["data_readiness"]:
                    # the mean score of the last 7 days that have one (a day with only
                    # quarantined records has none)
                    scored = and_(d.supplier_id == supplier_id, d.score.is_not(None))
                    last = conn.scalar(select(func.max(d.day)).where(scored))
                    if last is not None:
                        readiness = conn.scalar(
                            select(func.avg(d.score)).where(
                                scored, d.day > last - timedelta(days=7)
                            )
                        )
                name, sector = names.get(supplier_id, (None, None))
                out.append(
                    {
                        "supplier_id": supplier_id,
                        "name": name,
                        "sector": sector,
                        "maturity_level": level,
                        "readiness_score": None
                        if readiness is None
                        else round(float(readiness), 1),
                    }
                )
            return {"suppliers": out}, Done(suppliers=dict.fromkeys(ids, 1), rows=len(out))

        return gate.audited(request, x_api_key, x_purpose, read)

    # -- the supplier's own -------------------------------------------------------------
