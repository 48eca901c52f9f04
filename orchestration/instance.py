"""The persistent Dagster instance in `<state_dir>/dagster`: runs from the CLI, the demo and
the Dagster UI (`sangsaeng ui`) are kept in one place, so the UI shows what they landed."""

from pathlib import Path

import dagster as dg
import yaml

from orchestration.defs.conventions import PIPELINE_TAG
from sangsaeng.files import private_dir, write_private
from sangsaeng.settings import Settings

# Telemetry off (factory networks, and nobody asked). One ingest run at a time, since
# two would only race for the same offsets and one of them would fail; one views run at
# a time under a limit of its own, so views never wait behind ingest (the refresh and a
# landing batch take turns on the database, transaction by transaction). Freshness
# policies evaluated by the daemon (landing within an hour, views within two).
INSTANCE_CONFIG = {
    "telemetry": {"enabled": False},
    "freshness": {"enabled": True},
    "run_queue": {
        "max_concurrent_runs": 4,
        "dequeue_interval_seconds": 1,  # event -> view latency: launch a queued run at once
        "tag_concurrency_limits": [
            {"key": PIPELINE_TAG, "value": "ingest", "limit": 1},
            {"key": PIPELINE_TAG, "value": "views", "limit": 1},
        ],
    },
}
# The first line of a `dagster.yaml` we wrote: such a file is ours to bring up to date;
# one without it (edited by someone, or older) is left as it is.
MARKER = "# Written by sangsaeng (orchestration/instance.py); delete this line to keep edits.\n"


def prepare_home(settings: Settings) -> Path:
    """`<state_dir>/dagster` with its `dagster.yaml` (written when missing, or rewritten
    when it is one we wrote and this release's differs); returns it."""
    home = settings.dagster_home.resolve()
    private_dir(home)
    config = home / "dagster.yaml"
    wanted = MARKER + yaml.safe_dump(INSTANCE_CONFIG, sort_keys=False)
    current = config.read_text() if config.exists() else None
    if current is None or (current.startswith(MARKER) and current != wanted):
        write_private(config, wanted)
    return home


def persistent_instance(settings: Settings) -> dg.DagsterInstance:
    """The state dir's Dagster instance (close it after use)."""
    return dg.DagsterInstance.from_config(str(prepare_home(settings)))
