"""Builds and runs the registry from the settings: `sangsaeng registry serve`."""

import logging
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from sangsaeng.db import make_engine
from sangsaeng.settings import Settings
from schemas.registry.app import create_app
from schemas.registry.auth import Credentials
from schemas.registry.store import RegistryStore

log = logging.getLogger(__name__)


def host_port(url: str) -> tuple[str, int]:
    """(host, port) a service URL like http://127.0.0.1:8081 listens on."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)


# A registration waits at most this long for SQLite's write lock per attempt (three
# attempts): it finishes or fails within seconds, whatever else writes.
SQLITE_LOCK_WAIT_S = 2.0


def registry_engine(settings: Settings) -> Engine:
    """An engine on the registry's database (`SANGSAENG_REGISTRY_DATABASE_URL`)."""
    return make_engine(settings.registry_database_url, sqlite_timeout_s=SQLITE_LOCK_WAIT_S)


def build_app(settings: Settings) -> tuple[FastAPI, Credentials]:
    """The registry app on the registry's database named by `settings`."""
    engine = registry_engine(settings)
    credentials = Credentials(engine)
    return create_app(RegistryStore(engine), credentials), credentials


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the registry in the foreground until interrupted."""
    app, credentials = build_app(settings)
    made = credentials.bootstrap_admin(settings.state_dir)
    if made is not None:
        print(f"Created registry user 'admin'; its credentials are in {made}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
