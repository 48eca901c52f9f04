"""Quality alerts over the API: a buyer lists, acknowledges and closes the alerts it
received and sets its webhook; a supplier lists its alerts, raises one and closes one.
Alerts are read for the `quality` purpose; a buyer sees those of suppliers with which
it holds an agreement in force for quality."""

from typing import Annotated, Any

from fastapi import FastAPI, Header, Request, Security
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Connection

from governance.alerts import (
    AlertNotFound,
    acknowledge,
    alert,
    alerts_of,
    close,
    raise_alert,
    set_webhook,
)
from governance.models import AlertDelivery, Purpose, Role, utcnow
from governance.sharing import read_agreements
from pipelines.alerts import shipped_parts
from serving.access import Caller, Denied, out_value
from serving.gate import API_KEY, RESPONSES, BodyText, Done, Gate


class RaiseRequest(BaseModel):
    message: BodyText = Field(
        description="What happened and what you do about it.", max_length=4000
    )
    buyers: list[BodyText] = Field(
        default_factory=list, description="Who receives it (default: every buyer who may)."
    )
    part_number: BodyText | None = Field(None, max_length=100)
    lot_id: BodyText | None = Field(None, max_length=300)


class WebhookRequest(BaseModel):
    url: BodyText = Field(
        description="https URL the platform POSTs your new alerts to (http only to 127.0.0.1).",
        max_length=2000,
    )


def _quality(purpose: Purpose | None) -> None:
    if purpose != Purpose.QUALITY:
        raise Denied(403, "alerts are read for the quality purpose: send X-Purpose: quality")


def _sharing_quality(conn: Connection, caller: Caller, today: Any) -> set[str] | None:
    """The suppliers whose alerts a buyer may see (None: a supplier, its own)."""
    if caller.role != Role.BUYER:
        return None
    return {
        a.supplier_id
        for a in read_agreements(conn, buyer_id=caller.org_id)
        if a.in_force(today) and Purpose.QUALITY.value in a.purposes
    }


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: out_value(v) for k, v in row.items() if k not in ("next_attempt_at", "subject_key")}


def register(app: FastAPI, gate: Gate) -> None:
    @app.get("/v1/alerts", summary="My quality alerts (buyer or supplier)", responses=RESPONSES)
    def list_alerts(
        request: Request,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
        status: str | None = None,
    ) -> Any:
        """The alerts you received (buyer) or raised and were raised about you
        (supplier), newest first; `status`: CREATED, SENT, ACKNOWLEDGED or CLOSED."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.BUYER, Role.SUPPLIER)
            _quality(purpose)
            allowed = _sharing_quality(conn, caller, gate.today())
            rows = alerts_of(conn, caller.org_id, caller.role, status=status, suppliers=allowed)
            counted: dict[str, int] = {}
            for r in rows:
                counted[r["supplier_id"]] = counted.get(r["supplier_id"], 0) + 1
            return {"alerts": [_out(r) for r in rows]}, Done(counted, len(rows))

        return gate.audited(request, x_api_key, x_purpose, read, view="quality_alerts")

    def _change(
        request: Request, key: str | None, purpose_header: str | None, alert_id: str, change: Any
    ) -> Any:
        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.BUYER, Role.SUPPLIER)
            _quality(purpose)
            allowed = _sharing_quality(conn, caller, gate.today())
            if allowed is not None:
                supplier = conn.scalar(
                    select(alert.c.supplier_id).where(alert.c.alert_id == alert_id)
                )
                if supplier not in allowed:
                    raise AlertNotFound(
                        f"no alert {alert_id!r} of yours: GET /v1/alerts lists them"
                    )
            row = change(conn, alert_id, caller.org_id, caller.role, utcnow())
            return {"alert": _out(row)}, Done({row["supplier_id"]: 1}, 1)

        return gate.audited(request, key, purpose_header, read, view="quality_alerts")

    @app.post(
        "/v1/alerts/{alert_id}/acknowledge",
        summary="Acknowledge an alert (buyer)",
        responses=RESPONSES,
    )
    def acknowledge_alert(
        request: Request,
        alert_id: str,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """You have seen it (CREATED or SENT -> ACKNOWLEDGED); again: no change."""
        return _change(request, x_api_key, x_purpose, alert_id, acknowledge)

    @app.post(
        "/v1/alerts/{alert_id}/close",
        summary="Close an alert (buyer or supplier)",
        responses=RESPONSES,
    )
    def close_alert(
        request: Request,
        alert_id: str,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Settled (-> CLOSED, by you); a closed alert changes no more."""
        return _change(request, x_api_key, x_purpose, alert_id, close)

    @app.get(
        "/v1/alerts/{alert_id}/deliveries",
        summary="An alert's webhook attempts (buyer)",
        responses=RESPONSES,
    )
    def deliveries(
        request: Request,
        alert_id: str,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Every POST to your webhook for this alert: when, the status code, the error."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.BUYER)
            _quality(purpose)
            found = conn.execute(
                select(alert.c.supplier_id).where(
                    alert.c.alert_id == alert_id, alert.c.buyer_id == caller.org_id
                )
            ).first()
            allowed = _sharing_quality(conn, caller, gate.today()) or set()
            if found is None or found.supplier_id not in allowed:
                raise AlertNotFound(f"no alert {alert_id!r} of yours: GET /v1/alerts lists them")
            d = AlertDelivery.__table__.c
            rows = [
                _out(dict(r._mapping))
                for r in conn.execute(
                    select(AlertDelivery.__table__)
                    .where(d.alert_id == alert_id)
                    .order_by(d.attempt)
                )
            ]
            return {"deliveries": rows}, Done({found.supplier_id: len(rows)}, len(rows))

        return gate.audited(request, x_api_key, x_purpose, read, view="quality_alerts")

    @app.post("/v1/me/alerts", summary="Raise a quality alert (supplier)", responses=RESPONSES)
    def raise_one(
        request: Request,
        body: RaiseRequest,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Tell your buyers (all who hold an agreement in force sharing your quality data,
        or those you name) about a quality problem; each gets an alert, by webhook too."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.SUPPLIER)
            _quality(purpose)
            ids = raise_alert(
                conn,
                caller.org_id,
                body.message,
                gate.today(),
                buyers=body.buyers,
                part_number=body.part_number,
                lot_id=body.lot_id,
                shipped_parts=shipped_parts(conn, caller.org_id) if body.part_number else None,
            )
            return {"alerts": ids}, Done({caller.org_id: len(ids)}, len(ids))

        return gate.audited(request, x_api_key, x_purpose, read, view="quality_alerts")

    @app.put("/v1/me/webhook", summary="Set my alerts webhook (buyer)", responses=RESPONSES)
    def put_webhook(
        request: Request,
        body: WebhookRequest,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_purpose: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Where your new alerts are POSTed, signed with the secret returned here (shown
        once; a new PUT makes a new one): `X-Sangsaeng-Signature: t=...,v1=<HMAC-SHA256
        of "t.body">`. Alerts waiting for a webhook go out now."""

        def read(conn: Connection, caller: Caller, purpose: Purpose | None) -> Any:
            gate.role(caller, Role.BUYER)
            _quality(purpose)
            secret = set_webhook(conn, caller.org_id, body.url, utcnow())
            return {"url": body.url.strip(), "secret": secret}, Done()

        return gate.audited(request, x_api_key, x_purpose, read, view="quality_alerts")
