"""The `sangsaeng` command line: wires settings to the stages; holds no logic of its own.

Every `PlatformError` ends as one red line on stderr and exit code 1 (2 for bad
settings), never a traceback.
"""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sangsaeng import __version__, cli_ingest
from sangsaeng.errors import ConfigError, PlatformError
from sangsaeng.settings import get_settings

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="sangsaeng",
    help="Sangsaeng (상생): supply-chain data sharing for the win-win smart-factory programme.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
stack_app = typer.Typer(
    help="Run the local stack: Apache Kafka (KRaft), the schema registry, the ingest gateway "
    "and, on request, PostgreSQL.",
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")
registry_app = typer.Typer(help="The Confluent-compatible schema registry.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
schemas_app = typer.Typer(
    help="The event contracts (schemas/avro/*.avsc) in the schema registry.", no_args_is_help=True
)
app.add_typer(schemas_app, name="schemas")
suppliers_app = typer.Typer(
    help="Onboard suppliers: record, topics, gateway key.", no_args_is_help=True
)
app.add_typer(suppliers_app, name="suppliers")
files_app = typer.Typer(
    help="The file connector for MES exports (CSV, JSON Lines).", no_args_is_help=True
)
app.add_typer(files_app, name="files")
gateway_app = typer.Typer(help="The HTTP ingest gateway for suppliers' MES.", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")
cli_ingest.register(app)


def _version(value: bool) -> None:
    if value:
        console.print(f"sangsaeng {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Sangsaeng (상생): supply-chain data sharing for the win-win smart-factory programme.

    Settings come from SANGSAENG_* environment variables (see README).
    """


def _stack():  # noqa: ANN202 - keeps the import of infra out of `--help`
    from infra.stack import Stack

    return Stack.from_settings(get_settings())


STATE_STYLE = {
    "running": "green",
    "stopped": "dim",
    "crashed": "bold red",
    "unresponsive": "yellow",
}


def _print_status(statuses: list) -> None:
    table = Table(title="Sangsaeng local stack", title_justify="left")
    for column in ("service", "state", "address", "pid", "since (UTC)", "log / detail"):
        table.add_column(column)
    for s in statuses:
        style = STATE_STYLE[s.state]
        table.add_row(
            s.name,
            f"[{style}]{s.state}[/]",
            s.address,
            str(s.pid or ""),
            s.since,
            s.detail or s.log,
        )
    console.print(table)


@stack_app.command("up")
def stack_up(
    postgres: Annotated[
        bool, typer.Option("--postgres", help="Also start the project-local PostgreSQL.")
    ] = False,
) -> None:
    """Start Kafka, the registry and the gateway (+ PostgreSQL with --postgres); skips what runs."""
    stack = _stack()
    with console.status("Starting the stack…") as status:
        statuses = stack.up(postgres=postgres, report=status.update)
    _print_status(statuses)
    if postgres:
        console.print(f"PostgreSQL URL: [bold]{stack.postgres.url}[/]")


@stack_app.command("down")
def stack_down(
    wipe: Annotated[
        bool, typer.Option("--wipe", help="Also delete the stack's data (topics, databases).")
    ] = False,
) -> None:
    """Stop what `stack up` started, and only that."""
    for line in _stack().down(wipe=wipe):
        console.print(line)


@stack_app.command("status")
def stack_status() -> None:
    """Show each service: running, stopped or crashed, where, since when, its pid.

    Exits 1 when a service that `up` started has crashed or stopped answering.
    """
    statuses = _stack().status()
    _print_status(statuses)
    if any(s.state in ("crashed", "unresponsive") for s in statuses):
        raise typer.Exit(1)


@stack_app.command("fetch")
def stack_fetch() -> None:
    """Resolve the Apache Kafka jars with Maven into the cache (done once per release)."""
    from infra.kafka.broker import kafka_version, resolve_jars

    with console.status("Resolving Apache Kafka jars…") as status:
        libs = resolve_jars(get_settings().cache_dir, report=status.update)
    console.print(f"Apache Kafka {kafka_version()}: {libs}")


@registry_app.command("serve")
def registry_serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: from the URL).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: from the URL).")] = None,
) -> None:
    """Run the registry in the foreground at SANGSAENG_SCHEMA_REGISTRY_URL (OpenAPI at /docs)."""
    from schemas.registry.server import host_port, serve

    settings = get_settings()
    default_host, default_port = host_port(settings.schema_registry_url)
    serve(settings, host or default_host, port or default_port)


@registry_app.command("add-user")
def registry_add_user(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Create (or reset) a user who may write to the registry; prints its password once."""
    from sangsaeng.db import make_engine
    from schemas.registry.auth import Credentials

    password = Credentials(make_engine(get_settings().database_url)).add_user(name)
    console.print(f"user [bold]{name}[/], password [bold]{password}[/] (shown only now)")
    console.print(f"clients use it as SANGSAENG_REGISTRY_AUTH={name}:<password>")


def _registry_client():  # noqa: ANN202 - keeps imports out of `--help`
    from schemas.registry.auth import client_credentials
    from schemas.registry.client import RegistryClient

    settings = get_settings()
    return RegistryClient(settings.schema_registry_url, client_credentials(settings))


@schemas_app.command("register")
def schemas_register() -> None:
    """Register every contract; prints subject, version and id.

    Fails with the compatibility reasons when a changed contract breaks the subject's
    rule (BACKWARD_TRANSITIVE unless configured otherwise).
    """
    from schemas.contracts import all_contracts, contract_text
    from schemas.topics import subject_for

    client = _registry_client()
    table = Table(title="Registered contracts", title_justify="left")
    for column in ("event type", "subject", "version", "id"):
        table.add_column(column)
    for event_type in all_contracts():
        schema_id, version = client.register(subject_for(event_type), contract_text(event_type))
        table.add_row(event_type.value, subject_for(event_type), str(version), str(schema_id))
    console.print(table)


@schemas_app.command("check")
def schemas_check(
    file: Annotated[
        Path, typer.Argument(help="An .avsc file (a record schema).", exists=True, dir_okay=False)
    ],
) -> None:
    """Would the registry accept this schema under its subject? Exit 1 with the reasons if not."""
    from schemas.registry.client import RegistryClientError
    from schemas.serde import full_name

    text = file.read_text()
    try:
        subject = full_name(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise PlatformError(f"{file} is not an Avro record schema (JSON with a name)") from None
    client = _registry_client()
    try:
        problems = client.compatibility(subject, text)
    except RegistryClientError as exc:
        if exc.error_code != 40401:
            raise
        console.print(f"[green]accepted[/]: {subject} is a new subject (version 1)")
        return
    if problems:
        console.print(f"[bold red]refused[/] under {subject}:")
        for problem in problems:
            console.print(f"  - {escape(problem)}")
        raise typer.Exit(1)
    console.print(f"[green]accepted[/]: compatible with {subject}")


@schemas_app.command("list")
def schemas_list() -> None:
    """List the registry's subjects with their latest version, id and compatibility level."""
    client = _registry_client()
    table = Table(title=f"Schema registry at {client.url}", title_justify="left")
    for column in ("subject", "latest version", "id", "fields", "compatibility"):
        table.add_column(column)
    for subject in client.subjects():
        latest = client.latest(subject)
        fields = len(json.loads(latest["schema"]).get("fields", []))
        table.add_row(
            subject,
            str(latest["version"]),
            str(latest["id"]),
            str(fields),
            client.level(subject),
        )
    console.print(table)


def _suppliers():  # noqa: ANN202 - keeps imports out of `--help`
    from connectors.onboarding import Suppliers
    from sangsaeng.db import make_engine

    return Suppliers(make_engine(get_settings().database_url))


@suppliers_app.command("add")
def suppliers_add(
    supplier_id: Annotated[str, typer.Argument(help="Supplier id: A-Z, a-z, 0-9, _ or -.")],
    name: Annotated[str, typer.Option(help="The supplier's name.")],
    sector: Annotated[str, typer.Option(help="Sector, e.g. 'auto parts', 'masks'.")],
) -> None:
    """Onboard a supplier: record it, create its topics, issue its gateway API key.

    Idempotent: a known supplier keeps its record and key; missing topics are created.
    """
    settings = get_settings()
    done = _suppliers().onboard(
        settings.kafka_bootstrap,
        supplier_id,
        name,
        sector,
        partitions=settings.topic_partitions,
        retention_days=settings.topic_retention_days,
    )
    console.print(
        f"supplier {supplier_id}: "
        + ("onboarded" if done.created else "already known")
        + f"; {len(done.topics_created)} topic(s) created"
    )
    if done.api_key:
        console.print(f"gateway API key (shown only now): [bold]{done.api_key}[/]")
    else:
        console.print("it already has a gateway key; `sangsaeng gateway add-key` issues another")


@suppliers_app.command("list")
def suppliers_list() -> None:
    """List the onboarded suppliers."""
    table = Table(title="Suppliers", title_justify="left")
    for column in ("supplier", "name", "sector", "onboarded (UTC)"):
        table.add_column(column)
    for row in _suppliers().all():
        table.add_row(
            row.supplier_id, row.name, row.sector, row.onboarded_at.strftime("%Y-%m-%d %H:%M")
        )
    console.print(table)


@gateway_app.command("add-key")
def gateway_add_key(
    supplier: Annotated[str, typer.Option("--supplier", help="An onboarded supplier id.")],
) -> None:
    """Issue a new gateway API key for a supplier; printed once, stored hashed."""
    console.print(
        f"gateway API key for {supplier} (shown only now): "
        f"[bold]{_suppliers().issue_key(supplier)}[/]"
    )


@gateway_app.command("serve")
def gateway_serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: from the URL).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: from the URL).")] = None,
) -> None:
    """Run the gateway in the foreground at SANGSAENG_GATEWAY_URL (OpenAPI at /docs)."""
    from connectors.gateway.server import serve
    from schemas.registry.server import host_port

    settings = get_settings()
    default_host, default_port = host_port(settings.gateway_url)
    serve(settings, host or default_host, port or default_port)


@files_app.command("watch")
def files_watch(
    folder: Annotated[
        Path,
        typer.Argument(help="Folder the MES drops exports into.", exists=True, file_okay=False),
    ],
    supplier: Annotated[str, typer.Option("--supplier", help="Supplier id, e.g. S0001.")],
    mapping: Annotated[
        Path,
        typer.Option(
            "--mapping", help="YAML mapping of columns to fields.", exists=True, dir_okay=False
        ),
    ],
    once: Annotated[
        bool, typer.Option("--once", help="Process what is there now, then exit.")
    ] = False,
) -> None:
    """Send the rows of each *.csv / *.jsonl export in FOLDER, then move it to done/ or failed/.

    Refused rows are listed in <file>.report.txt beside the moved file. Resumable: after
    a crash a file continues after its last committed chunk, and the same content
    dropped again is recognised and not sent twice.
    """
    from connectors.files.connector import watch
    from connectors.files.mapping import Mapping
    from connectors.sdk import SupplierClient

    rules = Mapping.load(mapping)
    client = SupplierClient.from_settings(supplier, get_settings())

    def said(outcome) -> None:  # noqa: ANN001 - FileOutcome
        where = outcome.moved_to.parent.name if outcome.moved_to else "?"
        console.print(
            f"{outcome.name}: {outcome.rows} rows, {outcome.accepted} accepted, "
            f"{len(outcome.refused)} refused -> {where}/"
            + (f" ({outcome.note})" if outcome.note else "")
        )

    try:
        watch(
            folder,
            client,
            rules,
            once=once,
            on_file=said,
            on_warning=lambda m: err_console.print(f"[yellow]warning:[/] {escape(m)}"),
        )
    finally:
        client.close()


@app.command("simulate")
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
    via: Annotated[
        str, typer.Option(help="sdk, gateway, or mixed (alternating suppliers).")
    ] = "sdk",
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD); default: DAYS before today.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write every event to this JSON Lines file.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write files only; send nothing.")
    ] = False,
) -> None:
    """Simulate a programme of suppliers' MES systems and stream their events in.

    Deterministic by seed (with --start): sponsors and suppliers with sites, lines,
    machines and parts; shifts, output, scrap, inspections with measurements, machine
    states, shipments and energy; productivity rising after each supplier's go-live.
    Writes the reference data to <state dir>/reference.yaml.
    """
    from datetime import UTC, date, datetime, timedelta

    from rich.progress import Progress

    from connectors.simulator.events import generate
    from connectors.simulator.run import send, write_events, write_reference
    from connectors.simulator.world import build_world

    if via not in ("sdk", "gateway", "mixed"):
        raise ConfigError(f"--via must be sdk, gateway or mixed, not {via!r}")
    try:
        first = (
            date.fromisoformat(start) if start else datetime.now(UTC).date() - timedelta(days=days)
        )
    except ValueError:
        raise ConfigError(f"--start must be YYYY-MM-DD, not {start!r}") from None
    settings = get_settings()
    world = build_world(seed, suppliers, first, days)
    write_reference(world, settings.state_dir / "reference.yaml")
    console.print(f"reference data: {settings.state_dir / 'reference.yaml'}")
    if out is not None:
        count = write_events(generate(world, seed=seed, bad_rate=bad_rate), out)
        console.print(f"{count} events written to {out}")
    if dry_run:
        return
    with Progress(console=console) as progress:
        task = progress.add_task(f"Streaming {days} days of {suppliers} suppliers", total=None)
        report = send(
            world,
            generate(world, seed=seed, bad_rate=bad_rate),
            settings,
            via=via,
            rate=rate,
            progress=lambda n: progress.advance(task, n),
        )
    table = Table(title="Accepted by topic", title_justify="left")
    table.add_column("topic")
    table.add_column("via")
    table.add_column("events", justify="right")
    for topic, n in sorted(report.accepted.items()):
        table.add_row(topic, report.via[topic.split(".")[1]], str(n))
    console.print(table)
    refused = ", ".join(f"{reason} x{n}" for reason, n in report.refused.most_common(6))
    console.print(
        f"generated {report.generated}, accepted {sum(report.accepted.values())}, "
        f"refused at the edge {sum(report.refused.values())}"
        + (f" ({refused})" if refused else "")
        + f", still spooled {report.still_spooled}"
    )


@app.command("push")
def push(
    file: Annotated[
        Path,
        typer.Argument(help="JSON Lines file, one event per line.", exists=True, dir_okay=False),
    ],
    supplier: Annotated[str, typer.Option("--supplier", help="Supplier id, e.g. S0001.")],
    event_type: Annotated[
        str, typer.Option("--type", help="production, quality, machine_status, shipment or energy.")
    ],
) -> None:
    """Send events from a JSON Lines file through the supplier SDK (spool, then Kafka).

    Valid lines are accepted even if others are refused; refused lines are listed with
    their line number, field and reason (exit 1). Accepted events that the broker could
    not take stay in the local spool and go out with the next push.
    """
    from rich.progress import Progress

    from connectors.sdk import SupplierClient
    from sangsaeng.errors import TransientError

    client = SupplierClient.from_settings(supplier, get_settings())
    accepted, refused = 0, []

    def accept(chunk: list[tuple[int, object]]) -> None:
        nonlocal accepted
        ids, rejected = client.send_batch(event_type, [record for _, record in chunk])
        accepted += len(ids)
        refused.extend((chunk[i][0], exc.field or "", exc.reason) for i, exc in rejected)

    try:
        chunk: list[tuple[int, object]] = []
        with file.open() as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    chunk.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    refused.append((number, "", f"not JSON: {exc.msg}"))
                if len(chunk) == 1000:
                    accept(chunk)
                    chunk = []
        accept(chunk)
        refused.sort()
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("Forwarding to Kafka", total=client.pending())
                client.flush(progress=lambda n: progress.advance(task, n))
        except TransientError as exc:
            err_console.print(f"[yellow]warning:[/] {escape(str(exc))}")
        console.print(
            f"accepted {accepted}, refused {len(refused)}, still spooled {client.pending()}"
        )
    finally:
        client.close()
    if refused:
        table = Table(title=f"Refused lines of {file}", title_justify="left")
        for column in ("line", "field", "reason"):
            table.add_column(column)
        for number, field, reason in refused[:50]:
            table.add_row(str(number), field, escape(reason))
        console.print(table)
        if len(refused) > 50:
            console.print(f"… and {len(refused) - 50} more")
        raise typer.Exit(1)


@app.command("demo")
def demo() -> None:
    """Start the stack, register the contracts, stream a simulated week of 4 suppliers in,
    then land it (validate, quarantine) and show the counts per supplier."""
    from sangsaeng.demo import run_demo

    run_demo(get_settings(), console)


def main() -> None:
    """Entry point of the `sangsaeng` script."""
    try:
        app()
    except ConfigError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except PlatformError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
