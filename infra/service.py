"""The lifecycle every stack service shares: start once, report status, stop only our own.

A service keeps a `service.json` record (see `infra.process.ServiceRecord`). `start`
leaves a running service alone and clears a record left by a crash; `status` tells
running, stopped, crashed or unresponsive; `stop` ends the recorded process only while
its command line still carries the service's marker, and finds our processes by
that marker when the record itself is unreadable. Subclasses say how to launch,
how to tell the service answers, and (if special) how to stop it.
"""

import os
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

from infra.process import (
    ServiceRecord,
    ServiceStatus,
    log_tail,
    now_iso,
    process_matches,
    processes_with,
    terminate,
    wait_for,
)
from sangsaeng.errors import TerminalError, TransientError
from sangsaeng.files import private_dir, private_file
from sangsaeng.kafka_access import KAFKA_LOGIN_VARS

# A JVM leaves SIGTERM alone when it was ignored at its start (nohup, a background job
# without job control, or a parent that ignores it: Dagster's in-process runs leave SIGTERM
# as SIGINT's disposition, which a background job ignores). The broker would then ignore
# `stack down` and be killed after the grace period. So services start with the default
# dispositions, via a tiny exec wrapper (safe with threads, unlike preexec_fn); the pid and
# command line are the service's own once it has exec'd.
EXEC_WITH_DEFAULT_SIGNALS = (
    "import os, signal, sys\n"
    "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])"
)

Report = Callable[[str], None]


def quiet(_: str) -> None:
    """A `Report` that says nothing."""


class ManagedService(ABC):
    """One background service of the local stack, with its files under `service_dir`."""

    name: str  # short, as in `stack status`
    title: str  # for sentences: "the Kafka broker exited during start-up"
    service_dir: Path
    grace_seconds: float = 30.0
    kill_group: bool = True  # the process leads its own session (we started it so)
    log_grep: str | None = "ERROR"  # the log lines worth showing when it fails

    @property
    @abstractmethod
    def address(self) -> str:
        """Where clients reach it."""

    @property
    @abstractmethod
    def marker(self) -> str:
        """A string found in the command line of our process and no other."""

    @property
    @abstractmethod
    def log_file(self) -> Path: ...

    @abstractmethod
    def answers(self) -> bool:
        """True when the service accepts requests."""

    @abstractmethod
    def _launch(self, report: Report) -> None:
        """Start the process, save its record, return once it answers (or raise)."""

    @property
    def record_file(self) -> Path:
        return self.service_dir / "service.json"

    def record(self) -> ServiceRecord | None:
        return ServiceRecord.load(self.record_file)

    def _last_words(self) -> str:
        return (log_tail(self.log_file, grep=self.log_grep) if self.log_grep else "") or log_tail(
            self.log_file
        )

    def _save_record(self, pid: int) -> None:
        ServiceRecord(
            name=self.name,
            pid=pid,
            address=self.address,
            started_at=now_iso(),
            log=str(self.log_file),
            marker=self.marker,
        ).save(self.record_file)

    def status(self) -> ServiceStatus:
        """Whether the service `start` launched runs, crashed, or was never started."""
        rec = self.record()
        if rec is None:
            return ServiceStatus(self.name, "stopped", self.address)
        base = dict(address=rec.address, pid=rec.pid, since=rec.started_at, log=rec.log)
        if not process_matches(rec.pid, rec.marker):
            return ServiceStatus(self.name, "crashed", **base, detail=self._last_words()[:200])
        if not self.answers():
            return ServiceStatus(
                self.name, "unresponsive", **base, detail="process alive but not answering requests"
            )
        return ServiceStatus(self.name, "running", **base)

    def start(self, report: Report = quiet) -> ServiceStatus:
        """Start the service unless it already runs; returns its status once it answers."""
        rec = self.record()
        if rec is not None:
            if process_matches(rec.pid, rec.marker):
                return self.status()
            report(f"{self.name}: removed stale pid file (pid {rec.pid} is not running)")
            self.record_file.unlink()
        self._launch(report)
        return self.status()

    def _spawn_and_wait(self, argv: Sequence[str], report: Report, timeout_s: float) -> None:
        """Run `argv` in its own session, logging to `log_file`; wait until it answers.

        Raises `TerminalError` with the log's last words if it exits first, and
        `TransientError` if it neither answers nor exits within `timeout_s`.
        """
        private_dir(self.service_dir)
        report(f"{self.name}: starting on {self.address}")
        with private_file(self.log_file).open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", EXEC_WITH_DEFAULT_SIGNALS, *argv],
                # the stack's services log in to Kafka as the platform users of the state
                # dir, never as whoever the starting shell logs in as
                env={k: v for k, v in os.environ.items() if k not in KAFKA_LOGIN_VARS},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._save_record(proc.pid)
        ready = wait_for(
            lambda: proc.poll() is not None or self.answers(), timeout=timeout_s, interval=0.25
        )
        if proc.poll() is not None:
            self.record_file.unlink(missing_ok=True)
            raise TerminalError(
                f"the {self.title} exited during start-up (code {proc.returncode}): "
                f"{self._last_words()[:300]} — full log: {self.log_file}"
            )
        if not ready:
            raise TransientError(
                f"the {self.title} (pid {proc.pid}) did not answer within {timeout_s:.0f}s; see "
                f"{self.log_file}, then `sangsaeng stack status` or `sangsaeng stack down`"
            )

    def _stop_process(self, pid: int) -> str:
        """End our running process; returns how it went."""
        killed = terminate(pid, grace_seconds=self.grace_seconds, group=self.kill_group)
        return f"killed after {self.grace_seconds:.0f} s" if killed else "stopped"

    def stop(self) -> str:
        """Stop the process `start` launched (and only that one); returns what happened."""
        try:
            rec = self.record()
        except TerminalError:  # unreadable record: find our process by its marker instead
            pids = processes_with(self.marker)
            for pid in pids:
                self._stop_process(pid)
            self.record_file.unlink(missing_ok=True)
            return f"{self.name}: pid file was corrupted; stopped {len(pids)} process(es)"
        if rec is None:
            return f"{self.name}: not started by this stack"
        if not process_matches(rec.pid, rec.marker):
            self.record_file.unlink()
            return f"{self.name}: was not running (pid {rec.pid} had exited); cleared its pid file"
        how = self._stop_process(rec.pid)
        self.record_file.unlink(missing_ok=True)
        return f"{self.name}: {how} (pid {rec.pid})"

    def _refuse_wipe_while_running(self) -> None:
        if processes_with(self.marker):
            raise TerminalError(f"{self.name} is running: stop it before wiping its data")
