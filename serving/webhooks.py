"""Webhook delivery of quality alerts: each CREATED alert of a buyer with a webhook is
POSTed to it as JSON, signed, until the buyer's endpoint answers 2xx (SENT); a failed
attempt is logged (`alert_delivery`) and tried again after a backoff that doubles from
BACKOFF_FIRST_S up to BACKOFF_MAX_S, MAX_ATTEMPTS times in all.

The signature is the one Stripe and GitHub taught receivers to check:
`X-Sangsaeng-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
buyer's webhook secret; a receiver recomputes it over the raw body, compares in constant
time, and refuses a `t` far from its clock (replays). `X-Sangsaeng-Alert` carries the
alert id (deliveries are at least once: a receiver dedupes on it).
"""

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from governance.alerts import alert, webhook
from governance.models import AlertDelivery, AlertStatus, Purpose, utcnow
from governance.sharing import read_agreements
from serving.access import out_value
from serving.app import programme_today

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Sangsaeng-Signature"
ALERT_HEADER = "X-Sangsaeng-Alert"
BACKOFF_FIRST_S = 30.0
BACKOFF_MAX_S = 3_600.0
MAX_ATTEMPTS = 8
TIMEOUT_S = 10.0
delivery = AlertDelivery.__table__


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300
) -> bool:
    """What a receiver checks (here for the tests and for receivers written in Python)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError, UnicodeError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body).encode(), header.encode())


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return timedelta(seconds=min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, attempts - 1)))


def payload(row: Any) -> dict[str, Any]:
    """An alert as its webhook body carries it."""
    fields = (
        "alert_id",
        "rule",
        "supplier_id",
        "buyer_id",
        "subject",
        "part_number",
        "lot_id",
        "period",
        "value",
        "threshold",
        "message",
        "created_at",
    )
    out = {}
    for name in fields:
        value = out_value(getattr(row, name))
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return {"type": "quality_alert", "status": AlertStatus.SENT.value, "alert": out}


@dataclass(frozen=True)
class Deliveries:
    """What one pass delivered."""

    sent: int = 0
    failed: int = 0
    given_up: int = 0
    deferred: int = 0  # left due for the next pass: their URL timed out in this one


def deliver_due(
    engine: Engine,
    now: datetime | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    today: date | None = None,
) -> Deliveries:
    """POST every alert whose next attempt is due by `now` (default: `clock()`), the next
    attempts scheduled from `now`. An alert whose buyer no longer holds a quality
    agreement in force with the supplier on `today` (the programme's day) is not sent.
    The signatures carry the `clock()` time they are sent at (what a receiver compares
    with its own clock). Returns what happened. Runs its own event loop: not to be called
    from inside a running one (Dagster ops and the CLI call it from plain threads)."""
    now = now or clock()
    with engine.connect() as conn:
        due = conn.execute(
            select(alert, webhook.c.url, webhook.c.secret)
            .join(webhook, webhook.c.buyer_id == alert.c.buyer_id)
            .where(
                alert.c.status == AlertStatus.CREATED.value,
                alert.c.next_attempt_at.is_not(None),
                alert.c.next_attempt_at <= now,
            )
            .order_by(alert.c.next_attempt_at, alert.c.alert_id)
        ).all()
    today = today or programme_today()
    with engine.connect() as conn:
        sharing = {
            (a.supplier_id, a.buyer_id)
            for a in read_agreements(conn)
            if a.in_force(today) and Purpose.QUALITY.value in a.purposes
        }
    withheld = [r.alert_id for r in due if (r.supplier_id, r.buyer_id) not in sharing]
    if withheld:  # the agreement ended since: the buyer gets no more of that supplier's
        with engine.begin() as conn:
            conn.execute(
                update(alert).where(alert.c.alert_id.in_(withheld)).values(next_attempt_at=None)
            )
    due = [r for r in due if (r.supplier_id, r.buyer_id) in sharing]
    if not due:
        return Deliveries()
    # One event loop for the pass: an attempt is a coroutine, so its whole time (connect,
    # headers, body) is bounded by cancelling it, which a blocking client cannot do.
    # Attempts are sequential; a URL that timed out once is not tried again in this pass
    # (its other alerts stay due for the next), so one slow receiver holds a pass for at
    # most TIMEOUT_S, not TIMEOUT_S per alert.
    stalled: set[str] = set()
    counts = {"sent": 0, "failed": 0, "given_up": 0, "deferred": 0}
    with asyncio.Runner() as runner:
        http = runner.run(_client())
        try:
            for row in due:
                if row.url in stalled:
                    counts["deferred"] += 1
                    continue
                status, error, timed_out = runner.run(_attempt(http, row, clock))
                if timed_out:
                    stalled.add(row.url)
                counts[_record_attempt(engine, row, now, status, error)] += 1
        finally:
            runner.run(http.aclose())
    return Deliveries(**counts)


def _record_attempt(
    engine: Engine, row: Any, now: datetime, status: int | None, error: str | None
) -> str:
    """Log one attempt and move its alert on (sent, retried later, or given up); returns
    which of those it was."""
    attempt = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempt, "next_attempt_at": None}
    if error is None:
        values |= {"status": AlertStatus.SENT.value, "sent_at": now}
        outcome = "sent"
    elif attempt >= MAX_ATTEMPTS:  # the buyer still reads it over the API
        outcome = "given_up"
        log.warning(
            "alert %s: %d webhook attempts to %s failed, the last: %s; no more",
            row.alert_id,
            attempt,
            row.url,
            error,
        )
    else:
        values["next_attempt_at"] = now + backoff(attempt)
        outcome = "failed"
    with engine.begin() as conn:
        conn.execute(
            insert(delivery).values(
                alert_id=row.alert_id,
                attempt=attempt,
                at=now,
                url=row.url,
                status_code=status,
                error=error,
                delivered=error is None,
            )
        )
        conn.execute(
            update(alert)
            .where(alert.c.alert_id == row.alert_id, alert.c.status == AlertStatus.CREATED.value)
            .values(**values)
        )
    return outcome


async def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT_S / 5, follow_redirects=False)


async def _attempt(
    http: httpx.AsyncClient, row: Any, clock: Callable[[], datetime]
) -> tuple[int | None, str | None, bool]:
    """(status code, error: None when delivered, whether it timed out). The whole
    attempt, from connecting to the answer's last byte, has TIMEOUT_S (a receiver
    dripping its headers or its body cannot hold the pass); the answer's body is not
    kept (the URL is the buyer's to choose, what answers there is not its to read)."""
    body = json.dumps(payload(row), ensure_ascii=False, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(row.secret, int(clock().timestamp()), body),
        ALERT_HEADER: row.alert_id,
    }
    status: int | None = None
    try:
        async with asyncio.timeout(TIMEOUT_S):
            async with http.stream("POST", row.url, content=body, headers=headers) as response:
                status = response.status_code
                async for _ in response.aiter_raw(1_024):  # drained, not kept
                    pass
    except TimeoutError:
        return status, f"no whole answer within {TIMEOUT_S:g} s", True
    except httpx.TimeoutException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], True
    except Exception as exc:
        # whatever it is (httpx.InvalidURL is no HTTPError), this alert's attempt failed:
        # logged and retried, the others go on
        return None, f"{type(exc).__name__}: {exc}"[:500], False
    if 200 <= response.status_code < 300:
        return response.status_code, None, False
    return response.status_code, f"HTTP {response.status_code}", False
