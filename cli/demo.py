"""`sangsaeng demo` (`make demo`): the platform's story told in the terminal, one stage per issue.

Today: the platform database is brought to this release, the local stack comes up
(Kafka, schema registry, ingest gateway, buyer API), the event contracts are registered and
listed, and eight weeks of 24 simulated suppliers' MES systems stream in, half through
the supplier SDK and half through the HTTP gateway, with a few percent of flawed events
(the edge refuses some, validation the rest). The reference data is loaded, the
sponsorships are recorded with their default sharing agreements, the Dagster
`ingest` job lands the events exactly once and the `views` job refreshes the views the
events touched (their runs show in `sangsaeng ui`); the terminal ends with landed and
quarantined counts per supplier, output and OEE per supplier, the smart-factory levels
against the national distribution and the productivity uplift by sector. It prints the
buyer API's address with new keys for a buyer, one of its suppliers and the operator.
Run it again
without cleaning up: the contracts keep their ids, the suppliers their topics, and a
day's events are the same in every run (duplicates, counted once); a later day adds the
new days and ingest picks up where it stopped.

The demo calls the stages' services, never other commands.
"""

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from cli.ingest import print_ingest_report
from cli.output import Format, console, emit
from cli.platform import settings
from sangsaeng.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DEMO_SUPPLIERS = 24
DEMO_DAYS = 56  # eight weeks: every supplier's go-live, ramp-up and weeks after it
DEMO_SEED = 2024
DEMO_BAD_RATE = 0.03


def demo() -> None:
    """Start the stack, register the contracts, stream eight simulated weeks of 24
    suppliers in, record the sponsorships, land the events (validate, quarantine), refresh
    the views and show them, then print buyer API keys for a buyer, a supplier and the
    operator."""
    from cli.platform import databases
    from migrations.schema import upgrade
    from sangsaeng.db import make_engine

    current = settings()
    for role, url in databases().items():
        made = make_engine(url)
        console.print(f"[green]✓[/] {role} database at revision {upgrade(made).after}")
        made.dispose()
    engine = make_engine(current.database_url)
    _stack_up(current)
    _register_contracts(current)
    world, report = _stream_week(current)
    _land(current, engine, world)
    _per_supplier(engine, world, report)
    _views_summary(engine)
    _readers(current, engine, world)
    _alerts(current)
    engine.dispose()
    console.print(
        "Rejected events and why: `sangsaeng quarantine list --supplier S0001`. The Dagster "
        "UI with these runs: `sangsaeng ui` (or `make ui`). The stack keeps running: "
        "`sangsaeng stack status` shows it, `sangsaeng stack down` stops it."
    )


def _stack_up(current: Settings) -> None:
    from infra.stack import Stack

    stack = Stack.from_settings(current)
    with console.status("Starting the stack…") as status:
        stack.up(report=status.update)  # the databases were upgraded just before
    console.print(f"[green]✓[/] Apache Kafka answers at {stack.kafka.bootstrap}")
    console.print(f"[green]✓[/] schema registry answers at {stack.registry.url}")
    console.print(f"[green]✓[/] ingest gateway answers at {stack.gateway.url}")
    console.print(f"[green]✓[/] buyer API answers at {stack.api.url}")


def _register_contracts(current: Settings) -> None:
    from schemas.contracts import register_contracts
    from schemas.registry.auth import client_credentials
    from schemas.registry.client import RegistryClient

    registry = RegistryClient(current.schema_registry_url, client_credentials(current))
    rows = [
        {
            "event type": c.event_type.value,
            "subject": c.subject,
            "version": str(c.version),
            "id": str(c.schema_id),
        }
        for c in register_contracts(registry)
    ]
    columns = ["event type", "subject", "version", "id"]
    emit(rows, columns, Format.TABLE, title="Registered contracts", ids=["subject"])


def _stream_week(current: Settings) -> tuple[Any, Any]:
    from connectors.kafka.admin import records_held
    from connectors.simulator.events import generate
    from connectors.simulator.run import send, write_reference
    from connectors.simulator.world import build_world, recent_start
    from infra.process import wait_for
    from schemas.topics import EventType, supplier_topic

    start = recent_start(datetime.now(UTC).date(), DEMO_DAYS)
    world = build_world(DEMO_SEED, DEMO_SUPPLIERS, start, DEMO_DAYS)
    write_reference(world, current.state_dir / "reference.yaml")
    topics = [supplier_topic(s.supplier_id, e) for s in world.suppliers for e in EventType]
    before = records_held(current.kafka_bootstrap, topics)  # earlier runs' records
    with console.status(f"Streaming {DEMO_DAYS} days of {DEMO_SUPPLIERS} suppliers…"):
        # The same programme and seed every run: a day's events are the same whatever
        # window it lies in, so a re-run sends duplicates (counted once) and new days.
        events = generate(world, seed=DEMO_SEED, bad_rate=DEMO_BAD_RATE)
        report = send(world, events, current, via="mixed")
    console.print(
        f"[green]✓[/] {report.generated} events generated, "
        f"{sum(report.accepted.values())} accepted, {sum(report.refused.values())} refused at "
        "the edge (" + ", ".join(f"{r} x{n}" for r, n in report.refused.most_common(3)) + ")"
    )
    held: dict[str, int] = {}

    def caught_up() -> bool:
        held.update(records_held(current.kafka_bootstrap, topics))
        return all(held[t] >= before.get(t, 0) + n for t, n in report.accepted.items())

    wait_for(caught_up, timeout=60, interval=0.5)  # the gateway forwards in the background
    console.print(
        f"[green]✓[/] Kafka holds {sum(held.values()) - sum(before.values())} new events in "
        "the demo's supplier topics"
    )
    return world, report


def _land(current: Settings, engine: "Engine", world: Any) -> None:
    from cli.views import print_views_report
    from governance.reference import load_reference, read_reference_file
    from orchestration.run import run_ingest, run_views

    counts = load_reference(engine, read_reference_file(current.state_dir / "reference.yaml"))
    console.print(f"[green]✓[/] reference data loaded ({counts['parts']} parts)")
    _sponsorships(engine, world)  # before the views: their roll-ups count every sponsor
    with console.status("Ingesting (the Dagster `ingest` job)…"):
        report = run_ingest(current, until_caught_up=True)
    print_ingest_report(report)
    with console.status("Refreshing the views (the Dagster `views` job)…"):
        views = run_views(current, only_if_touched=True)
    print_views_report(views)


def _alerts(current: Settings) -> None:
    from orchestration.run import run_alerts

    with console.status("Evaluating the quality alert rules (the Dagster `alerts` job)…"):
        figures = run_alerts(current)
    console.print(
        f"[green]✓[/] {figures.get('new_alerts', 0)} quality alerts raised for buyers "
        "(`sangsaeng alerts list`; buyers read them at /v1/alerts)"
    )


def _sponsorships(engine: "Engine", world: Any) -> None:
    """The programme's sponsorships, each with its default agreement."""
    from connectors.simulator.programme import seed_programme
    from serving.app import programme_today

    added = seed_programme(engine, world, programme_today())
    console.print(f"[green]✓[/] {added} sponsorships recorded, each with its default agreement")


def _readers(current: Settings, engine: "Engine", world: Any) -> None:
    """Keys to read the views with."""
    from connectors.simulator.programme import demo_keys

    keys = demo_keys(engine, world)
    console.print(f"The buyer API: {current.api_url}/docs. Demo keys (shown only now):")
    for who, (org, key) in (
        ("buyer", keys.buyer),
        ("supplier", keys.supplier),
        ("operator", keys.operator),
    ):
        console.print(f"  {who:9s}{org:10s} [bold]{key}[/]")
    console.print(
        f"  e.g. curl -H 'X-API-Key: {keys.buyer[1]}' -H 'X-Purpose: quality' "
        f"{current.api_url}/v1/views/quality_daily"
    )


def _per_supplier(engine: "Engine", world: Any, report: Any) -> None:
    from pipelines.landing.queries import landed_by_supplier, quarantined_by_supplier

    landed = landed_by_supplier(engine)
    quarantined = quarantined_by_supplier(engine)
    rows = []
    for s in world.suppliers:
        reasons = quarantined.get(s.supplier_id, Counter())
        top = [f"{rule} x{n}" for rule, n in reasons.most_common() if rule != "records"][:2]
        rows.append(
            {
                "supplier": s.supplier_id,
                "sector": s.sector,
                "via": report.via[s.supplier_id],
                "landed": landed[s.supplier_id],
                "quarantined": reasons["records"],
                "why (top 2)": ", ".join(top),
            }
        )
    emit(
        rows,
        ["supplier", "sector", "via", "landed", "quarantined", "why (top 2)"],
        Format.TABLE,
        title="Per supplier (all runs)",
        ids=["supplier"],
        right=["landed", "quarantined"],
    )


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f} %"


def _views_summary(engine: "Engine") -> None:
    from pipelines.views.summary import (
        largest_uplifts,
        maturity_distribution,
        supplier_output,
        uplift_by_sector,
    )

    rows = [
        {
            "supplier": r["supplier"],
            "sector": r["sector"],
            "level": r["level"] or "",
            "good units": r["good"],
            "good / run hour": ""
            if r["good_per_run_hour"] is None
            else f"{r['good_per_run_hour']:,.0f}",
            "OEE": "" if r["oee"] is None else f"{r['oee']:.1%}",
        }
        for r in supplier_output(engine)
    ]
    columns = ["supplier", "sector", "level", "good units", "good / run hour", "OEE"]
    emit(
        rows,
        columns,
        Format.TABLE,
        title="Output and OEE per supplier (production_daily, "
        "oee_daily; OEE only where machine states are sent)",
        ids=["supplier"],
        right=["good units", "good / run hour", "OEE"],
    )
    levels = [
        {
            "level": r["level"],
            "suppliers": r["suppliers"],
            "programme": f"{r['share_pct']:.1f} %",
            "national (2024)": "" if r["national_pct"] is None else f"{r['national_pct']:.1f} %",
        }
        for r in maturity_distribution(engine)
    ]
    emit(
        levels,
        ["level", "suppliers", "programme", "national (2024)"],
        Format.TABLE,
        title="Smart-factory level from the data sent (supplier_maturity, latest week)",
        right=["suppliers", "programme", "national (2024)"],
    )
    sectors = [
        {
            "sector": r["group_id"],
            "suppliers": r["suppliers"],
            "uplift": _pct(r["uplift_pct"]),
            "95 % interval": ""
            if r["ci_low_pct"] is None
            else f"{r['ci_low_pct']:+.1f} … {r['ci_high_pct']:+.1f} %",
            "note": r["null_reason"] or "",
        }
        for r in uplift_by_sector(engine)
    ]
    emit(
        sectors,
        ["sector", "suppliers", "uplift", "95 % interval", "note"],
        Format.TABLE,
        title="Good units per run hour after go-live vs before (programme_impact_rollup)",
        right=["suppliers", "uplift"],
    )
    top = [
        {
            "supplier": r["supplier_id"],
            "days before / after": f"{r['days_before']} / {r['days_after']}",
            "uplift": _pct(r["uplift_pct"]),
            "95 % interval": ""
            if r["ci_low_pct"] is None
            else f"{r['ci_low_pct']:+.1f} … {r['ci_high_pct']:+.1f} %",
        }
        for r in largest_uplifts(engine)
    ]
    emit(
        top,
        ["supplier", "days before / after", "uplift", "95 % interval"],
        Format.TABLE,
        title="Largest productivity uplifts",
        ids=["supplier"],
        right=["uplift"],
    )


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)
