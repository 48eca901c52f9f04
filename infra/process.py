"""Process bookkeeping for the local stack: service records, liveness, ports, waiting.

Each service the stack starts leaves a `service.json` record (pid, address, start
time, log file, a marker found in its command line). `down` stops only processes
whose record it finds *and* whose command line still carries the marker, so a pid
reused by another program after a crash is never killed.
"""

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sangsaeng.errors import TerminalError, TransientError
from sangsaeng.files import private_file

State = Literal["running", "stopped", "crashed", "unresponsive"]


@dataclass(frozen=True)
class ServiceRecord:
    """What `up` wrote about a service it started."""

    name: str
    pid: int
    address: str
    started_at: str
    log: str
    marker: str

    def save(self, path: Path) -> None:
        """Write the record atomically (a crash never leaves half a file)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "ServiceRecord | None":
        """The record at `path`, None when there is none.

        Raises `TerminalError` when the file is there but unreadable.
        """
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError, OSError) as exc:
            raise TerminalError(
                f"state file {path} is corrupted ({type(exc).__name__}); check that no such "
                f"service is running, then delete the file (or run `sangsaeng stack down --wipe`)"
            ) from None


@dataclass(frozen=True)
class ServiceStatus:
    """One row of `sangsaeng stack status`."""

    name: str
    state: State
    address: str = ""
    pid: int | None = None
    since: str = ""
    log: str = ""
    detail: str = ""


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def pid_alive(pid: int) -> bool:
    """True when `pid` is a live process (zombies count as dead and are reaped if ours)."""
    with contextlib.suppress(ChildProcessError, OSError):
        # A child of this process that exited stays a zombie until waited for.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user (e.g. postgres)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def process_matches(pid: int, marker: str) -> bool:
    """True when `pid` is alive and its command line contains `marker`."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return marker in cmdline


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker` (for lost pid files)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and process_matches(int(entry.name), marker):
            found.append(int(entry.name))
    return found


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on (host, port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise TerminalError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    return False


def require_free_port(host: str, port: int, setting: str) -> None:
    """Raise `TerminalError` naming the setting to change when the port is taken."""
    if port_in_use(host, port):
        raise TerminalError(
            f"port {port} on {host} is already in use by another program: stop it, "
            f"or choose another port with {setting}"
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for tests and side-by-side stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def require_tool(name: str, what_to_do: str) -> str:
    """The path of executable `name`; `TerminalError` saying `what_to_do` when missing."""
    path = shutil.which(name)
    if path is None:
        raise TerminalError(f"{name} not found on PATH: {what_to_do}")
    return path


def terminate(pid: int, *, grace_seconds: float = 30.0, group: bool = True) -> bool:
    """Stop `pid` (its process group when `group`): SIGTERM, then SIGKILL after the grace.

    Returns True when it had to be killed.
    """

    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    send(signal.SIGTERM)
    if wait_for(lambda: not pid_alive(pid), timeout=grace_seconds, interval=0.1):
        return False
    send(signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), timeout=10, interval=0.05)
    return True


def wait_for(condition: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; returns whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def log_tail(path: Path, lines: int = 1, *, grep: str | None = None) -> str:
    """The last `lines` non-empty lines of a log (those containing `grep`, if given)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    picked = [line for line in text if line.strip() and (grep is None or grep in line)]
    return " | ".join(line.strip() for line in picked[-lines:])


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock so two `stack up` never start the same service twice."""
    with private_file(lock_path).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TransientError(
                f"another `sangsaeng stack` command holds {lock_path}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
