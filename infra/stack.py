"""The local stack as one thing: `up`, `down` and `status` over its services.

Kafka, the schema registry, the ingest gateway and the buyer API always; PostgreSQL on request
(`--postgres`).
Idempotent: `up` twice starts nothing twice, `down` stops only what `up` started,
a crashed service shows in `status`. One lock per state dir keeps two commands
from racing.
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from connectors.kafka.acls import ensure_platform_users
from infra.kafka.broker import KafkaBroker
from infra.kafka.tls import TlsFiles, ensure_certificates
from infra.postgres.cluster import PostgresCluster
from infra.process import ServiceStatus, locked
from infra.python_service import PythonService
from sangsaeng.errors import TerminalError
from sangsaeng.files import private_dir
from sangsaeng.kafka_access import (
    ADMIN,
    credentials_path,
    ensure_platform_logins,
    new_password,
    read_logins,
    tls_dir,
)
from sangsaeng.settings import Settings

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _local_data(settings: Settings) -> tuple[Path, ...]:
    """The state dir's files that describe the platform database, when that database is
    the stack's own (SQLite in the state dir, or the stack's PostgreSQL)."""
    url = make_url(settings.database_url)
    state = settings.state_dir.resolve()
    kept_with_it = (state / "registry-credentials", settings.dagster_home.resolve())
    registry = make_url(settings.registry_database_url)
    if registry.get_backend_name() == "sqlite" and registry.database:
        own = Path(registry.database).resolve()
        if own.is_relative_to(state):
            kept_with_it += (
                own,
                own.with_name(own.name + "-wal"),
                own.with_name(own.name + "-shm"),
            )
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db = Path(url.database).resolve()
        if db.is_relative_to(state):
            files = (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
            return files + kept_with_it
        return ()
    local = make_url(settings.local_postgres_url)
    return kept_with_it if (url.host, url.port) == (local.host, local.port) else ()


def _tls(state_dir: Path) -> TlsFiles | None:
    files = TlsFiles(tls_dir(state_dir))
    return files if files.exists() else None


def _admin_password(state_dir: Path) -> str:
    found = read_logins(credentials_path(state_dir)).get(ADMIN)
    return found.password if found else new_password()


@dataclass
class Stack:
    """The services of one state dir."""

    kafka: KafkaBroker
    postgres: PostgresCluster
    registry: PythonService
    gateway: PythonService
    api: PythonService
    # What `down --wipe` deletes besides the services' data: the state dir's SQLite
    # database (when it is the platform database), the registry credentials kept for it,
    # and the Dagster runs that describe it.
    local_data: tuple[Path, ...] = ()
    # The state dir, made private to its user (0700) by `up` (tightened if others may
    # list or write it).
    state_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "Stack":
        host, port = settings.kafka_host_port
        return cls(
            kafka=KafkaBroker(
                service_dir=settings.stack_dir / "kafka",
                cache_dir=settings.cache_dir,
                host=host,
                port=port,
                controller_port=settings.kafka_controller_port,
                heap_mb=settings.kafka_heap_mb,
                # `up` makes the file when it is missing; without it, nothing to log in as
                admin_password=_admin_password(settings.state_dir),
                # TLS once `up --tls` made the certificates, from then on
                tls=_tls(settings.state_dir),
            ),
            postgres=PostgresCluster(
                service_dir=settings.stack_dir / "postgres",
                port=settings.postgres_port,
                reach_from=settings.state_dir,
            ),
            registry=PythonService.serving(
                "registry",
                "schema registry",
                settings.schema_registry_url,
                settings.stack_dir,
                "SANGSAENG_SCHEMA_REGISTRY_URL",
            ),
            gateway=PythonService.serving(
                "gateway",
                "ingest gateway",
                settings.gateway_url,
                settings.stack_dir,
                "SANGSAENG_GATEWAY_URL",
            ),
            api=PythonService.serving(
                "api", "buyer API", settings.api_url, settings.stack_dir, "SANGSAENG_API_URL"
            ),
            local_data=_local_data(settings),
            state_dir=settings.state_dir,
        )

    @property
    def _lock(self):  # noqa: ANN202 - a context manager
        return locked(self.kafka.service_dir.parent / ".lock")

    def up(
        self,
        *,
        postgres: bool = False,
        report: Report = _quiet,
        prepare: Callable[[], None] | None = None,
        tls: bool = False,
    ) -> list[ServiceStatus]:
        """Start what is not running yet; returns the status of every requested service.

        PostgreSQL first: the registry may keep its tables there (SANGSAENG_DATABASE_URL).
        `prepare` runs before the registry and the gateway start (the database upgrade).
        `tls`: make the broker's certificates (kept: the state dir's stack stays TLS).
        """
        if self.state_dir is not None:
            private_dir(self.state_dir)
        with self._lock:
            statuses = [self.postgres.start(report)] if postgres else []
            if tls and self.kafka.tls is None:
                if self.kafka.status().state != "stopped":
                    raise TerminalError(
                        "the broker runs without TLS: stop the stack (`sangsaeng stack "
                        "down`), then `sangsaeng stack up --tls`"
                    )
                if self.state_dir is None:
                    raise TerminalError("TLS needs a state dir to keep its certificates in")
                self.kafka.tls = ensure_certificates(tls_dir(self.state_dir), self.kafka.host)
            logins = ensure_platform_logins(self.state_dir) if self.state_dir else None
            if logins is not None:
                self.kafka.admin_password = logins[ADMIN].password
            statuses.append(self.kafka.start(report))
            if logins is not None:
                ensure_platform_users(self.kafka.bootstrap, logins, self.kafka.admin_security)
            if prepare is not None:
                report("Checking the platform database…")
                prepare()
            statuses.append(self.registry.start(report))
            statuses.append(self.gateway.start(report))
            statuses.append(self.api.start(report))
            return statuses

    def down(self, *, wipe: bool = False) -> list[str]:
        """Stop what `up` started, clients before the services they use."""
        with self._lock:
            said = [
                self.api.stop(),
                self.gateway.stop(),
                self.registry.stop(),
                self.kafka.stop(),
                self.postgres.stop(),
            ]
            if wipe:
                self.postgres.wipe()
                self.kafka.wipe()
                for path in self.local_data:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
                said.append("wiped the stack's data (topics, offsets, databases)")
            return said

    def status(self) -> list[ServiceStatus]:
        """One row per service, including those never started."""
        return [
            self.kafka.status(),
            self.registry.status(),
            self.gateway.status(),
            self.api.status(),
            self.postgres.status(),
        ]
