"""The platform database has one owner, the migrations, on SQLite and PostgreSQL: an
upgraded database is exactly the models, upgrading is idempotent and safe when two
services start together, and every service refuses a database that does not match
this release with one line naming `sangsaeng db upgrade`."""

import subprocess
import sys
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import governance.models  # noqa: F401 - every model module, as migrations/env.py loads them
import pipelines.landing.models  # noqa: F401
import schemas.registry.models  # noqa: F401
from migrations.schema import ensure, head_revision, status, upgrade
from sangsaeng.db import METADATA, SchemaMismatch, make_engine
from tests.support import cli_env

pytestmark = pytest.mark.integration


def test_an_upgraded_database_is_exactly_the_models(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    assert status(engine).empty
    first = upgrade(engine)
    assert (first.before, first.after) == (None, head_revision())
    with engine.connect() as conn:
        # What autogenerate would write next: nothing, or a model changed without a revision.
        assert compare_metadata(MigrationContext.configure(conn), METADATA) == []
        tables = set(inspect(conn).get_table_names())
    assert set(METADATA.tables) <= tables
    again = upgrade(engine)
    assert not again.changed and status(engine).current
    engine.dispose()


def test_two_services_starting_together_upgrade_once(empty_db_url: str) -> None:
    engines = [make_engine(empty_db_url) for _ in range(3)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def start(engine) -> None:
        try:
            barrier.wait()
            ensure(engine)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            head_revision()
        ]
    for e in engines:
        e.dispose()


def test_a_database_made_before_migrations_is_refused_not_clobbered(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE supplier (supplier_id VARCHAR(64) PRIMARY KEY)"))
    with pytest.raises(SchemaMismatch, match="before migrations"):
        upgrade(engine)
    with pytest.raises(SchemaMismatch, match="before migrations"):
        ensure(engine)
    assert inspect(engine).get_table_names() == ["supplier"]  # left as it was
    engine.dispose()


def test_tables_of_others_do_not_count_and_a_newer_revision_is_named(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:  # e.g. PostGIS's, or another application's
        conn.execute(text("CREATE TABLE spatial_ref_sys (srid INTEGER PRIMARY KEY)"))
    assert status(engine).empty
    upgrade(engine)
    assert status(engine).current
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    found = status(engine)
    assert not found.current and not found.known
    with pytest.raises(SchemaMismatch, match="newer release"):
        upgrade(engine)
    with pytest.raises(SchemaMismatch, match="newer release"):
        ensure(engine)
    engine.dispose()


def _sangsaeng(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_services_refuse_a_database_behind_this_release(db_url: str, tmp_path) -> None:
    # A column this release's contracts need is missing (as after a contract gained a field).
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE landing_energy DROP COLUMN buyer_id"))
    engine.dispose()
    env = cli_env(
        database_url=db_url,
        registry_database_url=db_url,  # the registry on the platform database, as on PostgreSQL
        state_dir=str(tmp_path),
        kafka_bootstrap="127.0.0.1:1",
    )
    for command in (
        ["registry", "serve", "--port", "1"],
        ["gateway", "serve", "--port", "1"],
        ["ingest"],
        ["suppliers", "list"],
    ):
        done = _sangsaeng(env, *command)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "landing_energy.buyer_id" in lines[0] and "sangsaeng db upgrade" in lines[0]

    current = _sangsaeng(env, "db", "current")
    assert current.returncode == 1 and "sangsaeng db upgrade" in current.stdout
    fixed = _sangsaeng(env, "db", "upgrade")
    assert fixed.returncode == 0, fixed.stderr
    assert "add column landing_energy.buyer_id" in fixed.stdout
    assert _sangsaeng(env, "db", "current").returncode == 0
    assert "nothing to do" in _sangsaeng(env, "db", "upgrade").stdout
    listed = _sangsaeng(env, "suppliers", "list", "--format", "json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
