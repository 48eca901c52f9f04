"""The HTTP ingest gateway over real HTTP, real Kafka, the real registry, both databases."""

import json
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource

from connectors.gateway.app import RefusedKeys, create_app
from connectors.gateway.forwarder import ClientPool
from connectors.kafka.admin import admin_client
from connectors.onboarding import onboard
from connectors.sdk import SupplierClient
from connectors.sdk.limits import RECORD_OVERHEAD, EdgeLimits
from governance.parties import KEY_CACHE_SECONDS, Parties
from infra.process import free_port, wait_for
from sangsaeng.db import make_engine
from tests.support import cli_env, json_values, kafka_login, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


class Gateway:
    def __init__(
        self, db_url, bootstrap, registry, spool_dir, max_message_bytes=1_048_576, **limits
    ) -> None:
        self.engine = make_engine(db_url)
        self.suppliers = Parties(self.engine)
        self.supplier = f"G{uuid.uuid4().hex[:6]}"
        self.bootstrap = bootstrap
        done = onboard(
            self.suppliers,
            bootstrap,
            self.supplier,
            "Gamma Pressworks",
            "auto parts",
            partitions=2,
            retention_days=7,
            max_message_bytes=max_message_bytes,
        )
        self.key = done.api_key
        self.pool = ClientPool(
            lambda s: SupplierClient(
                s,
                bootstrap=bootstrap,
                registry=registry.client(),
                spool_path=spool_dir / f"{s}.db",
                limits=EdgeLimits(max_message_bytes=max_message_bytes),
            )
        )
        self.pool.start()
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.suppliers, self.pool, **limits),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        assert wait_for(lambda: self.server.started, timeout=20, interval=0.05)
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", timeout=30, headers={"X-API-Key": self.key}
        )

    def post(self, event_type: str, body, **kwargs) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.http.post(f"/v1/events/{event_type}", content=content, **kwargs)

    def delivered(self, event_type: str) -> int:
        topic = f"sup.{self.supplier}.{event_type}"
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, **kafka_login())
        parts = [TopicPartition(topic, p) for p in range(2)]
        total = sum(consumer.end_offsets(parts).values())
        consumer.close()
        return total

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.pool.stop()
        self.http.close()
        self.engine.dispose()


@pytest.fixture
def make_gateway(db_url, kafka_bootstrap, shared_registry, tmp_path) -> Iterator:
    made: list[Gateway] = []

    def make(**limits) -> Gateway:
        gateway = Gateway(
            db_url, kafka_bootstrap, shared_registry, tmp_path / str(len(made)), **limits
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def status(**overrides) -> dict:
    return {
        "site_id": "P1",
        "source_system": "mes",
        "line_id": "L1",
        "machine_id": "M1",
        "state": "RUNNING",
        **overrides,
    }


def test_good_single_and_batch_are_accepted_and_reach_kafka(make_gateway):
    gw = make_gateway()
    single = gw.post("machine_status", status())
    assert single.status_code == 202, single.text
    assert len(single.json()["accepted"]) == 1 and single.json()["rejected"] == []
    batch = gw.post("machine_status", [status(machine_id=f"M{i}") for i in range(50)])
    assert batch.status_code == 202 and len(batch.json()["accepted"]) == 50
    assert wait_for(lambda: gw.delivered("machine_status") == 51, timeout=30)


def test_partial_batch_accepts_the_good_and_names_the_bad(make_gateway):
    gw = make_gateway()
    body = [status(), status(state="EXPLODED"), status(), {"nonsense": True}, "text"]
    answer = gw.post("machine_status", body)
    assert answer.status_code == 202
    result = answer.json()
    assert len(result["accepted"]) == 2
    rejected = {r["index"]: r for r in result["rejected"]}
    assert set(rejected) == {1, 3, 4}
    assert rejected[1]["field"] == "state" and "EXPLODED" in rejected[1]["reason"]
    assert rejected[3]["field"] == "nonsense"
    assert "JSON object" in rejected[4]["reason"]
    assert wait_for(lambda: gw.delivered("machine_status") == 2, timeout=30)


def test_all_bad_is_422_and_nothing_is_sent(make_gateway):
    gw = make_gateway()
    answer = gw.post("machine_status", [status(line_id=5), status(event_time="yesterday")])
    assert answer.status_code == 422
    assert [r["field"] for r in answer.json()["rejected"]] == ["line_id", "event_time"]
    assert answer.json()["accepted"] == []


def test_refusals_401_403_413_400(make_gateway):
    gw = make_gateway(max_records=10, max_bytes=10_000)
    assert (
        gw.post("machine_status", status(), headers={"X-API-Key": "ssk_wrong"}).status_code == 401
    )
    assert (
        gw.http.post(
            "/v1/events/machine_status", content=b"{}", headers={"X-API-Key": ""}
        ).status_code
        == 401
    )
    foreign = gw.post("machine_status", [status(), status(supplier_id="S9999")])
    assert foreign.status_code == 403 and "S9999" in foreign.json()["detail"]
    assert gw.post("machine_status", [status()] * 11).status_code == 413
    assert gw.post("machine_status", b"[" + b" " * 20_000 + b"]").status_code == 413
    assert gw.post("machine_status", b"{not json").status_code == 400
    assert gw.post("gossip", status()).status_code == 422
    assert gw.delivered("machine_status") == 0


def test_a_key_revoked_with_the_cli_is_refused_within_the_key_cache_lifetime(
    make_gateway, db_url, tmp_path
):
    gw = make_gateway()
    assert gw.post("machine_status", []).status_code == 422  # the key works (an empty batch)
    revoked = run_cli(
        cli_env(database_url=db_url, state_dir=str(tmp_path / "cli-state")),
        "gateway",
        "revoke-key",
        "--supplier",
        gw.supplier,
        "--key",
        gw.key,
    )
    assert revoked.returncode == 0, revoked.stderr
    assert "key revoked" in revoked.stdout
    since = time.monotonic()
    while (answer := gw.post("machine_status", [])).status_code != 401:
        assert time.monotonic() - since < KEY_CACHE_SECONDS + 1, "the revoked key still works"
        time.sleep(0.1)
    assert "revoked" in answer.json()["detail"]
    assert gw.post("machine_status", status()).status_code == 401  # nothing is accepted


def test_refused_keys_are_answered_429_per_client_address(make_gateway):
    # The server trusts X-Forwarded-For from 127.0.0.1 (uvicorn's default), so one test
    # process can speak for several client addresses.
    gw = make_gateway(refused_keys=RefusedKeys(rate=0.001, burst=3))

    def guess(address: str) -> httpx.Response:
        return gw.post(
            "machine_status", [], headers={"X-API-Key": "ssk_guess", "X-Forwarded-For": address}
        )

    answers = [guess("203.0.113.7") for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert "203.0.113.7" in answers[3].json()["detail"]
    assert guess("198.51.100.9").status_code == 401  # another address is not affected
    assert gw.post("machine_status", []).status_code == 422  # nor a valid key


def test_what_the_platform_cannot_carry_is_refused_and_the_rest_delivered(make_gateway):
    gw = make_gateway()
    body = (
        b"["
        + json.dumps(status()).encode()
        + b","
        + json.dumps(status(event_time="@")).replace('"@"', "253402300800000").encode()
        + b","
        + json.dumps(status(machine_id="M\u0000")).encode()
        + b","
        + json.dumps(status(reason_code="x" * 1_100_000)).encode()
        + b","
        + json.dumps(status(machine_id="M2")).encode()
        + b"]"
    )
    answer = gw.post("machine_status", body)
    assert answer.status_code == 202, answer.text[:300]
    assert [(r["index"], r["field"]) for r in answer.json()["rejected"]] == [
        (1, "event_time"),
        (2, "machine_id"),
        (3, "reason_code"),
    ]
    assert gw.post("machine_status", b"[" * 100_000).status_code == 400
    assert gw.post("production", b'{"quantity_good": NaN}').status_code == 422
    assert wait_for(lambda: gw.delivered("machine_status") == 2, timeout=30)


def test_a_record_at_the_edge_limit_is_taken_by_the_broker(make_gateway):
    """The edge's limit leaves room for Kafka's overhead: the largest record it accepts
    goes through a topic onboarded with that max.message.bytes; one byte more is refused."""
    gw = make_gateway(max_message_bytes=65_536)
    topic = f"sup.{gw.supplier}.machine_status"
    with admin_client(gw.bootstrap) as admin:
        described = admin.describe_configs([ConfigResource("TOPIC", topic)])
    assert described["topic"][topic]["max.message.bytes"]["value"] == "65536"

    client = gw.pool.client(gw.supplier)
    _, _, key, _, body = client.prepare("machine_status", status(reason_code=""))
    room = 65_536 - RECORD_OVERHEAD - (5 + len(body) + len(key))
    largest = status(reason_code="x" * (room - 2))  # 2 more bytes: the string's length varint
    _, _, key, _, body = client.prepare("machine_status", largest)
    assert 5 + len(body) + len(key) == 65_536 - RECORD_OVERHEAD

    over = gw.post("machine_status", status(reason_code="x" * (room - 1)))
    assert over.status_code == 422 and over.json()["rejected"][0]["field"] == "reason_code"
    taken = gw.post("machine_status", largest)
    assert taken.status_code == 202, taken.text[:300]
    assert wait_for(lambda: gw.delivered("machine_status") == 1, timeout=30)


def test_rate_limit_per_key_with_retry_after(make_gateway):
    gw = make_gateway(rate_per_second=2)  # bursts of 4
    codes = [gw.post("machine_status", status()).status_code for _ in range(6)]
    assert codes[:4] == [202] * 4
    assert 429 in codes[4:]
    limited = gw.post("machine_status", status())
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_openapi_documents_the_endpoint(make_gateway):
    gw = make_gateway()
    spec = gw.http.get("/openapi.json").json()
    assert "/v1/events/{event_type}" in spec["paths"]
    assert gw.http.get("/docs").status_code == 200


near_valid = st.builds(
    lambda extra: {**status(), **extra},
    st.dictionaries(
        st.sampled_from([*status(), "event_time", "event_id", "x"]), json_values, max_size=3
    ),
)
bodies = (json_values | near_valid | st.lists(near_valid, max_size=5)).map(
    lambda v: json.dumps(v).encode()
) | st.binary(max_size=300)


@pytest.fixture
def fuzz_gateway(make_gateway) -> Gateway:
    return make_gateway(rate_per_second=10_000)


# kafka-python's background threads (the forwarder's producer) draw from `random` for
# jitter while hypothesis generates; that is not randomness inside our strategies.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    event_type=st.sampled_from(["machine_status", "production", "shipment", "nope"]), body=bodies
)
def test_fuzz_never_a_5xx(fuzz_gateway, event_type, body):
    answer = fuzz_gateway.post(event_type, body)
    assert answer.status_code in (202, 400, 403, 413, 422), (body[:200], answer.text[:300])


def test_a_key_of_a_supplier_without_topics_is_409_not_a_5xx(make_gateway):
    """A supplier recorded (by a reference file, say) and given a key, but never onboarded
    with `suppliers add`: the broker has no topics for it. Nothing is accepted or spooled."""
    gateway = make_gateway()
    gateway.suppliers.add_supplier("GNOTOPICS", "Recorded Only", "food")
    key = gateway.suppliers.issue_key("GNOTOPICS")
    record = status(supplier_id="GNOTOPICS", site_id="GNOTOPICS-P1")
    answer = gateway.post("machine_status", [record], headers={"X-API-Key": key})
    assert answer.status_code == 409
    assert "sangsaeng suppliers add GNOTOPICS" in answer.json()["detail"]
    assert gateway.pool.client("GNOTOPICS").pending() == 0
