"""The API benchmark's ceiling: the buyer API's view and lot-trace reads with the sharing
rules and the audit trail taken out (no key lookup, no agreements in the query, no audit
row), the same SELECTs otherwise (`serving.access.page_query`), served the same way.

    .venv/bin/python -m benchmarks.api_ceiling --url DATABASE_URL --port PORT

For measuring only: it answers anyone, with every supplier's rows.
"""

from datetime import date
from typing import Annotated, Any

import typer
from fastapi import FastAPI, Header, Query, Request, Security
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.engine import Engine

from governance.models import Role
from pipelines.views.lots import lot_shipments, lot_trace
from sangsaeng.db import make_engine
from sangsaeng.http import service_app
from serving.access import (
    MAX_LIMIT,
    Caller,
    filter_conditions,
    out_value,
    page_of,
    page_query,
    request_filters,
)
from serving.access import view_table as table_of
from serving.app import POOL, serve
from serving.gate import API_KEY
from serving.routes.views import ViewPage, csv_of

cli = typer.Typer(add_completion=False)
ANYONE = Caller("ceiling", Role.BUYER)  # a buyer's columns, without a buyer's rules


def create_ceiling(engine: Engine) -> FastAPI:
    app = service_app(title="Buyer API ceiling (no enforcement, no audit)")

    @app.get("/")
    def root() -> dict[str, str]:
        return {"status": "ok"}

    # The API's parameters, headers included (read, then ignored): what differs from
    # the API is the rules and the audit, not the parsing.
    @app.get("/v1/views/{view}")
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
        filters = request_filters(
            supplier=supplier, site=site, line=line, part=part, from_=from_, to=to
        )
        table = table_of(view)
        conditions = filter_conditions(view, table, filters, ANYONE)
        with engine.connect() as conn:
            query, keys = page_query(ANYONE, view, conditions, limit=limit, cursor=cursor)
            page = page_of(query, conn.execute(query).all(), keys, limit)
        if accept and "text/csv" in accept:
            headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
            return Response(csv_of(page.columns, page.rows), media_type="text/csv", headers=headers)
        return ViewPage(
            view=view, columns=page.columns, rows=page.rows, next_cursor=page.next_cursor
        )

    @app.get("/v1/lots/{lot}/trace")
    def trace(
        request: Request,
        lot: str,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
        supplier: str | None = None,
    ) -> Any:
        table = table_of("lot_trace")
        filters = {"supplier": supplier} if supplier else {}
        conditions = [
            *filter_conditions("lot_trace", table, filters, ANYONE),
            lot_trace.c.lot_id == lot,
        ]
        s = lot_shipments.c
        with engine.connect() as conn:
            query, keys = page_query(ANYONE, "lot_trace", conditions, limit=MAX_LIMIT)
            rows = page_of(query, conn.execute(query).all(), keys, MAX_LIMIT).rows
            found = []
            for row in rows:
                shipped = select(lot_shipments).where(
                    s.supplier_id == row["supplier_id"], s.lot_id == lot
                )
                shipments = [
                    {k: out_value(v) for k, v in r._mapping.items()}
                    for r in conn.execute(shipped.order_by(s.shipped_at, s.shipment_id))
                ]
                found.append({**row, "shipped_to": shipments})
        return {"lot_id": lot, "found": found}

    return app


@cli.command()
def main(
    url: Annotated[str, typer.Option(help="The platform database, views built.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")],
) -> None:
    """Serve the ceiling app on 127.0.0.1:PORT (measuring only: no rules, no audit)."""
    serve(create_ceiling(make_engine(url, **POOL)), "127.0.0.1", port)


if __name__ == "__main__":
    cli()
