"""Session fixtures: a real Kafka broker and a real PostgreSQL, started from infra/.

Each test session starts its own services on free ports in temporary folders and
stops them at the end, so a developer's running stack (`make demo`) is never
touched. To reuse services that already run, point `SANGSAENG_KAFKA_BOOTSTRAP`
and/or `SANGSAENG_DATABASE_URL` (a postgresql URL) at them.

In CI (`CI=true`) a service that cannot start fails the tests instead of skipping
them, and any skipped test fails the session: a skip is not a pass.
"""

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy.engine import make_url

from infra.kafka.broker import KafkaBroker
from infra.postgres.cluster import PostgresCluster
from infra.process import free_port
from sangsaeng.errors import PlatformError
from sangsaeng.kafka_access import ADMIN
from sangsaeng.settings import load_settings
from tests.support import IN_CI, unavailable

if TYPE_CHECKING:
    from schemas.registry.auth import Credentials

KIND_MARKERS = {"unit", "integration"}


def pytest_configure(config: pytest.Config) -> None:
    """Keep the tests out of the developer's state dir (`.sangsaeng`: the demo's data and
    Dagster runs): whatever does not name one gets a state dir of this session."""
    if "SANGSAENG_STATE_DIR" not in os.environ:
        os.environ["SANGSAENG_STATE_DIR"] = tempfile.mkdtemp(prefix="sangsaeng-tests-state-")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test says what it is (unit or integration); an unmarked one is an error."""
    unmarked = [i.nodeid for i in items if not KIND_MARKERS & {m.name for m in i.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(f"tests without a unit/integration marker: {unmarked}")


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and _skipped:
        print(f"\nCI=true and {len(_skipped)} test(s) skipped: {_skipped[:5]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _private_dir(prefix: str) -> Path:
    # Not pytest's tmp_path: that lives under a 0700 folder the postgres user
    # (which runs the server when we are root) cannot enter.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)  # mkdtemp makes it 0700
    return folder


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """host:port of a real Apache Kafka broker for the whole session, with SCRAM logins
    and ACLs on; the session's processes log in as its super user (the env vars
    SANGSAENG_KAFKA_USERNAME / _PASSWORD, inherited by the CLI and services the tests
    start); tests of the other users' rights log in as those users."""
    reuse = os.environ.get("SANGSAENG_KAFKA_BOOTSTRAP")
    if reuse:  # a broker of the caller's, whose admin login the env names
        yield reuse
        return
    folder = _private_dir("sangsaeng-kafka-")
    broker = KafkaBroker(
        service_dir=folder / "kafka",
        cache_dir=load_settings().cache_dir,
        port=free_port(),
        controller_port=free_port(),
    )
    try:
        broker.start()
    except PlatformError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"the Kafka broker could not start: {exc}")
    os.environ["SANGSAENG_KAFKA_USERNAME"] = ADMIN
    os.environ["SANGSAENG_KAFKA_PASSWORD"] = broker.admin_password
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def running_postgres(prefix: str = "sangsaeng-pg-") -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of its own (free port, temp folder), stopped and removed after."""
    folder = _private_dir(prefix)
    cluster = PostgresCluster(service_dir=folder / "postgres", port=free_port())
    try:
        cluster.start()
    except PlatformError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"PostgreSQL could not start: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """SQLAlchemy URL of a real PostgreSQL server for the whole session."""
    reuse = os.environ.get("SANGSAENG_DATABASE_URL", "")
    if reuse.startswith("postgresql"):
        yield reuse
        return
    with running_postgres() as cluster:
        yield cluster.url


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for this test alone (it may stop and start it)."""
    with running_postgres("sangsaeng-pg-own-") as cluster:
        yield cluster


def _libpq_dsn(url: str, dbname: str) -> str:
    u = make_url(url)
    parts = {"host": u.host, "port": u.port, "user": u.username, "password": u.password}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v) + f" dbname={dbname}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test: SQLite (a file) and PostgreSQL (a new database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sangsaeng.db'}"
        return
    server = request.getfixturevalue("postgres_server_url")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = _libpq_dsn(server, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A fresh database per test, upgraded to this release (`sangsaeng db upgrade`)."""
    from migrations.schema import upgrade
    from sangsaeng.db import make_engine

    engine = make_engine(empty_db_url)
    upgrade(engine)
    engine.dispose()
    return empty_db_url


# -- the schema registry, served for real (uvicorn on a free port) ----------------------


class RunningRegistry:
    """A registry served by uvicorn in a thread, with the admin user `tester` (`auth`);
    `contracts=True` registers the event contracts first (the SDK only looks them up),
    `credentials` replaces the default checks (a throttle of the test's own)."""

    def __init__(
        self,
        db_url: str,
        *,
        contracts: bool = False,
        credentials: "Credentials | None" = None,
        tester: bool = True,
    ) -> None:
        import threading

        import uvicorn

        from infra.process import wait_for
        from migrations.schema import ensure
        from sangsaeng.db import make_engine
        from schemas.registry.app import create_app
        from schemas.registry.auth import Credentials, Role
        from schemas.registry.store import RegistryStore

        self.db_url = db_url
        self.engine = make_engine(db_url)
        ensure(self.engine)
        credentials = credentials or Credentials(self.engine)
        self.credentials = credentials
        # `tester=False`: another registry on a database that already has its users.
        self.auth = ("tester", credentials.add_user("tester", role=Role.ADMIN) if tester else "")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(RegistryStore(self.engine), credentials)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        if not wait_for(lambda: self.server.started, timeout=20, interval=0.05):
            raise RuntimeError("the test registry did not start")
        if contracts:
            from schemas.contracts import register_contracts

            register_contracts(self.client())

    def user(self, role: str) -> tuple[str, str]:
        """(name, password) of a new user of `role` on this registry's database."""
        from schemas.registry.auth import Role

        name = f"{role}-{uuid.uuid4().hex[:6]}"
        return name, self.credentials.add_user(name, role=Role(role))

    def client(self, *, auth: bool = True):
        from schemas.registry.client import RegistryClient

        return RegistryClient(self.url, self.auth if auth else None)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.engine.dispose()


@pytest.fixture
def registry(db_url: str) -> Iterator[RunningRegistry]:
    """A fresh registry on each database of the matrix."""
    running = RunningRegistry(db_url)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def shared_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """One registry (SQLite) for tests that only need somewhere to keep schemas."""
    running = RunningRegistry(
        f"sqlite:///{tmp_path_factory.mktemp('registry') / 'r.db'}", contracts=True
    )
    try:
        yield running
    finally:
        running.stop()
