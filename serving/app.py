"""The buyer API: buyers, suppliers, the programme operator and the ministry read the
views here, each read filtered in SQL by the agreements in force (`serving.access`) and
written to the audit trail in the same transaction (`serving.gate`).

Authentication: `X-API-Key` (an organisation's key, `sangsaeng orgs add-key`); its
organisation's role decides what exists for it. Every read names its purpose in
`X-Purpose`. Errors are `{"detail": ...}` with 400 (bad request, no purpose), 401 (no or
unknown key), 403 (no agreement for that purpose, or the wrong role), 404.
"""

import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from governance.models import Purpose, Role
from governance.parties import KnownKeys
from sangsaeng import __version__
from sangsaeng.http import service_app
from serving.gate import Gate
from serving.routes import alerts, me, programme, views

PROGRAMME_ZONE = ZoneInfo("Asia/Seoul")  # an agreement's dates are the programme's days


def programme_today() -> date:
    return datetime.now(PROGRAMME_ZONE).date()


def create_app(
    engine: Engine,
    *,
    today: Callable[[], date] = programme_today,
    keys: KnownKeys[tuple[str, Role]] | None = None,
) -> FastAPI:
    """The buyer API over the platform database; `today` decides which agreements are in
    force (the tests pin it)."""
    app = service_app(
        title="Sangsaeng buyer API",
        version=__version__,
        description="Buyers, suppliers, the programme operator and the ministry read the "
        "shared supply-chain views. Authenticate with `X-API-Key`; name the purpose of every "
        f"read in `X-Purpose` ({', '.join(p.value for p in Purpose)}). Every request, "
        "allowed or denied, is written to the audit trail the supplier can read.",
    )
    gate = Gate(engine, today, keys)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        """A parameter FastAPI could not read: one line naming it, audited like the rest."""
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        reason = f"{where or 'request'}: {first.get('msg', 'invalid')}"
        return await run_in_threadpool(gate.refuse, request, 400, reason)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        """No such path (404) or method (405): audited too."""
        reason = "no such endpoint: /docs lists them" if exc.status_code == 404 else str(exc.detail)
        return await run_in_threadpool(gate.refuse, request, exc.status_code, reason)

    @app.get("/", summary="Health check")
    def root() -> dict[str, str]:
        return {"status": "ok"}

    views.register(app, gate)
    me.register(app, gate)
    programme.register(app, gate)
    alerts.register(app, gate)
    return app


# The interpreter hands the GIL over every 5 ms by default: a request thread holding the
# audit trail's lock waits that long for each of its statements while others compute, and
# the lock's queue grows. 1 ms measured 132 -> 180 requests/s on PostgreSQL at 50 clients
# (benchmarks/api.py).
SWITCH_INTERVAL_S = 0.001


# Sync endpoints run on anyio's worker threads (40 by default), each holding one
# connection at a time. A pool as large as that never makes a connection per request: the
# default (5 kept, 10 more made and closed as needed) opened and closed PostgreSQL
# backends under load, each costing the database a fork and a login.
REQUEST_THREADS = 40
POOL = {"pool_size": REQUEST_THREADS, "max_overflow": 10}


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run an API app in the foreground the way `sangsaeng api serve` does."""
    import uvicorn

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
