"""Registry writes never stall behind ingest: on the embedded SQLite default the registry
keeps a database file of its own, so an ingest holding the platform database's write
lock for a long transaction does not delay a registration; and when its own file is
locked, a registration fails within seconds with 503 instead of waiting minutes."""

import json
import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from migrations.schema import upgrade
from sangsaeng.db import make_engine
from sangsaeng.settings import load_settings
from schemas.contracts import contract_text
from schemas.registry.auth import Role
from schemas.registry.server import build_app
from schemas.topics import EventType, subject_for

pytestmark = pytest.mark.integration


def _registry(tmp_path: Path):
    settings = load_settings(state_dir=tmp_path)
    for url in (settings.database_url, settings.registry_database_url):
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    app, credentials = build_app(settings)
    auth = ("writer", credentials.add_user("writer", role=Role.ADMIN))
    return settings, TestClient(app), auth


def _register(http: TestClient, auth, event_type: EventType) -> tuple[int, float]:
    started = time.monotonic()
    answer = http.post(
        f"/subjects/{subject_for(event_type)}/versions",
        json={"schema": contract_text(event_type)},
        auth=auth,
    )
    return answer.status_code, time.monotonic() - started


def _hold_write_lock(url: str) -> sqlite3.Connection:
    holder = sqlite3.connect(make_url(url).database, timeout=0, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # what a long ingest transaction holds
    return holder


def test_a_registration_does_not_wait_for_an_ingest_transaction(tmp_path: Path) -> None:
    settings, http, auth = _registry(tmp_path)
    assert settings.registry_database_url != settings.database_url
    assert settings.registry_database_url.endswith("/registry.db")
    holder = _hold_write_lock(settings.database_url)
    try:
        status, took = _register(http, auth, EventType.PRODUCTION)
    finally:
        holder.rollback()
        holder.close()
    assert status == 200
    assert took < 2.0  # not the 30 s busy timeout of a platform-database writer


def test_a_locked_registry_database_fails_fast_with_503(tmp_path: Path) -> None:
    settings, http, auth = _registry(tmp_path)
    holder = _hold_write_lock(settings.registry_database_url)
    try:
        status, took = _register(http, auth, EventType.QUALITY)
    finally:
        holder.rollback()
        holder.close()
    assert status == 503
    assert took < 10.0  # three attempts of 2 s each, then the answer
    status, _ = _register(http, auth, EventType.QUALITY)  # once the lock is gone: it works
    assert status == 200
    listed = http.get("/subjects", auth=auth)
    assert json.loads(listed.text) == [subject_for(EventType.QUALITY)]
