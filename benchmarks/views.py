"""Views refresh: the incremental refresh after a batch vs the full rebuild, on a long
history, on SQLite and PostgreSQL in one run.

    .venv/bin/python -m benchmarks.views [--history 10000000] [--batch 100000]
                                          [--suppliers 300] [--databases sqlite,postgresql]

For each database (a fresh SQLite file; a PostgreSQL cluster of the benchmark's own):
the simulated programme's events (the simulator's, no flaws) are written straight into
the landing tables by the landing writer ingest uses (business day stamped), `history`
of them; every view is built (`--full`); then the next `batch` events land as ingest
lands them (their view keys touched in the same transaction) and the views are
refreshed incrementally; finally the full rebuild runs again over the same data. The
table compares the incremental refresh with that full rebuild. Goal: incremental <= 2 %
of the full rebuild.
"""

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import Engine

from benchmarks.view_latency import GOAL_P95_S, Latency, measure_latency
from benchmarks.view_latency import Rig as LatencyRig
from connectors.simulator.events import generate
from connectors.simulator.world import build_world
from governance.reference import ReferenceFile, ReferenceSets, load_reference
from infra.postgres.cluster import PostgresCluster
from infra.process import free_port
from migrations.schema import upgrade
from pipelines.decode import Event
from pipelines.landing.days import LocalDays
from pipelines.landing.models import LANDING
from pipelines.landing.writer import insert_events
from pipelines.quarantine import QuarantinedRecord
from pipelines.views.catalog import ordered, stale
from pipelines.views.keys import touch
from pipelines.views.refresh import ViewRefresh, refresh_view
from sangsaeng.db import make_engine
from sangsaeng.settings import load_settings
from schemas.topics import EventType, supplier_topic

START = date(2025, 1, 6)  # a Monday; the history is pinned, not relative to today
GOAL = 0.02
CHUNK = 20_000
console = Console()
app = typer.Typer(add_completion=False)


@dataclass
class Figures:
    database: str
    history: int
    batch: int
    load_s: float
    first_build_s: float
    incremental_s: float
    touched: int
    full_s: float
    # seconds per view: first build, incremental refresh, full rebuild after the batch
    per_view: dict[str, tuple[float, float, float]]


def events(suppliers: int, total: int) -> Iterator[Event]:
    """`total` simulated events as decoded `Event`s (Kafka coordinates made up)."""
    days = 2 + total // max(1, suppliers * 40)
    world = build_world(7, suppliers, START, days)
    offsets: dict[str, int] = {}
    for n, sim in enumerate(generate(world, seed=7, bad_rate=0.0)):
        if n >= total:
            return
        kind = EventType(sim.event_type)
        topic = supplier_topic(sim.supplier_id, kind)
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        stamp = int((sim.record["event_time"] + timedelta(seconds=20)).timestamp() * 1000)
        source = QuarantinedRecord(topic, 0, offset, stamp, None)
        yield Event(source, kind, sim.supplier_id, dict(sim.record))


def reference_of(suppliers: int) -> dict[str, Any]:
    return build_world(7, suppliers, START, 28).reference()


def land(
    engines: dict[str, Engine],
    stream: Iterator[Event],
    n: int,
    days: LocalDays,
    label: str,
    *,
    touch_keys: bool,
) -> dict[str, float]:
    """Land the next `n` events of `stream` in chunks into every engine (one pass of the
    simulator for all); returns the seconds each database spent writing."""
    landed, spent = 0, dict.fromkeys(engines, 0.0)
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(
        *Progress.get_default_columns()[:1], *columns, console=console, transient=True
    ) as progress:
        task = progress.add_task(label, total=n)
        while landed < n:
            chunk: dict[EventType, list[Event]] = {}
            size = 0
            for event in stream:
                event.payload["business_day"] = days.business_day(event.event_type, event.payload)
                chunk.setdefault(event.event_type, []).append(event)
                size += 1
                if size >= min(CHUNK, n - landed):
                    break
            if not chunk:
                break
            now = datetime.now(UTC)
            for name, engine in engines.items():
                started = time.perf_counter()
                with engine.begin() as conn:
                    for kind, batch in chunk.items():
                        insert_events(conn, LANDING[kind], batch, now)
                    if touch_keys:
                        keys = {
                            kind: {(e.supplier_id, e.payload["business_day"]) for e in batch}
                            for kind, batch in chunk.items()
                        }
                        touch(conn, stale(keys))
                spent[name] += time.perf_counter() - started
            landed += size
            progress.update(task, advance=size)
    return spent


def timed_refresh(
    engine: Engine, settings: Any, *, full: bool
) -> tuple[list[ViewRefresh], dict[str, float], float]:
    """Refresh every view in order, timing each; returns what each did, the seconds per
    view and the total."""
    done, seconds = [], {}
    for view in ordered():
        started = time.perf_counter()
        done.append(refresh_view(engine, view, settings, full=full))
        seconds[view.name] = time.perf_counter() - started
    return done, seconds, sum(seconds.values())


def measure(
    urls: dict[str, str], history: int, batch: int, suppliers: int, *, rebuild: bool
) -> list[Figures]:
    engines = {name: make_engine(url) for name, url in urls.items()}
    for engine in engines.values():
        upgrade(engine)
        load_reference(engine, ReferenceFile.model_validate(reference_of(suppliers)))
    sets = ReferenceSets.read(next(iter(engines.values())))
    days = LocalDays(sets.site_timezones, sets.supplier_timezones)
    settings = load_settings()
    stream = events(suppliers, history + batch)
    load = land(engines, stream, history, days, "Landing the history", touch_keys=False)
    first: dict[str, float] = {}
    first_views: dict[str, dict[str, float]] = {}
    for name, engine in engines.items():
        with console.status(f"{name}: building every view (--full)"):
            _, first_views[name], first[name] = timed_refresh(engine, settings, full=True)
        console.print(
            f"{name}: landed in {load[name]:.0f} s, every view built in {first[name]:.1f} s"
        )
    land(engines, stream, batch, days, "Landing a batch", touch_keys=True)
    found = []
    for name, engine in engines.items():
        with console.status(f"{name}: incremental refresh"):
            done, incremental_views, incremental_s = timed_refresh(engine, settings, full=False)
        touched = max((d.keys for d in done), default=0)
        console.print(
            f"{name}: incremental refresh {incremental_s:.2f} s ({touched:,} touched keys), "
            f"first build {first[name]:.1f} s"
        )
        full_s, full_views = first[name], first_views[name]
        if rebuild:
            with console.status(f"{name}: full rebuild"):
                _, full_views, full_s = timed_refresh(engine, settings, full=True)
            console.print(f"{name}: full rebuild after the batch {full_s:.1f} s")
        engine.dispose()
        per_view = {
            v: (first_views[name][v], incremental_views[v], full_views[v]) for v in full_views
        }
        found.append(
            Figures(
                name,
                history,
                batch,
                load[name],
                first[name],
                incremental_s,
                touched,
                full_s,
                per_view,
            )
        )
    return found


@app.command()
def main(  # noqa: PLR0917 - typer options
    history: Annotated[int, typer.Option(help="Events landed before the batch.")] = 10_000_000,
    batch: Annotated[int, typer.Option(help="Events in the new batch.")] = 100_000,
    suppliers: Annotated[int, typer.Option(help="Suppliers in the programme.")] = 300,
    databases: Annotated[str, typer.Option(help="sqlite, postgresql, or both.")] = (
        "sqlite,postgresql"
    ),
    probes: Annotated[int, typer.Option(help="Probe events for the latency (0: skip).")] = 1_000,
    probe_interval: Annotated[float, typer.Option(help="Seconds between probes.")] = 0.25,
    rebuild: Annotated[
        bool,
        typer.Option(
            help="Rebuild everything again after the batch (else the first build over the "
            "history is the full figure)."
        ),
    ] = True,
) -> None:
    """Time the incremental views refresh against the full rebuild (goal: <= 2 %), and
    the event -> view latency under the sensors (goal: p95 <= 30 s)."""
    folder = Path(tempfile.mkdtemp(prefix="sangsaeng-bench-views-"))
    folder.chmod(0o755)  # the postgres user must enter it when we are root
    wanted = [d.strip() for d in databases.split(",") if d.strip()]
    cluster = None
    try:
        urls = {}
        if "sqlite" in wanted:
            urls["SQLite"] = f"sqlite:///{folder / 'views.db'}"
        if "postgresql" in wanted:
            cluster = PostgresCluster(service_dir=folder / "postgres", port=free_port())
            with console.status("Starting PostgreSQL…"):
                cluster.start()
            urls["PostgreSQL"] = cluster.url
        found = measure(urls, history, batch, suppliers, rebuild=rebuild)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    table = Table(
        title=f"Views: incremental refresh vs full rebuild (goal <= {GOAL:.0%})",
        title_justify="left",
    )
    for column in (
        "database",
        "history",
        "batch",
        "landing",
        "first build",
        "incremental",
        "touched keys",
        "full rebuild",
        "incremental / full",
        "goal",
    ):
        table.add_column(column, justify="left" if column == "database" else "right")
    for f in found:
        share = f.incremental_s / f.full_s if f.full_s else float("nan")
        table.add_row(
            f.database,
            f"{f.history:,}",
            f"{f.batch:,}",
            f"{f.load_s:.0f} s",
            f"{f.first_build_s:.1f} s",
            f"{f.incremental_s:.2f} s",
            f"{f.touched:,}",
            f"{f.full_s:.1f} s",
            f"[{'green' if share <= GOAL else 'red'}]{share:.2%}[/]",
            f"<= {GOAL:.0%}",
        )
    console.print(table)
    for f in found:
        where_views(f)
    if probes:
        latency_table(measure_probes(probes, probe_interval), probes)


def where_views(f: Figures) -> None:
    """Where the refresh time goes, per view."""
    table = Table(title=f"{f.database}: seconds per view", title_justify="left")
    for column in ("view", "first build", "incremental", "full rebuild", "incremental / full"):
        table.add_column(column, justify="left" if column == "view" else "right")
    for view, (first_s, incremental_s, full_s) in f.per_view.items():
        share = incremental_s / full_s if full_s else float("nan")
        table.add_row(
            view, f"{first_s:.2f}", f"{incremental_s:.2f}", f"{full_s:.2f}", f"{share:.1%}"
        )
    console.print(table)


def measure_probes(probes: int, interval: float) -> Latency:
    """The latency measurement on a broker and registry of its own (SQLite)."""
    from benchmarks.pipeline import Rig as Services

    services = Services(with_postgres=False)
    try:
        rig = LatencyRig(
            services.folder, services.broker.bootstrap, services.registry.url, services.auth
        )
        return measure_latency(console, rig, probes=probes, interval_s=interval)
    finally:
        services.close()


def latency_table(found: Latency, probes: int) -> None:
    table = Table(
        title=f"Event -> view (production_daily), sensors running, {probes:,} probes "
        f"(goal p95 <= {GOAL_P95_S:.0f} s)",
        title_justify="left",
    )
    for column in ("seen", "p50", "p95", "worst", "goal p95"):
        table.add_column(column, justify="right")
    colour = "green" if found.p95 <= GOAL_P95_S else "red"
    table.add_row(
        f"{found.seen:,} / {found.probes:,}",
        f"{found.p50:.1f} s",
        f"[{colour}]{found.p95:.1f} s[/]",
        f"{found.worst:.1f} s",
        f"<= {GOAL_P95_S:.0f} s",
    )
    console.print(table)
    where = Table(title="Where the time goes (mean per run)", title_justify="left")
    where.add_column("stage")
    where.add_column("value", justify="right")
    for stage, value in found.where.items():
        where.add_row(stage, f"{value:.0f}" if stage.endswith("runs") else f"{value:.1f} s")
    console.print(where)


if __name__ == "__main__":
    app()
