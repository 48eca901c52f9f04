"""Builds and runs the gateway from the settings: `sangsaeng gateway serve`."""

import uvicorn
from fastapi import FastAPI

from connectors.gateway.app import create_app
from connectors.gateway.forwarder import ClientPool
from connectors.sdk import SupplierClient
from connectors.sdk.spool import spool_folder
from governance.parties import Parties
from sangsaeng.db import make_engine
from sangsaeng.kafka_access import GATEWAY, client_security
from sangsaeng.settings import Settings


def build(settings: Settings) -> tuple[FastAPI, ClientPool]:
    """The gateway app and its forwarder (not started) for `settings`.

    Once started, the forwarder drains every spool in `<state_dir>/spool` of an
    onboarded supplier, whether or not that supplier sends again.
    """
    suppliers = Parties(make_engine(settings.database_url))
    security = client_security(settings, GATEWAY)  # one login forwards for every supplier
    pool = ClientPool(
        lambda supplier_id: SupplierClient.from_settings(supplier_id, settings, security=security),
        spool_dir=spool_folder(settings.state_dir),
        known=suppliers.is_supplier,
    )
    app = create_app(suppliers, pool, rate_per_second=settings.gateway_rate_per_second)
    return app, pool


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the gateway in the foreground until interrupted; forwards in the background."""
    app, pool = build(settings)
    pool.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        pool.stop()
