"""Registry roles, failed logins and the admin's credentials, against real registries.

Each role may do exactly its operations (read < write < admin, anonymous nothing once
the registry has users); the SDK works as a read-only user; a failed login costs the
same for a known and an unknown user and is throttled (429, Retry-After; a correct
password is refused while throttled too); a reset or a removal reaches a second
registry on the same database within the credentials cache's lifetime; registries
bootstrapping together make one admin; `reset-admin` repairs a drifted credentials file.
On SQLite and PostgreSQL.
"""

import base64
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from connectors.kafka.admin import ensure_topics
from connectors.onboarding import supplier_topics
from connectors.sdk import SupplierClient
from infra.process import free_port, wait_for
from migrations.schema import ensure
from sangsaeng.db import make_engine
from sangsaeng.settings import load_settings
from schemas.registry.auth import (
    CACHE_S,
    CREDENTIALS_FILE,
    Credentials,
    LoginThrottled,
    Role,
    client_credentials,
    verify_password,
)
from schemas.registry.client import RegistryClient, RegistryClientError
from schemas.registry.models import CredentialRow
from schemas.registry.throttle import FailureThrottle
from schemas.serde import AvroDeserializer
from tests.conftest import RunningRegistry
from tests.support import cli_env, read_topic, run_cli

pytestmark = pytest.mark.integration

SUBJECT = "io.test.Gauge"
V1 = json.dumps(
    {
        "type": "record",
        "name": "Gauge",
        "namespace": "io.test",
        "fields": [{"name": "a", "type": "long"}],
    }
)
BODY = {"schema": V1}

# (method, path, body, role needed): every endpoint but the health check. The deletes
# come last, as the admin's deletes remove what the other rows read.
ENDPOINTS: list[tuple[str, str, dict | None, Role]] = [
    ("GET", "/schemas/types", None, Role.READ),
    ("GET", "/subjects", None, Role.READ),
    ("GET", f"/subjects/{SUBJECT}/versions", None, Role.READ),
    ("GET", f"/subjects/{SUBJECT}/versions/1", None, Role.READ),
    ("GET", f"/subjects/{SUBJECT}/versions/latest/schema", None, Role.READ),
    ("GET", "/schemas/ids/1", None, Role.READ),
    ("GET", "/schemas/ids/1/schema", None, Role.READ),
    ("GET", "/schemas/ids/1/versions", None, Role.READ),
    ("GET", "/schemas/ids/1/subjects", None, Role.READ),
    ("POST", f"/subjects/{SUBJECT}", BODY, Role.READ),
    ("POST", f"/compatibility/subjects/{SUBJECT}/versions/latest", BODY, Role.READ),
    ("POST", f"/compatibility/subjects/{SUBJECT}/versions", BODY, Role.READ),
    ("GET", "/config", None, Role.READ),
    ("GET", f"/config/{SUBJECT}?defaultToGlobal=true", None, Role.READ),
    ("GET", "/mode", None, Role.READ),
    ("POST", f"/subjects/{SUBJECT}/versions", BODY, Role.WRITE),
    ("PUT", "/config", {"compatibility": "BACKWARD_TRANSITIVE"}, Role.ADMIN),
    ("PUT", f"/config/{SUBJECT}", {"compatibility": "BACKWARD"}, Role.ADMIN),
    ("DELETE", f"/config/{SUBJECT}", None, Role.ADMIN),
    ("DELETE", f"/subjects/{SUBJECT}/versions/1", None, Role.ADMIN),
    ("DELETE", f"/subjects/{SUBJECT}", None, Role.ADMIN),
]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def quiet_throttle_registry(db_url: str) -> Iterator[RunningRegistry]:
    """A registry whose throttle never trips (for tests that fail many logins on purpose)."""
    engine = make_engine(db_url)
    running = RunningRegistry(
        db_url, credentials=Credentials(engine, throttle=FailureThrottle(max_failures=10_000))
    )
    try:
        yield running
    finally:
        running.stop()
        engine.dispose()


def test_each_role_may_do_exactly_its_operations(registry: RunningRegistry):
    assert registry.client().register(SUBJECT, V1)[0] == 1
    users: dict[Role | None, tuple[str, str] | None] = {None: None}
    users.update({role: registry.user(role.value) for role in Role})
    with httpx.Client(base_url=registry.url, timeout=30) as http:
        assert http.get("/").status_code == 200  # the health check stays open
        for role, auth in users.items():  # anonymous, read, write, admin: in that order
            for method, path, body, needed in ENDPOINTS:
                answer = http.request(method, path, json=body, auth=auth)
                where = (role, method, path, answer.text)
                if role is not None and role.allows(needed):
                    assert answer.status_code < 500 and answer.status_code not in (401, 403, 429), (
                        where
                    )
                    continue
                error = answer.json()
                assert error["message"] and f"role {needed}" in error["message"], where
                if role is None:
                    assert (answer.status_code, error["error_code"]) == (401, 40101), where
                    assert answer.headers["www-authenticate"].startswith("Basic")
                else:
                    assert (answer.status_code, error["error_code"]) == (403, 40301), where
    # The admin's deletes went through; nothing the others tried changed anything.
    assert registry.client().subjects() == []


def test_the_sdk_works_as_a_read_only_user(
    shared_registry: RunningRegistry, kafka_bootstrap, tmp_path
):
    """The contracts were registered by an admin (the fixture); the SDK only looks them up."""
    reader = shared_registry.user("read")
    supplier = f"R{uuid.uuid4().hex[:6]}"
    ensure_topics(
        kafka_bootstrap,
        {t: n for t, n in supplier_topics(supplier, 1).items() if t.startswith("sup.")},
    )
    client = SupplierClient(
        supplier,
        bootstrap=kafka_bootstrap,
        registry=RegistryClient(shared_registry.url, reader),
        spool_path=tmp_path / f"{supplier}.db",
    )
    try:
        sent = client.send_many("production", [_production(i) for i in range(5)])
        assert client.flush() == 5 and client.pending() == 0
    finally:
        client.close()
    decode = AvroDeserializer.for_contracts(RegistryClient(shared_registry.url, reader)).decode
    records = read_topic(kafka_bootstrap, f"sup.{supplier}.production")
    assert sorted(decode(r.value)["work_order_id"] for r in records) == [f"W{i}" for i in range(5)]
    assert len(sent) == 5
    with pytest.raises(RegistryClientError) as refused:
        RegistryClient(shared_registry.url, reader).register(SUBJECT, V1)
    assert (refused.value.status, refused.value.error_code) == (403, 40301)
    assert "role write" in str(refused.value)

    # Without credentials the SDK keeps its events and says how to recover.
    anonymous = SupplierClient(
        supplier,
        bootstrap=kafka_bootstrap,
        registry=RegistryClient(shared_registry.url),
        spool_path=tmp_path / f"{supplier}-anon.db",
    )
    try:
        anonymous.send_many("production", [_production(9)])
        with pytest.raises(RegistryClientError, match="sangsaeng registry reset-admin"):
            anonymous.flush()
        assert anonymous.pending() == 1
    finally:
        anonymous.close()


def _production(i: int) -> dict:
    return {
        "site_id": "P1",
        "source_system": "test",
        "line_id": "L1",
        "work_order_id": f"W{i}",
        "part_number": "P-1",
        "lot_id": "LOT-1",
        "quantity_good": 1.0,
        "quantity_scrap": 0.0,
        "start_time": "2026-03-02T08:00:00+09:00",
        "end_time": "2026-03-02T08:15:00+09:00",
        "unit": "H87",
    }


def test_a_failed_login_takes_as_long_for_an_unknown_user(quiet_throttle_registry: RunningRegistry):
    known, _ = quiet_throttle_registry.user("read")
    durations: dict[str, list[float]] = {known: [], "nobody-here": []}
    with httpx.Client(base_url=quiet_throttle_registry.url, timeout=30) as http:
        for round_ in range(17):  # alternating, so load on the machine hits both alike
            for user, taken in durations.items():
                started = time.perf_counter()
                answer = http.get("/subjects", auth=(user, f"wrong-{round_}"))
                elapsed = time.perf_counter() - started
                assert answer.status_code == 401
                if round_ >= 2:  # the first rounds warm connections and caches up
                    taken.append(elapsed)
    ratio = statistics.median(durations[known]) / statistics.median(durations["nobody-here"])
    assert 0.6 < ratio < 1.6, (ratio, durations)


def test_failed_logins_are_throttled_and_then_a_correct_password_is_refused_too(db_url: str):
    engine = make_engine(db_url)
    credentials = Credentials(engine, throttle=FailureThrottle(max_failures=3, window_s=2.0))
    password = credentials.add_user("ops", role=Role.WRITE)
    other = credentials.add_user("other", role=Role.READ)
    running = RunningRegistry(db_url, credentials=credentials)
    try:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            for _ in range(3):
                assert http.get("/subjects", auth=("ops", "guess")).status_code == 401
            for auth in (("ops", "guess"), ("ops", password), ("other", other)):  # address too
                answer = http.get("/subjects", auth=auth)
                assert answer.status_code == 429, answer.text
                assert answer.json()["error_code"] == 42901
                assert 1 <= int(answer.headers["retry-after"]) <= 2
            time.sleep(int(answer.headers["retry-after"]) + 0.1)
            assert http.get("/subjects", auth=("ops", password)).status_code == 200
    finally:
        running.stop()

    # Per user too: failures from one address throttle the user from every address.
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert credentials.authenticate(basic("ops", "guess"), client) is None
    with pytest.raises(LoginThrottled):
        credentials.authenticate(basic("ops", password), "10.0.0.9")
    assert credentials.authenticate(basic("other", other), "10.0.0.9") is not None
    engine.dispose()


def test_a_reset_and_a_removal_reach_another_registry_within_the_cache_lifetime(
    registry: RunningRegistry,
):
    second = RunningRegistry(registry.db_url, tester=False)
    cli_engine = make_engine(registry.db_url)  # what `sangsaeng registry ...` would use
    try:
        name, old = registry.user("read")
        urls = (registry.url, second.url)

        def status(url: str, password: str) -> int:
            return httpx.get(f"{url}/subjects", auth=(name, password), timeout=30).status_code

        assert [status(u, old) for u in urls] == [200, 200]  # verified, now cached in both
        new = Credentials(cli_engine).add_user(name)
        started = time.monotonic()
        assert wait_for(lambda: all(status(u, old) == 401 for u in urls), timeout=10, interval=0.3)
        assert time.monotonic() - started < CACHE_S + 3
        assert [status(u, new) for u in urls] == [200, 200]

        Credentials(cli_engine).remove_user(name)
        started = time.monotonic()
        assert wait_for(lambda: all(status(u, new) == 401 for u in urls), timeout=10, interval=0.3)
        assert time.monotonic() - started < CACHE_S + 3
    finally:
        second.stop()
        cli_engine.dispose()


def test_registries_bootstrapping_together_make_one_admin(empty_db_url: str, tmp_path: Path):
    """What `registry serve` does on start (upgrade an empty database, bootstrap the
    admin), by four registries at once, each with an engine (connections) of its own."""
    state = tmp_path / "state"
    engines = [make_engine(empty_db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    made: list[Path | None] = []
    failures: list[BaseException] = []

    def start(engine) -> None:
        try:
            ensure(engine)
            credentials = Credentials(engine)
        except BaseException as exc:
            failures.append(exc)
            barrier.abort()
            return
        barrier.wait()
        try:
            made.append(credentials.bootstrap_admin(state))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert [m for m in made if m is not None] == [state / CREDENTIALS_FILE]
    assert Credentials(engines[0]).users() == [("admin", Role.ADMIN)]
    user, password = (state / CREDENTIALS_FILE).read_text().strip().split(":", 1)
    with Session(engines[0]) as session:
        stored = session.get(CredentialRow, user)
    assert stored is not None and verify_password(password, stored.password_hash)
    for engine in engines:
        engine.dispose()


def test_reset_admin_repairs_a_drifted_credentials_file(db_url: str, tmp_path: Path):
    state = tmp_path / "state"
    engine = make_engine(db_url)
    Credentials(engine).bootstrap_admin(state)
    (state / CREDENTIALS_FILE).write_text("admin:left-from-an-older-database\n")
    running = RunningRegistry(db_url, tester=False)
    settings = load_settings(state_dir=state, registry_auth=None)
    try:
        with pytest.raises(RegistryClientError) as drifted:
            RegistryClient(running.url, client_credentials(settings)).subjects()
        assert drifted.value.status == 401
        assert "sangsaeng registry reset-admin" in str(drifted.value)

        env = cli_env(
            state_dir=str(state),
            registry_database_url=db_url,
            database_url=f"sqlite:///{tmp_path / 'platform.db'}",
        )
        done = run_cli(env, "registry", "reset-admin")
        assert done.returncode == 0, done.stderr
        assert str(state / CREDENTIALS_FILE) in done.stdout.replace("\n", "")
        assert (state / CREDENTIALS_FILE).stat().st_mode & 0o777 == 0o600
        assert RegistryClient(running.url, client_credentials(settings)).subjects() == []
        assert Credentials(engine).users() == [("admin", Role.ADMIN)]
    finally:
        running.stop()
        engine.dispose()


def test_user_commands(db_url: str, tmp_path: Path):
    env = cli_env(
        state_dir=str(tmp_path / "state"),
        registry_database_url=db_url,
        database_url=f"sqlite:///{tmp_path / 'platform.db'}",
    )
    engine = make_engine(db_url)
    credentials = Credentials(engine)
    credentials.bootstrap_admin(tmp_path / "state")
    for command in ("add-user", "remove-user", "reset-admin"):
        helped = run_cli(env, "registry", command, "--help")
        assert helped.returncode == 0 and "Usage" in helped.stdout
    assert "--role" in run_cli(env, "registry", "add-user", "--help").stdout

    made = run_cli(env, "registry", "add-user", "ci", "--role", "write")
    assert made.returncode == 0, made.stderr
    assert "role write" in made.stdout and "shown only now" in made.stdout
    assert run_cli(env, "registry", "add-user", "ci").returncode == 0  # a reset keeps the role
    assert dict(credentials.users())["ci"] is Role.WRITE
    assert run_cli(env, "registry", "add-user", "viewer").returncode == 0
    assert dict(credentials.users())["viewer"] is Role.READ

    last = run_cli(env, "registry", "remove-user", "admin")
    assert last.returncode != 0
    assert "last admin" in (last.stdout + last.stderr)
    demote = run_cli(env, "registry", "add-user", "admin", "--role", "read")
    assert demote.returncode != 0 and "last admin" in (demote.stdout + demote.stderr)
    assert run_cli(env, "registry", "remove-user", "ci").returncode == 0
    assert [n for n, _ in credentials.users()] == ["admin", "viewer"]
    engine.dispose()


def test_two_registry_processes_starting_on_an_empty_database_make_one_admin(
    empty_db_url: str, tmp_path: Path
):
    state = tmp_path / "state"
    env = cli_env(
        state_dir=str(state),
        registry_database_url=empty_db_url,
        database_url=f"sqlite:///{tmp_path / 'platform.db'}",
    )
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "registry", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]

    def answers(port: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_for(lambda: all(answers(p) for p in ports), timeout=60, interval=0.3)
        auth = client_credentials(load_settings(state_dir=state, registry_auth=None))
        for port in ports:  # both accept the password in the file
            assert RegistryClient(f"http://127.0.0.1:{port}", auth).subjects() == []
    finally:
        for server in servers:
            server.terminate()
        outputs = [server.communicate(timeout=20)[0] for server in servers]
    assert sum("Created registry user 'admin'" in out for out in outputs) == 1, outputs
    engine = make_engine(empty_db_url)
    assert Credentials(engine).users() == [("admin", Role.ADMIN)]
    engine.dispose()
