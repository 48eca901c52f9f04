"""Serde throughput: our Confluent-framed encode/decode vs bare fastavro on the same records.

    .venv/bin/python -m benchmarks.serde [--records 50000] [--rounds 5]

Starts a registry in-process (SQLite in a temp dir) so the schema id is real, warms the
caches, then times both paths `--rounds` times each, alternating, on the same records
with the GC off, and reports the best round of each (least disturbed by the machine).
The ceiling is fastavro's schemaless_writer / schemaless_reader with the already parsed
schema and no framing, validation or resolution; the goal is at least 0.9 of it.
"""

import gc
import io
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import typer
import uvicorn
from fastavro import schemaless_reader, schemaless_writer
from rich.console import Console
from rich.table import Table

from infra.process import free_port, wait_for
from migrations.schema import upgrade
from sangsaeng.db import make_engine
from schemas.contracts import parsed_contract
from schemas.registry.app import create_app
from schemas.registry.auth import Credentials, Role
from schemas.registry.client import RegistryClient
from schemas.registry.store import RegistryStore
from schemas.serde import AvroDeserializer, AvroSerializer
from schemas.topics import EventType

GOAL = 0.9


def records(n: int) -> list[dict]:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    return [
        {
            "event_id": str(uuid.UUID(int=i + 1)),
            "event_time": start + timedelta(seconds=i),
            "supplier_id": f"S{i % 24:04d}",
            "site_id": "P1",
            "source_system": "bench-mes 2.1",
            "buyer_id": "B01" if i % 2 else None,
            "line_id": f"L{i % 4}",
            "work_order_id": f"WO-{i // 100}",
            "part_number": f"P-{i % 50}",
            "lot_id": f"LOT-{i // 500}",
            "quantity_good": 100.0 + i % 17,
            "quantity_scrap": float(i % 3),
            "planned_quantity": 120.0 if i % 5 else None,
            "start_time": start,
            "end_time": start + timedelta(minutes=15),
            "unit": "H87",
        }
        for i in range(n)
    ]


def best_of_interleaved(
    a: Callable[[], object], b: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Best time of `a` and of `b`, alternating rounds and with the GC off (as timeit
    does), so neither path pays for the other's garbage or for the machine's mood."""
    times: tuple[list[float], list[float]] = ([], [])
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for fn, acc in ((a, times[0]), (b, times[1])):
                t0 = time.perf_counter()
                fn()
                acc.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return min(times[0]), min(times[1])


def main(
    n: int = typer.Option(50_000, "--records", help="Records per round."),
    rounds: int = typer.Option(5, help="Timed rounds per path; the best one counts."),
) -> None:
    """Print records/s of our serde and of bare fastavro, and their ratio."""
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        credentials = Credentials(engine)
        auth = ("bench", credentials.add_user("bench", role=Role.ADMIN))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(RegistryStore(engine), credentials),
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for(lambda: server.started, timeout=20, interval=0.05)
        try:
            client = RegistryClient(f"http://127.0.0.1:{port}", auth)
            serializer = AvroSerializer.for_event_type(client, EventType.PRODUCTION)
            deserializer = AvroDeserializer.for_contracts(client)
            parsed = parsed_contract(EventType.PRODUCTION)
            data = records(n)

            def bare_encode() -> list[bytes]:
                out = []
                for r in data:
                    buf = io.BytesIO()
                    schemaless_writer(buf, parsed, r)
                    out.append(buf.getvalue())
                return out

            def our_encode() -> list[bytes]:
                return [serializer.encode(r) for r in data]

            bare_bytes, framed = bare_encode(), our_encode()  # warm-up, and the inputs below

            def bare_decode() -> None:
                for b in bare_bytes:
                    schemaless_reader(io.BytesIO(b), parsed, None)

            def our_decode() -> None:
                for b in framed:
                    deserializer.decode(b)

            rows = []
            for what, ours, ceiling in (
                ("encode", our_encode, bare_encode),
                ("decode", our_decode, bare_decode),
            ):
                t_ours, t_ceiling = best_of_interleaved(ours, ceiling, rounds)
                rows.append((what, n / t_ours, n / t_ceiling))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            engine.dispose()

    table = Table(
        title=f"Serde, ProductionEvent, {n:,} records, best of {rounds}", title_justify="left"
    )
    for col in ("path", "ours (records/s)", "bare fastavro (records/s)", "ratio", f"goal ≥ {GOAL}"):
        table.add_column(col, justify="right")
    for what, ours_rate, ceiling_rate in rows:
        ratio = ours_rate / ceiling_rate
        table.add_row(
            what,
            f"{ours_rate:,.0f}",
            f"{ceiling_rate:,.0f}",
            f"{ratio:.2f}",
            "[green]met[/]" if ratio >= GOAL else "[red]missed[/]",
        )
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
