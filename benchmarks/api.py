"""The buyer API under load: 50 concurrent clients over views built from a long history,
against a ceiling without the sharing rules and the audit trail, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.api [--history 10000000] [--suppliers 300]
                                        [--clients 50] [--seconds 30]
                                        [--databases sqlite,postgresql] [--keep DIR]
                                        [--load-processes 2]

For each database: the views benchmark's history (`benchmarks.views`: the simulated
programme, written into the landing tables) is landed and every view built; the
programme's sponsorships (each with its default agreement) and one key per buyer are
recorded. Then two servers run in turn on 127.0.0.1, each in a process of its own
(uvicorn, one worker): `sangsaeng api serve` (the rules in SQL, an audit row per request,
the key looked up as the API does, kept 5 s) and `benchmarks.api_ceiling` (the same
SELECTs without the rules, no audit, no key; both with the API's pool of connections).
`clients` async httpx clients (flat out: split over `--load-processes` processes) send a
mixed stream of requests for `seconds` each (after a warm-up): buyers' pages of
production_daily, oee_daily, quality_daily and delivery_weekly for one of their suppliers
and a week or two, and lot traces of lots shipped to them. The same seeded sequence goes
to both servers.

Goals: p95 <= 50 ms on PostgreSQL, and the API's throughput >= 0.8 of the ceiling's.
`--keep DIR` keeps the built databases in DIR and reuses them on the next run with the
same history and suppliers (the build is most of the time at 10 M events).
"""

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from benchmarks.view_latency import percentile
from benchmarks.views import START, events, land, reference_of, timed_refresh
from connectors.simulator.programme import seed_programme
from connectors.simulator.world import build_world
from governance.models import Sponsorship
from governance.parties import Parties
from governance.reference import ReferenceFile, ReferenceSets, load_reference
from infra.postgres.cluster import PostgresCluster
from infra.process import free_port, wait_for
from migrations.schema import upgrade
from pipelines.landing.days import LocalDays
from pipelines.views.lots import lot_shipments
from pipelines.views.production import production_daily
from sangsaeng.db import make_engine
from sangsaeng.settings import load_settings

GOAL_P95_MS = 50.0  # on PostgreSQL
GOAL_SHARE = 0.8  # of the ceiling's requests per second
WARM_UP_S = 3.0
console = Console(width=150)  # the tables stay whole in a log
app = typer.Typer(add_completion=False)


@dataclass(frozen=True)
class Call:
    kind: str  # what the table groups by
    path: str
    params: dict[str, str]
    key: str
    purpose: str


@dataclass
class Run:
    database: str
    server: str  # "API" or "ceiling"
    seconds: float = 0.0
    saturated: float = 0.0  # requests/s with every client sending back to back
    server_cpu_ms: float = 0.0  # per request, meanwhile
    database_cpu_ms: float = 0.0
    client_cpu_ms: float = 0.0  # the load generator's own (its processes)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def all(self) -> list[float]:
        return [ms for values in self.latencies.values() for ms in values]


# -- building ------------------------------------------------------------------------


def build(engines: dict[str, Engine], history: int, suppliers: int) -> None:
    """The history landed (one pass of the simulator for every database), every view
    built, the sponsorships recorded."""
    for engine in engines.values():
        upgrade(engine)
        load_reference(engine, ReferenceFile.model_validate(reference_of(suppliers)))
    sets = ReferenceSets.read(next(iter(engines.values())))
    days = LocalDays(sets.site_timezones, sets.supplier_timezones)
    stream = events(suppliers, history)
    spent = land(engines, stream, history, days, "Landing the history", touch_keys=False)
    # the world `events` simulated, whose sponsorships the views hold shipments of
    world = build_world(7, suppliers, START, 2 + history // max(1, suppliers * 40))
    for name, engine in engines.items():
        seed_programme(engine, world, START)  # first: the roll-ups count every sponsor
        with console.status(f"{name}: building every view (--full)"):
            _, _, built_s = timed_refresh(engine, load_settings(), full=True)
        console.print(f"{name}: landed in {spent[name]:.0f} s, views built in {built_s:.0f} s")


def workload(engine: Engine, n: int, seed: int) -> list[Call]:
    """`n` requests of buyers for their sponsored suppliers, seeded."""
    rng = random.Random(seed)
    parties = Parties(engine)
    t = Sponsorship.__table__.c
    s = lot_shipments.c
    with engine.connect() as conn:
        pairs = conn.execute(
            select(t.buyer_id, t.supplier_id).order_by(t.buyer_id, t.supplier_id)
        ).all()
        first, last = conn.execute(
            select(func.min(production_daily.c.day), func.max(production_daily.c.day))
        ).one()
        lots: dict[tuple[str, str], list[str]] = defaultdict(list)
        for buyer, supplier in pairs:
            found = conn.execute(
                select(s.lot_id)
                .where(s.supplier_id == supplier, s.buyer_id == buyer)
                .order_by(s.lot_id)
                .limit(50)
            ).scalars()
            lots[(buyer, supplier)] = list(found)
    keys = {buyer: parties.issue_org_key(buyer) for buyer in sorted({b for b, _ in pairs})}
    span = (last - first).days
    calls = []
    for _ in range(n):
        buyer, supplier = rng.choice(pairs)
        start = first + timedelta(days=rng.randrange(max(1, span - 14)))
        window = {
            "supplier": supplier,
            "from": start.isoformat(),
            "to": (start + timedelta(days=rng.choice((6, 13)))).isoformat(),
        }
        pick = rng.random()
        if pick < 0.25:
            calls.append(
                Call(
                    "production_daily",
                    "/v1/views/production_daily",
                    window,
                    keys[buyer],
                    "production",
                )
            )
        elif pick < 0.45:
            calls.append(
                Call("oee_daily", "/v1/views/oee_daily", window, keys[buyer], "production")
            )
        elif pick < 0.65:
            calls.append(
                Call("quality_daily", "/v1/views/quality_daily", window, keys[buyer], "quality")
            )
        elif pick < 0.85 or not lots[(buyer, supplier)]:
            weeks = {**window, "to": (start + timedelta(weeks=8)).isoformat()}
            calls.append(
                Call("delivery_weekly", "/v1/views/delivery_weekly", weeks, keys[buyer], "delivery")
            )
        else:
            lot = rng.choice(lots[(buyer, supplier)])
            calls.append(
                Call(
                    "lot trace",
                    f"/v1/lots/{lot}/trace",
                    {"supplier": supplier},
                    keys[buyer],
                    "quality",
                )
            )
    return calls


# -- serving -------------------------------------------------------------------------


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def database_cpu_seconds() -> float:
    """CPU of every PostgreSQL process on the machine so far (its backends do the reads)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        if text.split(" (", 1)[1].startswith("postgres)"):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def serve(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a server; its output goes to `log` (a pipe nobody reads would fill and stall)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{command[2]} stopped: {log.read_text()[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_for(up, timeout=60):
        proc.kill()
        raise RuntimeError(f"{command} did not answer within 60 s")
    return proc


def servers(url: str, folder: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    env = {
        **os.environ,
        "SANGSAENG_DATABASE_URL": url,
        "SANGSAENG_STATE_DIR": str(folder / "state"),
    }
    # The API first: the ceiling after it finds the caches as warm (no head start).
    return {
        "API": ([sys.executable, "-m", "cli", "api", "serve", "--host", "127.0.0.1"], env),
        "ceiling": ([sys.executable, "-m", "benchmarks.api_ceiling", "--url", url], env),
    }


async def _send(client: httpx.AsyncClient, call: Call) -> int:
    """The response's status; 0 when the connection failed (counted as an error)."""
    try:
        response = await client.get(
            call.path,
            params=call.params,
            headers={"X-API-Key": call.key, "X-Purpose": call.purpose},
        )
    except httpx.TransportError:
        return 0
    return response.status_code


def _client(port: int, clients: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60)


async def _back_to_back(
    port: int, calls: list[Call], clients: int, start_at: float, seconds: float
) -> tuple[int, float]:
    """`clients` sending back to back, warming up until `start_at` (wall clock), then
    counting for `seconds`: (requests answered 200, this process's CPU seconds)."""
    async with _client(port, clients) as client:
        position, done = 0, 0

        async def worker(stop_at: float, counting: bool) -> None:
            nonlocal position, done
            while time.time() < stop_at:
                call = calls[position % len(calls)]
                position += 1
                if await _send(client, call) == 200 and counting:
                    done += 1

        await asyncio.gather(*(worker(start_at, False) for _ in range(clients)))
        cpu = time.process_time()
        await asyncio.gather(*(worker(start_at + seconds, True) for _ in range(clients)))
        return done, time.process_time() - cpu


def _load_process(  # noqa: PLR0917 - a process's arguments
    port: int, calls: list[Call], clients: int, seconds: float, ready: Any, go: Any, out: Any
) -> None:
    """A load process: says it is ready (imported), takes the start time, reports."""
    ready.put(True)
    out.put(asyncio.run(_back_to_back(port, calls, clients, go.get(timeout=300), seconds)))


def _from_workers(queue: Any, workers: list[Any], timeout_s: float = 300.0) -> Any:
    """The next item from `queue`; an error naming the load process that died first."""
    import queue as queues

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return queue.get(timeout=1.0)
        except queues.Empty:
            dead = [w for w in workers if w.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(
                    f"a load process exited with code {dead[0].exitcode}: see its traceback above"
                ) from None
    raise RuntimeError(f"the load processes said nothing for {timeout_s:.0f} s")


def saturate(  # noqa: PLR0917 - the run's figures
    port: int,
    calls: list[Call],
    clients: int,
    seconds: float,
    run: Run,
    server_pid: int,
    processes: int,
) -> None:
    """Requests per second with `clients` sending back to back (after a warm-up), spread
    over `processes` load processes (one Python process tops out near a core, and would
    then measure itself, not the server), and the CPU the server, the database and the
    load spent per request meanwhile."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    ready, go, out = spawn.Queue(), spawn.Queue(), spawn.Queue()
    shares = [clients // processes + (n < clients % processes) for n in range(processes)]
    workers = [
        spawn.Process(
            target=_load_process,
            args=(port, calls[n::processes], share, seconds, ready, go, out),
            daemon=True,
        )
        for n, share in enumerate(shares)
        if share
    ]
    for w in workers:
        w.start()
    for _ in workers:
        _from_workers(ready, workers)  # every one imported before the clock starts
    start_at = time.time() + WARM_UP_S
    for _ in workers:
        go.put(start_at)
    time.sleep(max(0.0, start_at - time.time()))
    cpu = cpu_seconds(server_pid), database_cpu_seconds()
    time.sleep(max(0.0, start_at + seconds - time.time()))
    server_cpu, database_cpu = cpu_seconds(server_pid), database_cpu_seconds()
    results = [_from_workers(out, workers) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    done = sum(d for d, _ in results)
    run.saturated = done / seconds
    if done:
        run.server_cpu_ms = (server_cpu - cpu[0]) / done * 1000
        run.database_cpu_ms = (database_cpu - cpu[1]) / done * 1000
        run.client_cpu_ms = sum(c for _, c in results) / done * 1000


async def paced(port: int, calls: list[Call], clients: int, rate: float, run: Run) -> None:
    """`rate` requests per second on a fixed schedule over `clients` connections, each
    latency counted from the request's scheduled time (a server falling behind is not
    hidden by clients that wait for it: no coordinated omission)."""
    async with _client(port, clients) as client:
        gate = asyncio.Semaphore(clients)  # at most `clients` requests in flight

        async def one(call: Call, due: float) -> None:
            async with gate:
                status = await _send(client, call)
            elapsed_ms = (time.perf_counter() - due) * 1000
            if status == 200:
                run.latencies[call.kind].append(elapsed_ms)
            else:
                run.errors[status] += 1

        total = int(rate * run.seconds)
        started = time.perf_counter()
        tasks = []
        for n in range(total):
            due = started + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(calls[n % len(calls)], due)))
        await asyncio.gather(*tasks)


def measure(  # noqa: PLR0917 - the run's figures
    name: str,
    url: str,
    folder: Path,
    clients: int,
    seconds: float,
    rate: float,
    load_processes: int,
) -> list[Run]:
    engine = make_engine(url)
    calls = workload(engine, 20_000, seed=11)
    engine.dispose()
    runs = []
    for server, (command, env) in servers(url, folder).items():
        port = free_port()
        log = folder / f"{name}-{server}.log"
        proc = serve([*command, "--port", str(port)], env, port, log)
        run = Run(name, server, seconds=seconds)
        try:
            with console.status(f"{name}: {clients} clients flat out on the {server}"):
                saturate(port, calls, clients, seconds, run, proc.pid, load_processes)
            with console.status(f"{name}: {rate:.0f} requests/s on the {server}"):
                asyncio.run(paced(port, calls[::-1], clients, rate, run))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        console.print(
            f"{name} {server}: flat out {run.saturated:.0f} requests/s (CPU per request: "
            f"server {run.server_cpu_ms:.2f} ms, PostgreSQL {run.database_cpu_ms:.2f} ms, "
            f"load generator {run.client_cpu_ms:.2f} ms); "
            f"at {rate:.0f}/s "
            f"p95 {percentile(run.all, 0.95):.1f} ms, errors {dict(run.errors) or 0}"
        )
        if run.errors:
            console.print(f"  the server's log: {log} (kept with --keep)")
        runs.append(run)
    return runs


# -- the command ---------------------------------------------------------------------


def prepared(
    wanted: list[str], folder: Path, history: int, suppliers: int
) -> tuple[dict[str, str], PostgresCluster | None]:
    """The database URLs, built now or kept from an earlier run with the same figures."""
    marker = folder / "built.json"
    figures = {"history": history, "suppliers": suppliers}
    kept = json.loads(marker.read_text()) if marker.exists() else {}
    urls, cluster = {}, None
    if "sqlite" in wanted:
        urls["SQLite"] = f"sqlite:///{folder / 'views.db'}"
    if "postgresql" in wanted:
        cluster = PostgresCluster(service_dir=folder / "postgres", port=free_port())
        with console.status("Starting PostgreSQL…"):
            cluster.start()
        urls["PostgreSQL"] = cluster.url
    todo = {}
    for name, url in urls.items():
        if kept.get(name) == figures:
            console.print(f"{name}: reusing the databases built in {folder}")
            engine = make_engine(url)
            upgrade(engine)  # built by an older release, maybe
            engine.dispose()
            continue
        if name == "SQLite":
            Path(folder / "views.db").unlink(missing_ok=True)
        kept.pop(name, None)
        todo[name] = make_engine(url)
    if todo:
        build(todo, history, suppliers)
        for name, engine in todo.items():
            engine.dispose()
            kept[name] = figures
        marker.write_text(json.dumps(kept))
    return urls, cluster


@app.command()
def main(  # noqa: PLR0917 - typer options
    history: Annotated[int, typer.Option(help="Events the views are built from.")] = 10_000_000,
    suppliers: Annotated[int, typer.Option(help="Suppliers in the programme.")] = 300,
    clients: Annotated[int, typer.Option(help="Concurrent clients.")] = 50,
    seconds: Annotated[float, typer.Option(help="Seconds of each load, per server.")] = 30.0,
    rate: Annotated[
        float, typer.Option(help="Requests/s offered in the latency run (all clients).")
    ] = 100.0,
    databases: Annotated[str, typer.Option(help="sqlite, postgresql, or both.")] = (
        "sqlite,postgresql"
    ),
    keep: Annotated[
        Path | None,
        typer.Option(help="Keep the built databases here and reuse them next time."),
    ] = None,
    load_processes: Annotated[
        int,
        typer.Option(min=1, help="Processes the flat-out load is spread over (clients split)."),
    ] = 2,
    measure_load: Annotated[
        bool, typer.Option("--measure/--build-only", help="--build-only: build and keep.")
    ] = True,
) -> None:
    """Latency and throughput of the buyer API against its ceiling without the sharing
    rules and the audit (goals: p95 <= 50 ms on PostgreSQL, >= 0.8 of the ceiling's
    requests per second)."""
    folder = keep or Path(tempfile.mkdtemp(prefix="sangsaeng-bench-api-"))
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # the postgres user must enter it when we are root
    wanted = [d.strip() for d in databases.split(",") if d.strip()]
    cluster = None
    runs: list[Run] = []
    try:
        urls, cluster = prepared(wanted, folder, history, suppliers)
        for name, url in urls.items() if measure_load else ():
            runs += measure(name, url, folder, clients, seconds, rate, load_processes)
    finally:
        if cluster is not None:
            cluster.stop()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    if runs:
        report(runs, history, clients, rate)


def report(runs: list[Run], history: int, clients: int, rate: float) -> None:
    table = Table(
        title=f"Buyer API, {clients} clients, views from {history:,} events (goals: p95 <= "
        f"{GOAL_P95_MS:.0f} ms on PostgreSQL, >= {GOAL_SHARE:.0%} of the ceiling's requests/s)",
        title_justify="left",
    )
    for column in (
        "database",
        "server",
        "req/s flat out",
        "/ ceiling",
        "CPU/req server",
        "CPU/req PostgreSQL",
        f"at {rate:.0f} req/s: p50",
        "p95",
        "p99",
        "errors",
        "p95 goal",
    ):
        table.add_column(column, justify="left" if column in ("database", "server") else "right")
    ceilings = {r.database: r for r in runs if r.server == "ceiling"}
    for r in runs:
        values = r.all
        p95 = percentile(values, 0.95) if values else float("nan")
        share, goal = "", ""
        ceiling = ceilings.get(r.database)
        if r.server == "API" and ceiling is not None and ceiling.saturated:
            ratio = r.saturated / ceiling.saturated
            share = f"[{'green' if ratio >= GOAL_SHARE else 'red'}]{ratio:.2f}[/] (>= {GOAL_SHARE})"
        if r.server == "API" and r.database == "PostgreSQL":
            goal = f"[{'green' if p95 <= GOAL_P95_MS else 'red'}]<= {GOAL_P95_MS:.0f} ms[/]"
        table.add_row(
            r.database,
            r.server,
            f"{r.saturated:.0f}",
            share,
            f"{r.server_cpu_ms:.2f} ms",
            f"{r.database_cpu_ms:.2f} ms",
            f"{percentile(values, 0.50):.1f} ms" if values else "-",
            f"{p95:.1f} ms",
            f"{percentile(values, 0.99):.1f} ms" if values else "-",
            f"{sum(r.errors.values()):,}",
            goal,
        )
    console.print(table)
    kinds = Table(
        title="Where the time goes: p50 / p95 per request kind (ms)", title_justify="left"
    )
    kinds.add_column("kind")
    for r in runs:
        kinds.add_column(f"{r.database} {r.server}", justify="right")
    for kind in sorted({k for r in runs for k in r.latencies}):
        cells = []
        for r in runs:
            values = r.latencies.get(kind, [])
            cells.append(
                f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f}" if values else "-"
            )
        kinds.add_row(kind, *cells)
    console.print(kinds)


if __name__ == "__main__":
    app()
