"""A platform service of our own (registry, gateway, …) run in the background by the stack.

The service is a `sangsaeng` CLI command started with this interpreter; it is ready
when its HTTP root answers. Its record carries the command line, so `down` stops
exactly that process.
"""

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.process import (
    ServiceRecord,
    ServiceStatus,
    log_tail,
    now_iso,
    process_matches,
    processes_with,
    require_free_port,
    terminate,
    wait_for,
)
from sangsaeng.errors import TerminalError, TransientError

START_TIMEOUT_S = 60.0
Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class PythonService:
    """`sangsaeng <command> --host H --port P` kept running in the background."""

    name: str
    command: tuple[str, ...]
    service_dir: Path
    host: str
    port: int
    setting: str  # the env var that moves it elsewhere, for error messages

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "sangsaeng.cli",
            *self.command,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    @property
    def marker(self) -> str:
        return " ".join(self.argv[1:])

    @property
    def log_file(self) -> Path:
        return self.service_dir / f"{self.name}.log"

    @property
    def record_file(self) -> Path:
        return self.service_dir / "service.json"

    def record(self) -> ServiceRecord | None:
        return ServiceRecord.load(self.record_file)

    def answers(self) -> bool:
        try:
            return httpx.get(self.url + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> ServiceStatus:
        rec = self.record()
        if rec is None:
            return ServiceStatus(self.name, "stopped", self.url)
        base = dict(address=rec.address, pid=rec.pid, since=rec.started_at, log=rec.log)
        if not process_matches(rec.pid, rec.marker):
            return ServiceStatus(self.name, "crashed", **base, detail=log_tail(self.log_file)[:200])
        if not self.answers():
            return ServiceStatus(self.name, "unresponsive", **base, detail="not answering HTTP")
        return ServiceStatus(self.name, "running", **base)

    def start(self, report: Report = _quiet) -> ServiceStatus:
        """Start unless running; returns the status once it answers HTTP."""
        rec = self.record()
        if rec is not None:
            if process_matches(rec.pid, rec.marker):
                return self.status()
            report(f"{self.name}: removed stale pid file (pid {rec.pid} is not running)")
            self.record_file.unlink()
        require_free_port(self.host, self.port, self.setting)
        self.service_dir.mkdir(parents=True, exist_ok=True)
        report(f"{self.name}: starting on {self.url}")
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        ServiceRecord(
            name=self.name,
            pid=proc.pid,
            address=self.url,
            started_at=now_iso(),
            log=str(self.log_file),
            marker=self.marker,
        ).save(self.record_file)
        ready = wait_for(
            lambda: proc.poll() is not None or self.answers(), timeout=START_TIMEOUT_S, interval=0.2
        )
        if proc.poll() is not None:
            self.record_file.unlink(missing_ok=True)
            raise TerminalError(
                f"the {self.name} exited during start-up (code {proc.returncode}): "
                f"{log_tail(self.log_file)[:300]} — full log: {self.log_file}"
            )
        if not ready:
            raise TransientError(
                f"the {self.name} (pid {proc.pid}) did not answer within {START_TIMEOUT_S:.0f}s;"
                f" see {self.log_file}"
            )
        return self.status()

    def stop(self) -> str:
        """Stop the process `start` launched, and only that one."""
        try:
            rec = self.record()
        except TerminalError:
            pids = processes_with(self.marker)
            for pid in pids:
                terminate(pid, grace_seconds=10)
            self.record_file.unlink(missing_ok=True)
            return f"{self.name}: pid file was corrupted; stopped {len(pids)} process(es)"
        if rec is None:
            return f"{self.name}: not started by this stack"
        if not process_matches(rec.pid, rec.marker):
            self.record_file.unlink()
            return f"{self.name}: was not running (pid {rec.pid} had exited); cleared its pid file"
        terminate(rec.pid, grace_seconds=10)
        self.record_file.unlink(missing_ok=True)
        return f"{self.name}: stopped (pid {rec.pid})"
