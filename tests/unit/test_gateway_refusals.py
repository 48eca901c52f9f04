"""The gateway answers records the platform cannot carry with 422 (or 400), naming the field.

Regression tests for the reproductions of "No record can stop the platform": each bad
record was answered 202 and then broke ingest or the spool. Now it is refused, the
good records of the same batch are still accepted, and nothing is ever a 5xx.
"""

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from connectors.gateway.app import create_app
from connectors.gateway.forwarder import ClientPool
from connectors.sdk import SupplierClient
from tests.support import offline_client

pytestmark = pytest.mark.unit

KEY = "ssk_test"


class OneSupplier:
    """The parties as the gateway asks them: which supplier holds a key."""

    def supplier_for_key(self, key: str | None) -> str | None:
        return "S0001" if key == KEY else None


class Gateway:
    def __init__(self, tmp_path) -> None:
        # No broker at 127.0.0.1:1: the client accepts into its spool (store and forward).
        self.clients: list[SupplierClient] = []

        def make(supplier_id: str) -> SupplierClient:
            client = offline_client(
                supplier_id,
                spool_path=tmp_path / f"{supplier_id}.db",
            )
            self.clients.append(client)
            return client

        self.http = TestClient(
            create_app(OneSupplier(), ClientPool(make), rate_per_second=10_000),
            raise_server_exceptions=False,  # a 500 must show as a 500, not as an exception
        )

    def post(self, event_type: str, body: bytes | object) -> object:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.http.post(
            f"/v1/events/{event_type}",
            content=content,
            headers={"X-API-Key": KEY, "Content-Type": "application/json"},
        )

    def spooled(self) -> int:
        return sum(c.pending() for c in self.clients)


@pytest.fixture
def gateway(tmp_path) -> Iterator[Gateway]:
    gw = Gateway(tmp_path)
    yield gw
    for client in gw.clients:
        client.close()


def production(**overrides) -> dict:
    return {
        "site_id": "S0001-P1",
        "source_system": "mes",
        "line_id": "L1",
        "work_order_id": "WO-1",
        "part_number": "P-1",
        "lot_id": "LOT-1",
        "quantity_good": 950,
        "quantity_scrap": 12,
        "unit": "H87",
        "start_time": "2026-03-02T08:00:00+09:00",
        "end_time": "2026-03-02T09:00:00+09:00",
        **overrides,
    }


def raw(template: dict, field: str, literal: str) -> bytes:
    """A JSON body with `field` set to `literal` as written (NaN, 1e400, ...)."""
    return json.dumps({**template, field: "@@"}).replace('"@@"', literal).encode()


@pytest.mark.parametrize(
    ("field", "literal", "words"),
    [
        ("event_time", "253402300800000", "outside the times"),  # year 10000
        ("event_time", "9e18", "outside the times"),
        ("event_time", '"1999-12-31T23:59:59Z"', "outside the times"),
        ("quantity_good", "NaN", "NaN is not a number"),
        ("quantity_good", "Infinity", "infinity"),
        ("quantity_good", "-Infinity", "-infinity"),
        ("quantity_good", "1e400", "infinity"),
        ("quantity_good", "true", "boolean"),
        ("planned_quantity", "NaN", "send null"),
        ("lot_id", '"a\\u0000b"', "NUL character"),
        ("lot_id", '"\\ud800"', "unpaired surrogate"),
    ],
)
def test_a_record_the_platform_cannot_carry_is_422_naming_the_field(gateway, field, literal, words):
    answer = gateway.post("production", raw(production(), field, literal))
    assert answer.status_code == 422, answer.text
    [rejection] = answer.json()["rejected"]
    assert rejection["index"] == 0 and rejection["field"] == field
    assert words in rejection["reason"]
    assert gateway.spooled() == 0


def test_nested_fields_are_named_by_their_path(gateway):
    record = {
        "site_id": "S0001-P1",
        "source_system": "mes",
        "line_id": "L1",
        "part_number": "P-1",
        "lot_id": "LOT-1",
        "inspection_stage": "FINAL",
        "inspected_quantity": 200,
        "defect_quantity": 0,
        "measurements": [
            {"characteristic": "bore", "value": 8.0, "unit": "MMT"},
            {"characteristic": "bore", "value": 8.1, "unit": "MMT"},
            {"characteristic": "bore", "value": "@@", "unit": "MMT"},
        ],
        "result": "PASS",
    }
    body = json.dumps(record).replace('"@@"', "NaN").encode()
    answer = gateway.post("quality", body)
    assert answer.status_code == 422
    assert answer.json()["rejected"][0]["field"] == "measurements[2].value"


def test_the_good_records_of_a_batch_are_still_accepted(gateway):
    body = (
        b"["
        + json.dumps(production()).encode()
        + b","
        + raw(production(), "quantity_good", "NaN")
        + b","
        + raw(production(), "event_time", "253402300800000")
        + b","
        + raw(production(), "lot_id", '"a\\u0000b"')
        + b","
        + json.dumps(production(lot_id="LOT-2")).encode()
        + b"]"
    )
    answer = gateway.post("production", body)
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert len(result["accepted"]) == 2
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "quantity_good"),
        (2, "event_time"),
        (3, "lot_id"),
    ]
    assert gateway.spooled() == 2


def test_a_record_larger_than_its_topic_takes_is_refused_not_spooled(gateway):
    big = production(lot_id="x" * 1_100_000)  # a 1.1 MB string; the body limit is 5 MiB
    answer = gateway.post("production", [production(), big])
    assert answer.status_code == 202
    [rejection] = answer.json()["rejected"]
    assert rejection["index"] == 1 and rejection["field"] == "lot_id"
    assert "SANGSAENG_TOPIC_MAX_MESSAGE_BYTES" in rejection["reason"]
    assert gateway.spooled() == 1


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"lot_id": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        json.dumps([production(lot_id=[[[["deep"]]]])]).encode(),
    ],
    ids=["100k-open", "100k-balanced", "deep-field", "five-deep"],
)
def test_json_nested_deeper_than_any_event_is_400_never_500(gateway, body):
    answer = gateway.post("production", body)
    assert answer.status_code == 400, answer.text[:300]
    assert "deep" in answer.json()["detail"] or "balance" in answer.json()["detail"]
    assert gateway.spooled() == 0


def test_a_deep_record_at_the_contracts_depth_is_a_record_level_refusal(gateway):
    # Four levels (a batch, a record, an array, a record) is what a quality batch has.
    answer = gateway.post("production", [production(lot_id=[{"a": 1}])])
    assert answer.status_code == 422
    assert answer.json()["rejected"][0]["field"] == "lot_id"
