"""`sangsaeng simulate`: a programme of suppliers' MES systems, streamed in through the edge."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli.output import Format, console, emit
from cli.platform import engine, settings
from sangsaeng.errors import ConfigError


class Via(StrEnum):
    """The edge the simulated MES systems send through."""

    SDK = "sdk"
    GATEWAY = "gateway"
    MIXED = "mixed"


def simulate(  # noqa: PLR0917 - one parameter per CLI option
    suppliers: Annotated[int, typer.Option(help="How many suppliers.", min=1, max=999)] = 6,
    days: Annotated[int, typer.Option(help="Days of history.", min=1, max=366)] = 7,
    seed: Annotated[int, typer.Option(help="Same seed, same programme and events.")] = 1,
    rate: Annotated[
        float, typer.Option(help="Events per second; 0 = as fast as it goes.", min=0)
    ] = 0.0,
    bad_rate: Annotated[
        float, typer.Option(help="Share of late, duplicate and invalid events.", min=0, max=1)
    ] = 0.03,
    via: Annotated[Via, typer.Option(help="sdk, gateway, or mixed (alternating suppliers).")] = (
        Via.SDK
    ),
    start: Annotated[
        str | None,
        typer.Option(
            help="First day (YYYY-MM-DD); default: the Monday on or before DAYS days ago, "
            "so the window starts with working days and lies in the past."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write every event to this JSON Lines file.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write files only; send nothing.")
    ] = False,
) -> None:
    """Simulate a programme of suppliers' MES systems and stream their events in.

    Deterministic by seed and start: sponsors and suppliers with sites, lines,
    machines and parts; shifts, output, scrap, inspections with measurements, machine
    states, shipments and energy, each supplier sending what its data tier does (80 %
    basic, 18.7 % intermediate 1, 1.5 % intermediate 2); productivity rising after
    each supplier's go-live.
    A day's events (ids included) depend on the seed, not on the window: simulating an
    overlapping window again repeats the common days (duplicates, counted once) and adds
    the new ones. Writes the reference data to
    <state dir>/reference.yaml.
    """
    from datetime import UTC, date, datetime

    from rich.progress import Progress

    from connectors.simulator.events import generate
    from connectors.simulator.run import send, write_events, write_reference
    from connectors.simulator.world import build_world, recent_start

    try:
        first = date.fromisoformat(start) if start else recent_start(datetime.now(UTC).date(), days)
    except ValueError:
        raise ConfigError(f"--start must be YYYY-MM-DD, not {start!r}") from None
    current = settings()
    world = build_world(seed, suppliers, first, days)
    write_reference(world, current.state_dir / "reference.yaml")
    console.print(f"reference data: {current.state_dir / 'reference.yaml'}")
    if out is not None:
        count = write_events(generate(world, seed=seed, bad_rate=bad_rate), out)
        console.print(f"{count} events written to {out}")
    if dry_run:
        return
    engine().dispose()  # the suppliers are onboarded into a database at this release
    with Progress(console=console) as progress:
        task = progress.add_task(f"Streaming {days} days of {suppliers} suppliers", total=None)
        report = send(
            world,
            generate(world, seed=seed, bad_rate=bad_rate),
            current,
            via=via.value,
            rate=rate,
            progress=lambda n: progress.advance(task, n),
        )
    rows = [
        {"topic": topic, "via": report.via[topic.split(".")[1]], "events": n}
        for topic, n in sorted(report.accepted.items())
    ]
    emit(
        rows,
        ["topic", "via", "events"],
        Format.TABLE,
        title="Accepted by topic",
        ids=["topic"],
        right=["events"],
    )
    refused = ", ".join(f"{reason} x{n}" for reason, n in report.refused.most_common(6))
    console.print(
        f"generated {report.generated}, accepted {sum(report.accepted.values())}, "
        f"refused at the edge {sum(report.refused.values())}"
        + (f" ({refused})" if refused else "")
        + f", still spooled {report.still_spooled}"
    )


def register(root: typer.Typer) -> None:
    root.command("simulate")(simulate)
