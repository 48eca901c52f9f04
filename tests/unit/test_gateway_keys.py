"""Gateway keys: revoked ones are refused within the key cache's lifetime, and refused
keys are limited per client address (the clocks injected, nothing sleeps)."""

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli import gateway as gateway_cli
from cli.main import app as cli_app
from connectors.gateway.app import RefusedKeys, create_app
from connectors.gateway.forwarder import ClientPool
from governance.models import Role
from governance.parties import KEY_CACHE_SECONDS, NotOnboarded, Parties
from sangsaeng.errors import TerminalError
from tests.support import offline_client, upgraded_engine

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path):
    made = upgraded_engine(f"sqlite:///{tmp_path / 'platform.db'}")
    yield made
    made.dispose()


@pytest.fixture
def suppliers(engine) -> Parties:
    parties = Parties(engine)
    parties.add_supplier("S0001", "Daehan Masks", "masks")
    parties.add_supplier("S0002", "Gamma Pressworks", "auto parts")
    return parties


def test_a_revoked_key_is_refused_once_the_cache_has_expired(engine, suppliers):
    clock = Clock()
    gateway = Parties(engine, clock=clock)  # a running gateway: another Parties, its own cache
    key = suppliers.issue_key("S0001")
    assert gateway.supplier_for_key(key) == "S0001"

    assert suppliers.revoke_key("S0001", key) is True  # the operator, elsewhere
    clock.now += KEY_CACHE_SECONDS - 0.1
    assert gateway.supplier_for_key(key) == "S0001"  # still trusted from its look-up
    clock.now += 0.1
    assert gateway.supplier_for_key(key) is None
    clock.now += 3600
    assert gateway.supplier_for_key(key) is None  # a refused key is never cached as good

    assert suppliers.revoke_key("S0001", key) is False  # already revoked: nothing changes
    assert suppliers.org_for_key(key) is None  # the buyer API refuses it at once


def test_the_key_cache_is_bounded_and_a_new_key_works_at_once(engine, suppliers):
    gateway = Parties(engine, key_cache_size=2)
    keys = [suppliers.issue_key("S0001") for _ in range(3)]
    assert gateway.supplier_for_key("ssk_not-issued-yet") is None
    assert [gateway.supplier_for_key(k) for k in keys] == ["S0001"] * 3
    assert len(gateway._key_cache) == 2


def test_revoking_in_the_same_process_takes_effect_at_once(suppliers):
    key = suppliers.issue_key("S0001")
    assert suppliers.supplier_for_key(key) == "S0001"
    suppliers.revoke_key("S0001", key)
    assert suppliers.supplier_for_key(key) is None


def test_only_the_suppliers_own_keys_are_revoked(suppliers):
    mine, other = suppliers.issue_key("S0001"), suppliers.issue_key("S0002")
    with pytest.raises(TerminalError, match="not one of supplier 'S0001'"):
        suppliers.revoke_key("S0001", other)
    with pytest.raises(TerminalError, match="not one of supplier 'S0001'"):
        suppliers.revoke_key("S0001", "ssk_never-issued")
    with pytest.raises(NotOnboarded, match="sangsaeng suppliers add S0404"):
        suppliers.revoke_key("S0404", mine)
    suppliers.add_organisation("B001", "Buyer", Role.BUYER)
    with pytest.raises(NotOnboarded):
        suppliers.revoke_all_keys("B001")
    assert suppliers.supplier_for_key(other) == "S0002"

    suppliers.issue_key("S0001")
    assert suppliers.revoke_all_keys("S0001") == 2
    assert suppliers.revoke_all_keys("S0001") == 0
    assert suppliers.supplier_for_key(mine) is None
    assert suppliers.supplier_for_key(other) == "S0002"


def test_refused_keys_are_limited_per_address_with_bounded_memory():
    clock = Clock()
    limit = RefusedKeys(rate=0.5, burst=3, max_addresses=2, clock=clock)
    assert [limit.refuse("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.refuse("10.0.0.1") == pytest.approx(2.0)  # one token in 1 / 0.5 s
    assert limit.refuse("10.0.0.2") == 0.0  # another address is not affected
    clock.now += 2.0
    assert limit.refuse("10.0.0.1") == 0.0
    assert limit.refuse("10.0.0.1") > 0
    limit.refuse("10.0.0.3")
    assert len(limit._buckets) == 2  # the least recently refused address is forgotten


def test_the_gateway_answers_refused_keys_401_then_429_with_retry_after(tmp_path):
    class NoKeys:
        def supplier_for_key(self, key):
            return None

    pool = ClientPool(lambda s: offline_client(s, spool_path=tmp_path / f"{s}.db"))
    clock = Clock()
    app = create_app(NoKeys(), pool, refused_keys=RefusedKeys(rate=0.1, burst=2, clock=clock))
    http = TestClient(app)
    said = [
        http.post("/v1/events/production", content=b"{}", headers={"X-API-Key": "ssk_guess"})
        for _ in range(3)
    ]
    assert [r.status_code for r in said] == [401, 401, 429]
    assert said[2].headers["Retry-After"] == "10"
    assert "ask the operator for a valid one" in said[2].json()["detail"]
    clock.now += 10
    assert http.post("/v1/events/production", content=b"{}").status_code == 401


def test_revoke_key_is_a_command_with_help():
    assert gateway_cli.KEY_CACHE_SECONDS_SHOWN == KEY_CACHE_SECONDS
    shown = CliRunner().invoke(cli_app, ["gateway", "revoke-key", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert f"within {gateway_cli.KEY_CACHE_SECONDS_SHOWN} seconds" in " ".join(shown.stdout.split())
    assert "--supplier" in shown.stdout and "--all" in shown.stdout


def test_a_look_up_in_flight_during_a_revocation_keeps_nothing():
    """A look-up that read the key before its revocation committed must not put it back
    in the cache after `forget`: the revoked key would be trusted `KEY_CACHE_SECONDS` more."""
    import threading

    from governance.parties import KnownKeys, hash_key

    keys: KnownKeys[str] = KnownKeys()
    key = "ssk_in-flight"
    reading, revoked = threading.Event(), threading.Event()
    lookups: list[str] = []

    def slow_lookup() -> str:
        lookups.append("slow")
        reading.set()  # it has read the row: the key was valid then
        assert revoked.wait(10)
        return "S0001"

    answered: list[str | None] = []
    request = threading.Thread(target=lambda: answered.append(keys.get(key, slow_lookup)))
    request.start()
    assert reading.wait(10)
    keys.forget(hash_key(key))  # the revocation, committed meanwhile
    revoked.set()
    request.join(10)
    assert answered == ["S0001"]  # its own request was answered with what it read

    def lookup_after() -> None:
        lookups.append("after")  # the database now says revoked

    assert keys.get(key, lookup_after) is None  # looked up again, not trusted from the cache
    assert lookups == ["slow", "after"]
    assert len(keys) == 0


def test_a_look_up_with_no_revocation_meanwhile_is_kept():
    from governance.parties import KnownKeys

    keys: KnownKeys[str] = KnownKeys()
    calls: list[int] = []
    assert keys.get("ssk_a", lambda: calls.append(1) or "S0001") == "S0001"
    assert keys.get("ssk_a", lambda: calls.append(2) or "S0002") == "S0001"
    assert calls == [1]
