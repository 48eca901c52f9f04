"""Builds and runs the registry from the settings: `sangsaeng registry serve`."""

import logging
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI

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


def build_app(settings: Settings) -> tuple[FastAPI, Credentials]:
    """The registry app on the platform database named by `settings`."""
    engine = make_engine(settings.database_url)
    credentials = Credentials(engine)
    return create_app(RegistryStore(engine), credentials), credentials


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the registry in the foreground until interrupted."""
    app, credentials = build_app(settings)
    made = credentials.bootstrap_admin(settings.state_dir)
    if made is not None:
        print(f"Created registry user 'admin'; its credentials are in {made}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
