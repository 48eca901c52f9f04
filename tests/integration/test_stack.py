"""`sangsaeng stack up/status/down` as a user runs them: real processes, real ports.

Each test drives the CLI in a subprocess against its own state dir and free ports,
so it never touches a developer's running stack or the session's broker.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.process import free_port, pid_alive, processes_with, wait_for
from schemas.topics import EventType

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


class StackCli:
    """Runs `sangsaeng` with an isolated state dir and ports."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.kafka_port = free_port()
        self.registry_port = free_port()
        self.gateway_port = free_port()
        self.api_port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SANGSAENG_")},
            "SANGSAENG_STATE_DIR": str(state_dir),
            "SANGSAENG_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.kafka_port}",
            "SANGSAENG_KAFKA_CONTROLLER_PORT": str(free_port()),
            "SANGSAENG_POSTGRES_PORT": str(free_port()),
            "SANGSAENG_SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{self.registry_port}",
            "SANGSAENG_GATEWAY_URL": f"http://127.0.0.1:{self.gateway_port}",
            "SANGSAENG_API_URL": f"http://127.0.0.1:{self.api_port}",
            "SANGSAENG_DATABASE_URL": f"sqlite:///{state_dir / 'sangsaeng.db'}",
            "COLUMNS": "200",
        }

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            check=False,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=180,
        )
        if ok:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    @property
    def kafka_pid_file(self) -> Path:
        return self.state_dir / "stack" / "kafka" / "service.json"

    def kafka_pid(self) -> int:
        return int(json.loads(self.kafka_pid_file.read_text())["pid"])

    def our_processes(self) -> list[int]:
        """The broker and PostgreSQL (their command lines name the state dir), the
        registry, the gateway and the API (their command lines name their ports)."""
        return sorted(
            processes_with(str(self.state_dir.resolve()))
            + processes_with(f"registry serve --host 127.0.0.1 --port {self.registry_port}")
            + processes_with(f"gateway serve --host 127.0.0.1 --port {self.gateway_port}")
            + processes_with(f"api serve --host 127.0.0.1 --port {self.api_port}")
        )


@pytest.fixture
def cli() -> Iterator[StackCli]:
    # Not under pytest's 0700 tmp root: the postgres user must reach the data dir.
    state_dir = Path(tempfile.mkdtemp(prefix="sangsaeng-stack-"))
    state_dir.chmod(0o755)
    stack = StackCli(state_dir)
    try:
        yield stack
    finally:
        stack("stack", "down", ok=False)
        for pid in stack.our_processes():  # never leave a process behind, even on failure
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(state_dir, ignore_errors=True)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI's error: exit 1, a single line on stderr starting with 'error:', no traceback."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_up_status_down_leaves_nothing_behind(cli: StackCli):
    up = cli("stack", "up")
    assert up.stdout.count("running") == 4  # kafka, the registry, the gateway, the API
    pid = cli.kafka_pid()
    assert pid_alive(pid)
    started = cli.our_processes()
    assert len(started) == 4 and pid in started

    status = cli("stack", "status")
    assert "kafka" in status.stdout and "registry" in status.stdout
    assert status.stdout.count("running") == 4 and str(pid) in status.stdout
    registry = f"http://127.0.0.1:{cli.registry_port}/subjects"
    assert httpx.get(registry).status_code == 401  # reads need a registry user too
    admin = tuple((cli.state_dir / "registry-credentials").read_text().strip().split(":", 1))
    assert httpx.get(registry, auth=admin).json() == []  # the admin `up` bootstrapped
    api = httpx.get(f"http://127.0.0.1:{cli.api_port}/v1/views/oee_daily")
    assert api.status_code == 401 and "X-API-Key" in api.json()["detail"]

    # Idempotent: a second `up` starts nothing new.
    cli("stack", "up")
    assert cli.kafka_pid() == pid
    assert cli.our_processes() == started

    down = cli("stack", "down")
    assert f"kafka: stopped (pid {pid})" in down.stdout and "registry: stopped" in down.stdout
    assert "gateway: stopped" in down.stdout and "api: stopped" in down.stdout
    assert not pid_alive(pid)
    assert cli.our_processes() == []
    assert "running" not in cli("stack", "status").stdout

    # And `down` again is harmless.
    assert "not started by this stack" in cli("stack", "down").stdout


def test_crashed_broker_is_reported_and_stale_pid_file_recovered(cli: StackCli):
    cli("stack", "up")
    pid = cli.kafka_pid()
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(pid), timeout=10)

    status = cli("stack", "status", ok=False)
    assert status.returncode == 1
    assert "crashed" in status.stdout

    # The pid file left by the crash is stale: `up` says so and starts a new broker.
    up = cli("stack", "up")
    assert "running" in up.stdout
    assert cli.kafka_pid() != pid
    assert "running" in cli("stack", "status").stdout


def test_port_in_use_is_one_line_naming_the_setting(cli: StackCli):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", cli.kafka_port))
        sock.listen()
        line = one_line_error(cli("stack", "up", ok=False))
    assert f"port {cli.kafka_port}" in line and "SANGSAENG_KAFKA_BOOTSTRAP" in line
    assert cli.our_processes() == []


def test_java_missing_is_one_line_saying_what_to_install(cli: StackCli, tmp_path: Path):
    bin_dir = tmp_path / "bin"  # a PATH with everything but java
    bin_dir.mkdir()
    for tool in ("mvn", "runuser"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    line = one_line_error(cli("stack", "up", env={"PATH": str(bin_dir)}, ok=False))
    assert "java not found" in line and "openjdk-17" in line


def test_corrupted_state_dir_is_one_line_and_wipe_recovers(cli: StackCli):
    cli("stack", "up")
    cli("stack", "down")
    data = cli.state_dir / "stack" / "kafka" / "data"
    (data / "meta.properties").write_text("garbage")
    line = one_line_error(cli("stack", "up", ok=False))
    assert "corrupted" in line and "stack down --wipe" in line

    cli.kafka_pid_file.write_text("{half a json")
    line = one_line_error(cli("stack", "status", ok=False))
    assert "corrupted" in line

    database = cli.state_dir / "sangsaeng.db"  # the default platform database
    assert database.exists() and (cli.state_dir / "registry-credentials").exists()
    cli("stack", "down", "--wipe")
    assert not database.exists() and not (cli.state_dir / "registry-credentials").exists()
    assert "running" in cli("stack", "up").stdout
    assert "current" in cli("db", "current").stdout  # made anew at this release


def test_bad_setting_is_one_line_with_exit_code_2(cli: StackCli):
    proc = cli("stack", "status", env={"SANGSAENG_POSTGRES_PORTT": "1"}, ok=False)
    assert proc.returncode == 2
    assert "SANGSAENG_POSTGRES_PORTT" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.postgres
def test_up_with_postgres_then_down_stops_both(cli: StackCli):
    up = cli("stack", "up", "--postgres")
    assert "postgresql+psycopg://sangsaeng@127.0.0.1:" in up.stdout
    status = cli("stack", "status").stdout
    assert status.count("running") == 5
    assert len(cli.our_processes()) == 5  # broker, registry, gateway, API, postmaster

    import psycopg

    port = cli.env["SANGSAENG_POSTGRES_PORT"]
    with psycopg.connect(f"host=127.0.0.1 port={port} user=sangsaeng dbname=sangsaeng") as conn:
        assert conn.execute("select 1").fetchone() == (1,)

    cli("stack", "up", "--postgres")  # idempotent for all
    assert len(cli.our_processes()) == 5

    down = cli("stack", "down").stdout
    assert "postgres: stopped" in down and "kafka: stopped" in down
    assert cli.our_processes() == []


def test_a_broker_started_with_sigterm_ignored_still_stops_cleanly() -> None:
    # nohup, a background job, or a library (Dagster's in-process runs) can leave SIGTERM
    # ignored in the starting process; a JVM inherits that and would ignore `stack down`.
    from infra.kafka.broker import KafkaBroker
    from sangsaeng.settings import load_settings

    folder = Path(tempfile.mkdtemp(prefix="sangsaeng-sigterm-"))
    broker = KafkaBroker(
        service_dir=folder / "kafka",
        cache_dir=load_settings().cache_dir,
        port=free_port(),
        controller_port=free_port(),
    )
    saved = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        broker.start()
    finally:
        signal.signal(signal.SIGTERM, saved)
    try:
        status = Path(f"/proc/{broker.record().pid}/status").read_text()
        ignored = int(next(x for x in status.splitlines() if x.startswith("SigIgn")).split()[1], 16)
        assert not ignored & (1 << (signal.SIGTERM - 1)), "the broker inherited SIGTERM ignored"
        assert broker.stop().startswith("kafka: stopped"), "SIGTERM did not stop the broker"
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("tls", [False, True], ids=["sasl_plaintext", "sasl_ssl"])
def test_the_stacks_gateway_and_ingest_work_as_their_own_kafka_users(cli: StackCli, tls: bool):
    # The shell holds no Kafka login: `suppliers add` logs in as the stack's admin, the
    # gateway forwards as `gateway`, `ingest` reads as `ingest` (kafka-credentials); with
    # --tls every one of them over TLS, trusting the state dir's CA alone.
    from tests.integration.recent_events import recent_events

    cli("stack", "up", *(["--tls"] if tls else []))
    ca = cli.state_dir / "tls" / "ca.pem"
    assert ca.exists() == tls
    if tls:
        assert_tls_only(cli, ca)
    credentials = cli.state_dir / "kafka-credentials"
    assert credentials.stat().st_mode & 0o777 == 0o600
    assert {ln.split(":")[0] for ln in credentials.read_text().splitlines()} == {
        "admin",
        "gateway",
        "ingest",
    }
    cli("schemas", "register")
    added = cli("suppliers", "add", "S9001", "--name", "Test", "--sector", "test").stdout
    assert "SANGSAENG_KAFKA_USERNAME=supplier-S9001" in added
    key = next(w for w in added.split() if w.startswith("ssk_"))

    events = recent_events(EventType.PRODUCTION, "S9001", 3)
    posted = httpx.post(
        f"http://127.0.0.1:{cli.gateway_port}/v1/events/production",
        headers={"X-API-Key": key},
        json=events,
        timeout=30,
    )
    assert posted.status_code == 202, posted.text
    read = 0
    for _ in range(30):  # the gateway forwards in the background
        out = cli("ingest").stdout
        read += int(out.split("read ")[1].split(" records")[0].replace(",", ""))
        if read >= 3:
            break
        time.sleep(1)
    assert read == 3  # every event, as `ingest`, exactly once


def assert_tls_only(cli: StackCli, ca: Path) -> None:
    """The broker speaks TLS with a certificate its CA signed for 127.0.0.1, and nothing
    else: a client without TLS, or trusting other CAs, gets no answer."""
    import ssl

    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", cli.kafka_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    password = next(
        ln.split(":", 1)[1]
        for ln in (cli.state_dir / "kafka-credentials").read_text().splitlines()
        if ln.startswith("admin:")
    )
    login = {
        "bootstrap_servers": f"127.0.0.1:{cli.kafka_port}",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "admin",
        "sasl_plain_password": password,
        "request_timeout_ms": 4000,
        "bootstrap_timeout_ms": 3000,
    }
    admin = KafkaAdminClient(security_protocol="SASL_SSL", ssl_cafile=str(ca), **login)
    assert admin.describe_cluster()["brokers"]
    admin.close()
    for refused in ({"security_protocol": "SASL_PLAINTEXT"}, {"security_protocol": "SASL_SSL"}):
        with pytest.raises(KafkaError):  # no TLS; TLS trusting the system's CAs only
            KafkaAdminClient(**refused, **login).close()
