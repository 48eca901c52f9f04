"""Quality alerts between a supplier and its buyers: who may receive one, recording it
once per buyer and subject, and its lifecycle (the states of Catena-X CX-0125 quality
notifications, `AlertStatus`): CREATED -> SENT -> ACKNOWLEDGED -> CLOSED.

A buyer receives an alert about a supplier only under an agreement in force that shares
the view the alert is about for the `quality` purpose (and, for an alert about a part,
covers that part); the rules (`pipelines.alerts`) and a supplier raising one by hand
both go through `recipients`. The buyer acknowledges; either party closes. Webhooks
(`set_webhook`) are where the platform POSTs a buyer's new alerts (`serving.webhooks`).
"""

import hashlib
import secrets
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from governance.models import (
    AlertRule,
    AlertStatus,
    AlertWebhook,
    Organisation,
    PartScope,
    Purpose,
    QualityAlert,
    Role,
    utcnow,
)
from governance.sharing import SharingError, read_agreements

alert = QualityAlert.__table__
webhook = AlertWebhook.__table__


class AlertError(SharingError):
    """An alert asked for what its state or its reader does not allow (answered 400)."""


class AlertNotFound(AlertError):
    """No such alert for this organisation (answered 404)."""


@dataclass(frozen=True)
class NewAlert:
    """An alert to record: a rule's finding (or a supplier's report) for one buyer."""

    rule: str
    supplier_id: str
    buyer_id: str
    subject: str
    message: str
    part_number: str | None = None
    lot_id: str | None = None
    period: date | None = None
    value: float | None = None
    threshold: float | None = None


def recipients(
    conn: Connection,
    supplier_id: str,
    view: str,
    today: date,
    *,
    part_number: str | None = None,
    shipped_parts: dict[str, set[str]] | None = None,
) -> list[str]:
    """The buyers of `supplier_id` holding an agreement in force that shares `view` for
    quality (and covers `part_number`, where given: a `shipped` scope covers the parts
    shipped to that buyer, `shipped_parts[buyer]`; a `listed` one its list, of those)."""
    shipped_parts = shipped_parts or {}
    found = []
    for a in read_agreements(conn, supplier_id=supplier_id):
        if not a.allows(view, Purpose.QUALITY.value, today):
            continue
        if part_number is not None:
            shipped = part_number in shipped_parts.get(a.buyer_id, set())
            listed = a.part_scope == PartScope.SHIPPED or part_number in a.parts
            if not (shipped and listed):
                continue
        found.append(a.buyer_id)
    return sorted(set(found))


def record_alerts(conn: Connection, alerts: Iterable[NewAlert], now: datetime) -> list[str]:
    """Record the alerts not recorded yet (one per rule, supplier, buyer and subject:
    two evaluations racing record each once, the loser's insert doing nothing); returns
    the ids of those new. Webhook delivery is due at once where the buyer has one."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    hooked = set(conn.scalars(select(webhook.c.buyer_id)))
    added = []
    for a in alerts:
        alert_id = str(uuid.uuid4())
        statement = (
            dialect_insert(alert)
            .values(
                alert_id=alert_id,
                rule=a.rule,
                supplier_id=a.supplier_id,
                buyer_id=a.buyer_id,
                subject=a.subject,
                subject_key=hashlib.sha256(a.subject.encode()).hexdigest(),
                part_number=a.part_number,
                lot_id=a.lot_id,
                period=a.period,
                value=a.value,
                threshold=a.threshold,
                message=a.message,
                status=AlertStatus.CREATED.value,
                created_at=now,
                attempts=0,
                next_attempt_at=now if a.buyer_id in hooked else None,
            )
            .on_conflict_do_nothing(
                index_elements=["rule", "supplier_id", "buyer_id", "subject_key"]
            )
            .returning(alert.c.alert_id)
        )
        if conn.execute(statement).first() is not None:
            added.append(alert_id)
    return added


def raise_alert(
    conn: Connection,
    supplier_id: str,
    message: str,
    today: date,
    *,
    buyers: Sequence[str] = (),
    part_number: str | None = None,
    lot_id: str | None = None,
    shipped_parts: dict[str, set[str]] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """A supplier's own alert to `buyers` (all that may receive it, when empty); the
    buyers named must hold an agreement sharing quality data with it. Returns the ids."""
    if not message.strip():
        raise AlertError("an alert needs a message: say what happened and what you do about it")
    allowed = recipients(
        conn,
        supplier_id,
        "quality_daily",
        today,
        part_number=part_number,
        shipped_parts=shipped_parts,
    )
    wanted = sorted(set(buyers)) or allowed
    outside = [b for b in wanted if b not in allowed]
    if outside:
        raise AlertError(
            f"buyer {outside[0]!r} holds no agreement in force sharing your quality data"
            + (f" for part {part_number!r}" if part_number else "")
            + f": the buyers who may receive it are {', '.join(allowed) or 'none'}"
        )
    if not wanted:
        raise AlertError("no buyer holds an agreement in force sharing your quality data")
    now = now or utcnow()
    subject = f"raised {now.isoformat()} {lot_id or part_number or ''}".strip()
    return record_alerts(
        conn,
        [
            NewAlert(
                AlertRule.RAISED.value,
                supplier_id,
                buyer,
                subject,
                message.strip()[:4000],
                part_number=part_number,
                lot_id=lot_id,
                period=today,
            )
            for buyer in wanted
        ],
        now,
    )


def alerts_of(
    conn: Connection,
    org_id: str,
    role: Role,
    *,
    status: str | None = None,
    suppliers: Collection[str] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The alerts a buyer received (of `suppliers` only, when given) or a supplier's
    alerts, newest first."""
    column = alert.c.buyer_id if role == Role.BUYER else alert.c.supplier_id
    query = select(alert).where(column == org_id)
    if suppliers is not None:
        query = query.where(alert.c.supplier_id.in_(sorted(suppliers)))
    if status:
        try:
            query = query.where(alert.c.status == AlertStatus(status.upper()).value)
        except ValueError:
            names = ", ".join(s.value for s in AlertStatus)
            raise AlertError(f"unknown status {status!r}: one of {names}") from None
    query = query.order_by(alert.c.created_at.desc(), alert.c.alert_id).limit(limit)
    return [
        {k: v for k, v in r._mapping.items() if k not in ("next_attempt_at", "subject_key")}
        for r in conn.execute(query)
    ]


def _transition(
    conn: Connection,
    alert_id: str,
    org_id: str,
    role: Role,
    *,
    to: AlertStatus,
    now: datetime,
    retries: int = 3,
) -> dict[str, Any]:
    column = alert.c.buyer_id if role == Role.BUYER else alert.c.supplier_id
    row = conn.execute(select(alert).where(alert.c.alert_id == alert_id, column == org_id)).first()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id!r} of yours: GET /v1/alerts lists them")
    if row.status == AlertStatus.CLOSED:
        raise AlertError(f"alert {alert_id} is closed already")
    if to == AlertStatus.ACKNOWLEDGED:
        if role != Role.BUYER:
            raise AlertError("the buyer who received an alert acknowledges it")
        if row.status == AlertStatus.ACKNOWLEDGED:
            return dict(row._mapping)  # again: nothing changes
        values: dict[str, Any] = {"status": to.value, "acknowledged_at": now}
    else:
        values = {"status": to.value, "closed_at": now, "closed_by": org_id}
    values["next_attempt_at"] = None  # read by its buyer: no more webhook attempts
    changed = conn.execute(
        update(alert)
        .where(and_(alert.c.alert_id == alert_id, alert.c.status == row.status))
        .values(**values)
    ).rowcount
    if changed != 1:  # a delivery or the other party changed it meanwhile: judge again
        if retries <= 0:
            raise AlertError(f"alert {alert_id} is changing right now: try again")
        return _transition(conn, alert_id, org_id, role, to=to, now=now, retries=retries - 1)
    return {**row._mapping, **values}


def acknowledge(
    conn: Connection, alert_id: str, org_id: str, role: Role, now: datetime
) -> dict[str, Any]:
    """The buyer has seen the alert (from CREATED or SENT)."""
    return _transition(conn, alert_id, org_id, role, to=AlertStatus.ACKNOWLEDGED, now=now)


def close(
    conn: Connection, alert_id: str, org_id: str, role: Role, now: datetime
) -> dict[str, Any]:
    """The buyer or the supplier closes the alert (from any state but CLOSED)."""
    return _transition(conn, alert_id, org_id, role, to=AlertStatus.CLOSED, now=now)


def check_webhook_url(url: str) -> str:
    """An http(s) URL with a host (and a valid port, no spaces or control characters);
    plain http only to this machine (a test receiver)."""
    url = url.strip()
    problem = None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is no number in range
    except ValueError as exc:
        parts, problem = None, str(exc)
    if parts is not None and (parts.scheme not in ("https", "http") or not parts.hostname):
        problem = "not an http(s) URL with a host"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        problem = "it holds a space or a control character"
    if problem:
        raise AlertError(f"webhook URL {url[:200]!r}: {problem}")
    assert parts is not None
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise AlertError(f"webhook URL {url[:200]!r}: use https (plain http only to 127.0.0.1)")
    return url


def set_webhook(conn: Connection, buyer_id: str, url: str, now: datetime) -> str:
    """Record (or replace) a buyer's webhook; returns its new signing secret (shown once)."""
    url = check_webhook_url(url)
    o = Organisation.__table__.c
    role = conn.scalar(select(o.role).where(o.org_id == buyer_id))
    if role != Role.BUYER:
        raise AlertError(f"no buyer {buyer_id!r}: webhooks are a buyer's")
    secret = "whsec_" + secrets.token_urlsafe(32)
    conn.execute(webhook.delete().where(webhook.c.buyer_id == buyer_id))
    conn.execute(insert(webhook).values(buyer_id=buyer_id, url=url, secret=secret))
    # alerts waiting for a webhook are due now
    conn.execute(
        update(alert)
        .where(
            alert.c.buyer_id == buyer_id,
            alert.c.status == AlertStatus.CREATED.value,
            alert.c.next_attempt_at.is_(None),
            alert.c.attempts == 0,
        )
        .values(next_attempt_at=now)
    )
    return secret
