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
import stat
import subprocess
from dataclasses import dataclass
from glob import glob
from pathlib import Path

from infra.process import process_matches, require_free_port
from infra.service import ManagedService, Report
from sangsaeng.errors import TerminalError, TransientError
from sangsaeng.files import private_dir

DB_USER = "sangsaeng"
DB_NAME = "sangsaeng"
START_TIMEOUT_S = 60
INSTALL_HINT = "install the server (Debian: apt-get update && apt-get install -y postgresql)"


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
class PostgresCluster(ManagedService):
    """One PostgreSQL cluster whose data, log and pid record live under `service_dir`."""

    service_dir: Path
    port: int = 54329
    host: str = "127.0.0.1"
    # The state dir holding `service_dir` (0700): when we are root, the `postgres` user
    # is let search the folders from it down to `service_dir` (0711: listing nothing).
    reach_from: Path | None = None

    name = "postgres"
    title = "PostgreSQL server"
    kill_group = False  # pg_ctl starts the postmaster; it does not lead its own session
    log_grep = "FATAL"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def marker(self) -> str:
        return str(self.data_dir.resolve())

    @property
    def data_dir(self) -> Path:
        return self.service_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.service_dir / "postgres.log"

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

    def _let_postgres_search(self) -> None:
        """Others (the `postgres` user) may search, not list, the private folders from
        `reach_from` down to `service_dir`: 0700 becomes 0711 (`sangsaeng.files`
        leaves such a folder as it is)."""
        if self.reach_from is None:
            return
        top = self.reach_from.resolve()
        folder = self.service_dir.resolve().parent
        while folder.is_relative_to(top):
            mode = stat.S_IMODE(folder.stat().st_mode)
            if mode & 0o011 != 0o011:
                folder.chmod(mode | 0o011)
            if folder == top:
                break
            folder = folder.parent

    def _prepare_dirs(self) -> None:
        private_dir(self.service_dir)
        if os.geteuid() != 0:
            return
        self._let_postgres_search()
        shutil.chown(self.service_dir, "postgres", "postgres")
        probe = subprocess.run(
            [*self._run_as(), "test", "-w", str(self.service_dir.resolve())], check=False
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

    def answers(self) -> bool:
        """True when the server accepts a connection to the platform database."""
        import psycopg

        try:
            with psycopg.connect(self.admin_dsn(DB_NAME), connect_timeout=3):
                return True
        except psycopg.Error:
            return False

    # -- start / stop --------------------------------------------------------------------

    def _launch(self, report: Report) -> None:
        """Create the cluster on first start, `pg_ctl start` it, create the database.

        Raises `TerminalError` (server package missing, port taken, corrupted data dir,
        server refused to start) with what to do next.
        """
        find_bin_dir()
        require_free_port(self.host, self.port, "SANGSAENG_POSTGRES_PORT")
        self._prepare_dirs()
        self._init_if_new(report)

        report(f"postgres: starting on {self.address}")
        options = (
            f"-p {self.port} -c listen_addresses={self.host} "
            f"-k {self.data_dir.resolve()}"  # our own socket dir: no clash with a system server
        )
        started = self._tool(
            "pg_ctl",
            "-D",
            self.marker,
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
            last = self._last_words() or started.stderr.strip()
            raise TerminalError(
                f"PostgreSQL did not start: {last[:300]} — full log: {self.log_file}"
            )
        self._save_record(self._postmaster_pid())
        self._ensure_database()

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
            self.marker,
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

    def _stop_process(self, pid: int) -> str:
        """`pg_ctl stop -m fast` (a clean checkpoint); a signal only if that fails."""
        stopped = self._tool("pg_ctl", "-D", self.marker, "-m", "fast", "-w", "stop")
        if stopped.returncode != 0 and process_matches(pid, self.marker):
            super()._stop_process(pid)
            return "stopped by signal (pg_ctl failed)"
        return "stopped"

    def wipe(self) -> None:
        """Delete the cluster's data; only when it is not running."""
        self._refuse_wipe_while_running()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.service_dir)
