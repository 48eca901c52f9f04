"""A supplier's own: its agreements (narrow, revoke), who saw its data, its refused events:
`/v1/me/...`."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request, Security
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from governance import audit
from governance.models import Purpose, Role
from governance.sharing import Change, narrow, read_agreements, revoke
from pipelines.quarantine import list_quarantine
from pipelines.views.maturity import supplier_maturity
from pipelines.views.readiness import data_readiness
from serving.access import (
    MAX_LIMIT,
    Caller,
)
from serving.gate import API_KEY, RESPONSES, BodyText, Done, Gate


class NarrowRequest(BaseModel):
    views: list[BodyText] | None = None
    purposes: list[BodyText] | None = None
    parts: list[BodyText] | None = Field(
        None, description="Only these of the parts shipped to the buyer."
    )
    valid_to: date | None = None


def register(app: FastAPI, gate: Gate) -> None:
    _agreements(app, gate)
    _audit(app, gate)
    _quarantine(app, gate)
    _standing(app, gate)


def _standing(app: FastAPI, gate: Gate) -> None:
    @app.get(
        "/v1/me/maturity", summary="My maturity level, evidence, next step", responses=RESPONSES
    )
    def my_maturity(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Your smart-factory level in your latest week with data, with the evidence for
        every criterion (met, measured value, threshold) and the next step."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.SUPPLIER)
            m = supplier_maturity.c
            row = conn.execute(
                select(supplier_maturity)
                .where(m.supplier_id == caller.org_id)
                .order_by(m.week.desc())
                .limit(1)
            ).first()
            found = dict(row._mapping) if row else None
            return {"maturity": found}, Done({caller.org_id: 1} if row else {}, 1 if row else 0)

        return gate.audited(request, x_api_key, x_purpose, read, purpose_needed=False)

    @app.get("/v1/me/readiness", summary="My data readiness, last 7 days", responses=RESPONSES)
    def my_readiness(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Your data_readiness rows of the last 7 days with data: per event type and day,
        received vs expected periods, completeness, freshness, quarantine rate, score."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.SUPPLIER)
            d = data_readiness.c
            last = conn.scalar(select(func.max(d.day)).where(d.supplier_id == caller.org_id))
            rows = []
            if last is not None:
                rows = [
                    dict(r._mapping)
                    for r in conn.execute(
                        select(data_readiness)
                        .where(d.supplier_id == caller.org_id, d.day > last - timedelta(days=7))
                        .order_by(d.day, d.event_type)
                    )
                ]
            return {"readiness": rows}, Done({caller.org_id: len(rows)} if rows else {}, len(rows))

        return gate.audited(request, x_api_key, x_purpose, read, purpose_needed=False)


def _agreements(app: FastAPI, gate: Gate) -> None:
    @app.get(
        "/v1/me/agreements",
        summary="My agreements (supplier) or agreements with me (buyer)",
        responses=RESPONSES,
    )
    def my_agreements(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.SUPPLIER, Role.BUYER)
            by = (
                {"supplier_id": caller.org_id}
                if caller.role == Role.SUPPLIER
                else {"buyer_id": caller.org_id}
            )
            rows = [a.as_row() for a in read_agreements(conn, **by)]
            return {"agreements": rows}, Done(rows=len(rows))

        return gate.audited(request, x_api_key, x_purpose, read, purpose_needed=False)

    @app.post(
        "/v1/me/agreements/{agreement_id}/narrow",
        summary="Narrow my agreement (supplier)",
        responses=RESPONSES,
    )
    def narrow_agreement(
        request: Request,
        agreement_id: str,
        body: NarrowRequest,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Fewer views, purposes or parts, or an earlier end; anything wider is refused."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.SUPPLIER)
            change = Change(body.views, body.purposes, body.parts, body.valid_to)
            done = narrow(conn, agreement_id, caller.org_id, change, datetime.now(UTC))
            return done.as_row(), Done(rows=1)

        return gate.audited(request, x_api_key, x_purpose, read, purpose_needed=False)

    @app.post(
        "/v1/me/agreements/{agreement_id}/revoke",
        summary="Revoke my agreement (supplier)",
        responses=RESPONSES,
    )
    def revoke_agreement(
        request: Request,
        agreement_id: str,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Revoke at once: the buyer's next read no longer sees your rows."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.SUPPLIER)
            done = revoke(conn, agreement_id, datetime.now(UTC), supplier_id=caller.org_id)
            return done.as_row(), Done(rows=1)

        return gate.audited(request, x_api_key, x_purpose, read, purpose_needed=False)


def _audit(app: FastAPI, gate: Gate) -> None:
    @app.get("/v1/me/audit", summary="Who saw my data (supplier)", responses=RESPONSES)
    def my_audit(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    ) -> Any:
        """The reads that returned your rows, newest first: organisation, role, purpose,
        endpoint, view, filters, how many of the rows were yours, time. `before` = the
        `seq` to continue below."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.SUPPLIER)
            rows = [
                {
                    "seq": r.seq,
                    "at": r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
                    "organisation": r.org_id,
                    "role": r.role,
                    "purpose": r.purpose,
                    "endpoint": r.endpoint,
                    "view": r.view,
                    "filters": r.filters,
                    "rows": r.supplier_rows,  # of the rows returned, yours
                    "status": r.status,
                }
                for r in audit.entries_for_supplier(
                    conn, caller.org_id, limit=limit, before_seq=before
                )
            ]
            return {"reads": rows}, Done(rows=len(rows))

        return gate.audited(request, x_api_key, x_purpose, read, purpose_needed=False)


def _quarantine(app: FastAPI, gate: Gate) -> None:
    @app.get(
        "/v1/me/quarantine",
        summary="My refused events and what to fix (supplier)",
        responses=RESPONSES,
    )
    def my_quarantine(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> Any:
        """Your quarantined events, newest first, each with its reasons (rule, field,
        what to fix)."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.SUPPLIER)
            rows = [
                {
                    "quarantine_id": e.quarantine_id,
                    "first_seen": e.first_seen,
                    "event_type": e.event_type,
                    "event_id": e.event_id,
                    "status": e.status,
                    "reasons": e.reasons,
                }
                for e in list_quarantine(gate.engine, supplier_id=caller.org_id, limit=limit)
            ]
            return {"quarantined": rows}, Done(
                suppliers={caller.org_id: len(rows)} if rows else {}, rows=len(rows)
            )

        return gate.audited(request, x_api_key, x_purpose, read, purpose_needed=False)

    # -- the programme (operator, ministry) --------------------------------------------
