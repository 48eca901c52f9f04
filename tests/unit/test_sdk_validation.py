"""The SDK refuses bad events before anything leaves the process, naming the field."""

import uuid
from datetime import UTC, datetime

import pytest

from connectors.sdk import EventRejected, SpoolFull, SupplierClient
from schemas.registry.client import RegistryClient
from tests.support import offline_client

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


@pytest.fixture
def client(tmp_path):
    # Accepting needs neither broker nor registry: nothing here may touch the network.
    c = offline_client(
        "S0001",
        spool_path=tmp_path / "spool.db",
        max_spool_events=3,
        clock=lambda: NOW,  # event times are checked against the edge's clock
    )
    yield c
    c.close()


def machine(**overrides):
    return {
        "site_id": "S0001-P1",
        "source_system": "mes",
        "line_id": "L1",
        "machine_id": "M1",
        "state": "RUNNING",
        **overrides,
    }


def test_fills_event_id_time_and_supplier(client):
    event_id = client.send("machine_status", machine())
    assert uuid.UUID(event_id)
    assert client.pending() == 1
    [row] = client.spool.oldest(10)
    assert row.topic == "sup.S0001.machine_status" and row.key == b"S0001-P1/L1"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"state": "EXPLODED"}, "state", "EXPLODED"),
        ({"line_id": 7}, "line_id", "expected string"),
        ({"supplier_id": "S0002"}, "supplier_id", "not this client's supplier"),
        ({"event_id": "not-a-uuid"}, "event_id", "not a UUID"),
        ({"event_time": "2026-03-01T08:00:00"}, "event_time", "no time zone"),
        ({"event_time": "yesterday"}, "event_time", "not an ISO-8601 timestamp"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_rejections_name_the_field_and_what_was_expected(client, overrides, field, words):
    with pytest.raises(EventRejected) as caught:
        client.send("machine_status", machine(**overrides))
    assert caught.value.field == field
    assert words in str(caught.value)
    assert client.pending() == 0


def test_missing_required_field_is_named(client):
    event = machine()
    del event["machine_id"]
    with pytest.raises(EventRejected) as caught:
        client.send("machine_status", event)
    assert caught.value.field == "machine_id"


def test_unknown_event_type_and_non_objects(client):
    with pytest.raises(EventRejected, match="not one of"):
        client.send("gossip", machine())
    with pytest.raises(EventRejected, match="JSON object"):
        client.send("machine_status", ["not", "a", "record"])


def test_iso_strings_and_aware_datetimes_are_accepted(client):
    client.send("machine_status", machine(event_time="2026-03-01T08:00:00+09:00"))
    client.send("machine_status", machine(event_time=datetime(2026, 3, 1, tzinfo=UTC)))
    assert client.pending() == 2


def test_back_pressure_when_the_spool_is_full(client):
    client.send_many("machine_status", [machine(), machine()])
    client.send("machine_status", machine())
    with pytest.raises(SpoolFull, match="limit is 3"):
        client.send("machine_status", machine())
    assert client.pending() == 3


def test_bad_supplier_id_is_refused(tmp_path):
    with pytest.raises(Exception, match="supplier id"):
        SupplierClient(
            "S.01",
            bootstrap="x:1",
            registry=RegistryClient("http://127.0.0.1:1"),
            spool_path=tmp_path / "s.db",
        )
