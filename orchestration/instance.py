"""The persistent Dagster instance in `<state_dir>/dagster`: runs from the CLI, the demo and
the Dagster UI (`sangsaeng ui`) are kept in one place, so the UI shows what they landed."""

from pathlib import Path

import dagster as dg
import yaml

from sangsaeng.settings import Settings

# Telemetry off (factory networks, and nobody asked); one ingest run at a time, since
# two would only race for the same offsets and one of them would fail.
INSTANCE_CONFIG = {
    "telemetry": {"enabled": False},
    "run_queue": {
        "max_concurrent_runs": 4,
        "tag_concurrency_limits": [{"key": "sangsaeng/pipeline", "value": "ingest", "limit": 1}],
    },
}


def prepare_home(settings: Settings) -> Path:
    """`<state_dir>/dagster` with its `dagster.yaml` (written when missing); returns it."""
    home = settings.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(yaml.safe_dump(INSTANCE_CONFIG, sort_keys=False))
    return home


def persistent_instance(settings: Settings) -> dg.DagsterInstance:
    """The state dir's Dagster instance (close it after use)."""
    return dg.DagsterInstance.from_config(str(prepare_home(settings)))
