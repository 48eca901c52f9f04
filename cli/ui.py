"""`sangsaeng ui`: the Dagster UI and daemon on the state dir's instance."""

import os
import shutil
import sys

import typer

from cli.output import console
from cli.platform import settings
from sangsaeng.errors import ConfigError


def ui() -> None:
    """Open the Dagster UI (assets, checks, runs; the ingest job and its lag sensor, the
    views job and its sensor after ingest).

    Serves at SANGSAENG_DAGSTER_URL (127.0.0.1:3000) with the run history of
    <state_dir>/dagster, the same instance `sangsaeng ingest` and the demo record their
    runs on. The platform itself comes from `sangsaeng stack up`.
    """
    from orchestration.instance import prepare_home
    from schemas.registry.server import host_port

    current = settings()
    host, port = host_port(current.dagster_url)
    dagster = shutil.which("dagster", path=os.path.dirname(sys.executable)) or shutil.which(
        "dagster"
    )
    if dagster is None:
        raise ConfigError("the `dagster` command is missing: run `make setup`")
    home = prepare_home(current)
    console.print(f"Dagster UI on http://{host}:{port} (instance {home})")
    env = dict(os.environ, DAGSTER_HOME=str(home))
    argv = [dagster, "dev", "-m", "orchestration.definitions", "--host", host, "--port", str(port)]
    os.execve(dagster, argv, env)


def register(root: typer.Typer) -> None:
    root.command("ui")(ui)
