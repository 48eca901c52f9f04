"""A project-local PostgreSQL cluster from the Debian server package, on 127.0.0.1 only.

`initdb` into the state dir on first start, then `pg_ctl start`. PostgreSQL refuses to
run as root, so when we are root the server runs as the `postgres` system user that
the Debian package creates. Authentication is `trust` on loopback: a developer's
cluster, never one for production data. Nothing is installed here; a missing server
package is reported with the command that installs it.
"""

import contextlib
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from glob import glob
from pathlib import Path

from infra.process import (
    ServiceRecord,
    ServiceStatus,
    log_tail,
    now_iso,
    process_matches,
    processes_with,
    require_free_port,
    terminate,
)
from sangsaeng.errors import TerminalError, TransientError

DB_USER = "sangsaeng"
DB_NAME = "sangsaeng"
START_TIMEOUT_S = 60
INSTALL_HINT = "install the server (Debian: apt-get update && apt-get install -y postgresql)"

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def find_bin_dir() -> Path:
    """The folder of `initdb`/`pg_ctl`/`postgres` (newest Debian version first)."""
    candidates = sorted(
        glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p)],
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if candidates:
        return Path(candidates[0]).parent
    if on_path:
        return Path(on_path).resolve().parent
    raise TerminalError(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}")


@dataclass
class PostgresCluster:
    """One PostgreSQL cluster whose data, log and pid record live under `service_dir`."""

    service_dir: Path
    port: int = 54329
    host: str = "127.0.0.1"

    name = "postgres"

    @property
    def data_dir(self) -> Path:
        return self.service_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.service_dir / "postgres.log"

    @property
    def record_file(self) -> Path:
        return self.service_dir / "service.json"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the platform database in this cluster."""
        return f"postgresql+psycopg://{DB_USER}@{self.host}:{self.port}/{DB_NAME}"

    def admin_dsn(self, dbname: str = "postgres") -> str:
        """libpq DSN for administrative connections (creating databases)."""
        return f"host={self.host} port={self.port} user={DB_USER} dbname={dbname}"

    # -- running as an unprivileged user -------------------------------------------------

    def _run_as(self) -> list[str]:
        """Command prefix that drops root for PostgreSQL's tools (empty when not root)."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise TerminalError(
                "PostgreSQL will not run as root and there is no `postgres` user: "
                f"{INSTALL_HINT} (it creates that user), or run as a normal user"
            ) from None
        return ["runuser", "-u", "postgres", "--"]

    def _prepare_dirs(self) -> None:
        self.service_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        shutil.chown(self.service_dir, "postgres", "postgres")
        probe = subprocess.run(
            [*self._run_as(), "test", "-w", str(self.service_dir.resolve())],
            check=False,
        )
        if probe.returncode != 0:
            raise TerminalError(
                f"the postgres user cannot reach {self.service_dir.resolve()} (a parent folder "
                f"is not searchable by others): set SANGSAENG_STATE_DIR to a path it can reach"
            )

    def _tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._run_as(), str(find_bin_dir() / name), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    # -- status --------------------------------------------------------------------------

    def record(self) -> ServiceRecord | None:
        return ServiceRecord.load(self.record_file)

    def _marker(self) -> str:
        return str(self.data_dir.resolve())

    def answers(self) -> bool:
        """True when the server accepts a connection to the platform database."""
        import psycopg

        try:
            with psycopg.connect(self.admin_dsn(DB_NAME), connect_timeout=3):
                return True
        except psycopg.Error:
            return False

    def status(self) -> ServiceStatus:
        """Whether the cluster `up` started is running, crashed, or was never started."""
        rec = self.record()
        if rec is None:
            return ServiceStatus(self.name, "stopped", f"{self.host}:{self.port}")
        base = dict(address=rec.address, pid=rec.pid, since=rec.started_at, log=rec.log)
        if not process_matches(rec.pid, rec.marker):
            last = log_tail(self.log_file, grep="FATAL") or log_tail(self.log_file)
            return ServiceStatus(self.name, "crashed", **base, detail=last[:200])
        if not self.answers():
            return ServiceStatus(
                self.name, "unresponsive", **base, detail="process alive but refusing connections"
            )
        return ServiceStatus(self.name, "running", **base)

    # -- start / stop --------------------------------------------------------------------

    def start(self, report: Report = _quiet) -> ServiceStatus:
        """Start the cluster unless it already runs; create it on first start.

        Raises `TerminalError` (server package missing, port taken, corrupted data dir,
        server refused to start) with what to do next.
        """
        rec = self.record()
        if rec is not None:
            if process_matches(rec.pid, rec.marker):
                return self.status()
            report(f"postgres: removed stale pid file (pid {rec.pid} is not running)")
            self.record_file.unlink()

        find_bin_dir()
        require_free_port(self.host, self.port, "SANGSAENG_POSTGRES_PORT")
        self._prepare_dirs()
        self._init_if_new(report)

        report(f"postgres: starting on {self.host}:{self.port}")
        options = (
            f"-p {self.port} -c listen_addresses={self.host} "
            f"-k {self.data_dir.resolve()}"  # our own socket dir: no clash with a system server
        )
        started = self._tool(
            "pg_ctl",
            "-D",
            str(self.data_dir.resolve()),
            "-l",
            str(self.log_file.resolve()),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        )
        if started.returncode != 0:
            last = log_tail(self.log_file, grep="FATAL") or started.stderr.strip()
            raise TerminalError(
                f"PostgreSQL did not start: {last[:300]} — full log: {self.log_file}"
            )
        pid = self._postmaster_pid()
        ServiceRecord(
            name=self.name,
            pid=pid,
            address=f"{self.host}:{self.port}",
            started_at=now_iso(),
            log=str(self.log_file),
            marker=self._marker(),
        ).save(self.record_file)
        self._ensure_database()
        return self.status()

    def _init_if_new(self, report: Report) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            if not (self.data_dir / "PG_VERSION").exists():
                raise TerminalError(
                    f"the PostgreSQL data dir {self.data_dir} is corrupted (no PG_VERSION): run "
                    f"`sangsaeng stack down --wipe` to start afresh (this deletes local data)"
                )
            return
        report("postgres: creating a new cluster (initdb)")
        done = self._tool(
            "initdb",
            "-D",
            str(self.data_dir.resolve()),
            "-U",
            DB_USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        )
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            raise TerminalError(f"initdb failed in {self.data_dir}: {said[-1][:300]}")

    def _postmaster_pid(self) -> int:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            raise TransientError(
                f"PostgreSQL started but wrote no readable postmaster.pid in {self.data_dir}"
            ) from None

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_dsn(), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')

    def stop(self) -> str:
        """Stop the cluster `start` launched (and only that one); returns what happened."""
        try:
            rec = self.record()
        except TerminalError:
            pids = processes_with(self._marker())
            for pid in pids:
                terminate(pid, grace_seconds=30, group=False)
            self.record_file.unlink(missing_ok=True)
            return f"postgres: pid file was corrupted; stopped {len(pids)} server process(es)"
        if rec is None:
            return "postgres: not started by this stack"
        if not process_matches(rec.pid, rec.marker):
            self.record_file.unlink()
            return f"postgres: was not running (pid {rec.pid} had exited); cleared its pid file"
        stopped = self._tool(
            "pg_ctl", "-D", str(self.data_dir.resolve()), "-m", "fast", "-w", "stop"
        )
        how = "stopped"
        if stopped.returncode != 0 and process_matches(rec.pid, rec.marker):
            terminate(rec.pid, grace_seconds=30, group=False)
            how = "stopped by signal (pg_ctl failed)"
        self.record_file.unlink(missing_ok=True)
        return f"postgres: {how} (pid {rec.pid})"

    def wipe(self) -> None:
        """Delete the cluster's data; only when it is not running."""
        if processes_with(self._marker()):
            raise TerminalError("postgres is running: stop it before wiping its data")
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.service_dir)
