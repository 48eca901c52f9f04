"""A platform service of our own (registry, gateway, …) run in the background by the stack.

The service is a `sangsaeng` CLI command started with this interpreter; it is ready
when its HTTP root answers. Its command line names its port, which is its marker.
"""

import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from infra.process import require_free_port
from infra.service import ManagedService, Report

START_TIMEOUT_S = 60.0


@dataclass
class PythonService(ManagedService):
    """`sangsaeng <command> --host H --port P` kept running in the background."""

    name: str
    title: str
    command: tuple[str, ...]
    service_dir: Path
    host: str
    port: int
    setting: str  # the env var that moves it elsewhere, for error messages

    grace_seconds = 10.0
    log_grep = None

    @classmethod
    def serving(
        cls, name: str, title: str, url: str, stack_dir: Path, setting: str
    ) -> "PythonService":
        """`sangsaeng <name> serve` listening where `url` (from `setting`) points."""
        parts = urlsplit(url)
        return cls(
            name=name,
            title=title,
            command=(name, "serve"),
            service_dir=stack_dir / name,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 80,
            setting=setting,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return self.url

    @property
    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "cli",
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

    def answers(self) -> bool:
        try:
            return httpx.get(self.url + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _launch(self, report: Report) -> None:
        require_free_port(self.host, self.port, self.setting)
        self._spawn_and_wait(self.argv, report, START_TIMEOUT_S)
