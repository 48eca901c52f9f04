"""API docs that work on a factory network, and OpenAPI schemas that say what the apps do.

`/docs` and `/redoc` of the registry and the gateway reference only their own origin;
the gateway documents each event type's body (checked against the Avro contracts) and
its `X-API-Key`; the registry documents, per endpoint, the Confluent error codes it
really answers with (each one provoked here). No broker, no network: TestClient, SQLite.
"""

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from connectors.gateway.app import create_app as create_gateway
from connectors.gateway.forwarder import ClientPool
from connectors.gateway.openapi import EXAMPLES, FILLED_IF_ABSENT
from connectors.sdk import SupplierClient
from governance.parties import Parties
from schemas.contracts import contract
from schemas.registry import MEDIA_TYPE
from schemas.registry.app import create_app as create_registry
from schemas.registry.auth import Credentials, Role
from schemas.registry.errors import ERROR_CODES
from schemas.registry.store import RegistryStore
from schemas.registry.throttle import FailureThrottle
from schemas.topics import RECORDS, EventType
from tests.support import offline_client, upgraded_engine

pytestmark = pytest.mark.unit

INGEST = "/v1/events/{event_type}"
MAX_BODY = 4096


class Registry:
    def __init__(self, tmp_path) -> None:
        self.engine = upgraded_engine(f"sqlite:///{tmp_path / 'registry.db'}")
        self.store = RegistryStore(self.engine)
        # Three failures from one address throttle it: 42901 is provoked below.
        credentials = Credentials(self.engine, throttle=FailureThrottle(max_failures=3))
        self.auth = ("writer", credentials.add_user("writer", role=Role.ADMIN))
        self.read_only = ("reader", credentials.add_user("reader", role=Role.READ))
        self.app = create_registry(self.store, credentials, max_body_bytes=MAX_BODY)
        self.http = TestClient(self.app)


class Gateway:
    def __init__(self, tmp_path) -> None:
        self.engine = upgraded_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
        suppliers = Parties(self.engine)
        suppliers.add_supplier("S0001", "Alpha Stamping", "auto")
        self.clients: list[SupplierClient] = []

        def make(supplier_id: str) -> SupplierClient:
            # Accepting only spools: neither broker nor registry is contacted.
            client = offline_client(
                supplier_id,
                spool_path=tmp_path / f"{supplier_id}.db",
            )
            self.clients.append(client)
            return client

        self.app = create_gateway(suppliers, ClientPool(make))
        self.http = TestClient(self.app, headers={"X-API-Key": suppliers.issue_key("S0001")})

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def registry(tmp_path) -> Iterator[Registry]:
    made = Registry(tmp_path)
    yield made
    made.engine.dispose()


@pytest.fixture
def gateway(tmp_path) -> Iterator[Gateway]:
    made = Gateway(tmp_path)
    yield made
    made.close()
    made.engine.dispose()


@pytest.fixture(params=["registry", "gateway"])
def service(request, tmp_path) -> Iterator[FastAPI]:
    made = Registry(tmp_path) if request.param == "registry" else Gateway(tmp_path)
    yield made.app
    if isinstance(made, Gateway):
        made.close()
    made.engine.dispose()


# -- /docs and /redoc: only the service's own assets ----------------------------------


class References(HTMLParser):
    """Every URL an HTML page loads: src/href attributes, ReDoc's spec-url, and the
    quoted paths and URLs its inline scripts use."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.urls += re.findall(r"""['"]((?:/|https?:|//)[^'"\s]*)['"]""", data)


CONTENT_TYPES = {
    ".js": "javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_same_origin_assets(service: FastAPI, page: str):
    http = TestClient(service)
    answer = http.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert "cdn" not in html.lower()
    assert "http://" not in html and "https://" not in html
    found = References()
    found.feed(html)
    scripts = [u for u in found.urls if u.endswith(".js")]
    assert scripts, f"{page} loads no script: {found.urls}"
    assert "/openapi.json" in found.urls
    for url in found.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} loads {url} from elsewhere"
        assert url.startswith("/"), url
        asset = http.get(url)
        assert asset.status_code == 200, url
        assert asset.content, f"{url} is empty"
        suffix = "." + url.rsplit(".", 1)[-1] if "." in url.rsplit("/", 1)[-1] else ""
        expected = CONTENT_TYPES.get(suffix, "text/html")
        assert expected in asset.headers["content-type"], (url, asset.headers["content-type"])


def test_swagger_ui_does_not_call_the_online_validator(service: FastAPI):
    html = TestClient(service).get("/docs").text
    assert '"validatorUrl": null' in html


# -- the gateway's OpenAPI: bodies from the contracts, examples that pass them --------


def resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_gateway_declares_the_api_key_scheme_on_the_ingest_endpoint(gateway: Gateway):
    spec = gateway.http.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    name, scheme = next((n, s) for n, s in schemes.items() if s["type"] == "apiKey")
    assert scheme["in"] == "header" and scheme["name"] == "X-API-Key"
    assert {name: []} in spec["paths"][INGEST]["post"]["security"]


def ingest_body(spec: dict) -> dict:
    return spec["paths"][INGEST]["post"]["requestBody"]["content"]["application/json"]


def test_gateway_body_names_every_event_types_fields(gateway: Gateway):
    spec = gateway.http.get("/openapi.json").json()
    alternatives = ingest_body(spec)["schema"]["anyOf"]
    assert len(alternatives) == len(EventType)
    by_record = {}
    for alternative in alternatives:
        one, many = alternative["oneOf"]  # one event, or an array of them
        assert many["type"] == "array" and many["items"] == one
        by_record[one["$ref"].rsplit("/", 1)[-1]] = resolve(spec, one)
    assert set(by_record) == set(RECORDS.values())
    for event_type, record in RECORDS.items():
        properties = by_record[record]["properties"]
        assert list(properties) == [f["name"] for f in contract(event_type)["fields"]]
        for filled in FILLED_IF_ABSENT:
            assert filled not in by_record[record]["required"]
    some = {
        "ProductionEvent": ["quantity_good", "quantity_scrap", "work_order_id", "lot_id"],
        "QualityInspectionEvent": ["inspected_quantity", "defect_quantity", "defects"],
        "MachineStatusEvent": ["machine_id", "state", "reason_code"],
        "ShipmentEvent": ["shipment_id", "po_number", "promised_date", "lot_ids"],
        "EnergyReadingEvent": ["energy_kwh", "meter_id", "energy_source"],
    }
    for record, fields in some.items():
        assert set(fields) <= set(by_record[record]["properties"]), record
    defects = by_record["QualityInspectionEvent"]["properties"]["defects"]
    defect = resolve(spec, defects["items"])
    assert defect["properties"]["severity"]["enum"] == ["MINOR", "MAJOR", "CRITICAL"]
    machine = by_record["MachineStatusEvent"]["properties"]["state"]
    assert "DOWN" in machine["enum"]


def validator(spec: dict) -> jsonschema.Draft202012Validator:
    """Validates a body against the documented schema, its refs resolved in `spec`."""
    schema = {**ingest_body(spec)["schema"], "components": spec["components"]}
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_every_example_passes_the_contract_and_the_documented_schema(gateway: Gateway, tmp_path):
    spec = gateway.http.get("/openapi.json").json()
    examples = ingest_body(spec)["examples"]
    assert {e.value for e in EventType} <= set(examples)
    check = validator(spec)
    sdk = offline_client(
        "S0001",
        spool_path=tmp_path / "check.db",
    )
    try:
        for event_type in EventType:
            example = examples[event_type.value]["value"]
            assert example == EXAMPLES[event_type]
            check.validate(example)
            check.validate([example, example])
            # The SDK's check: coerce the JSON, then encode with the contract (strict).
            _, topic, _, event_id, body = sdk.prepare(event_type, example)
            assert topic == f"sup.S0001.{event_type.value}" and body
            assert event_id == example["event_id"]
    finally:
        sdk.close()


def test_documented_schema_and_contract_refuse_the_same_mistakes(gateway: Gateway):
    spec = gateway.http.get("/openapi.json").json()
    check = validator(spec)
    production = EXAMPLES[EventType.PRODUCTION]
    missing = {k: v for k, v in production.items() if k != "quantity_good"}
    bad = [
        ({**production, "quantity_goods": 1}, "quantity_goods"),
        (missing, "quantity_good"),
        ({**production, "event_time": "2026-03-02T16:00:05"}, "event_time"),
        ({**EXAMPLES[EventType.MACHINE_STATUS], "state": "EXPLODED"}, "state"),
    ]
    for record, field in bad:
        assert not check.is_valid(record), field
    event_types = ["production", "production", "production", "machine_status"]
    for (record, field), event_type in zip(bad, event_types, strict=True):
        answer = gateway.http.post(f"/v1/events/{event_type}", json=record)
        assert answer.status_code == 422, answer.text
        assert answer.json()["rejected"][0]["field"] == field
    assert not check.is_valid([])


def test_the_examples_are_accepted_by_the_gateway(gateway: Gateway):
    spec = gateway.http.get("/openapi.json").json()
    for name, example in ingest_body(spec)["examples"].items():
        event_type = name.split(" ", 1)[0]
        answer = gateway.http.post(f"/v1/events/{event_type}", json=example["value"])
        assert answer.status_code == 202, (name, answer.text)
        count = len(example["value"]) if isinstance(example["value"], list) else 1
        assert len(answer.json()["accepted"]) == count and answer.json()["rejected"] == []
    assert any(isinstance(e["value"], list) for e in ingest_body(spec)["examples"].values())


def test_gateway_still_refuses_a_missing_or_empty_key(gateway: Gateway):
    event = EXAMPLES[EventType.MACHINE_STATUS]
    for headers in ({"X-API-Key": ""}, {"X-API-Key": "ssk_wrong"}):
        answer = gateway.http.post("/v1/events/machine_status", json=event, headers=headers)
        assert answer.status_code == 401 and "X-API-Key" in answer.json()["detail"]
    bare = TestClient(gateway.app)
    assert bare.post("/v1/events/machine_status", json=event).status_code == 401


# -- the registry's OpenAPI: the error codes it really answers with -------------------

SUBJECT = "io.test.Reading"


def record(fields: list[dict]) -> str:
    return json.dumps(
        {"type": "record", "name": "Reading", "namespace": "io.test", "fields": fields}
    )


V1 = record([{"name": "a", "type": "long"}])
BREAKS_V1 = record([{"name": "a", "type": "long"}, {"name": "b", "type": "string"}])
OTHER = record([{"name": "z", "type": "double"}])


def test_registry_documents_error_bodies_and_basic_auth(registry: Registry):
    spec = registry.http.get("/openapi.json").json()
    body = spec["components"]["schemas"]["ErrorBody"]
    assert body["properties"]["error_code"]["type"] == "integer"
    assert body["properties"]["message"]["type"] == "string"
    assert set(body["required"]) == {"error_code", "message"}
    assert "HTTPValidationError" not in json.dumps(spec)  # 422s are Confluent bodies too
    documented: set[int] = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    content = response["content"][MEDIA_TYPE]
                    assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
                    for code, example in content["examples"].items():
                        assert ERROR_CODES[int(code)][0] == int(status), (path, method, code)
                        assert example["value"]["error_code"] == int(code)
                        documented.add(int(code))
    assert documented == set(ERROR_CODES)
    register = spec["paths"]["/subjects/{subject}/versions"]["post"]
    scheme = spec["components"]["securitySchemes"]["registryUser"]
    assert scheme == {**scheme, "type": "http", "scheme": "basic"}
    assert register["security"] == [{"registryUser": []}]
    assert spec["paths"]["/subjects"]["get"]["security"] == [{"registryUser": []}]
    assert "security" not in spec["paths"]["/"]["get"]  # the health check stays open


def test_every_documented_code_is_answered_where_documented(registry: Registry, monkeypatch):
    http, auth = registry.http, registry.auth
    spec = http.get("/openapi.json").json()
    seen: set[int] = set()

    def expect(answer, method: str, path: str, code: int) -> None:
        assert answer.json()["error_code"] == code, answer.text
        assert answer.headers["content-type"].startswith(MEDIA_TYPE)
        documented = spec["paths"][path][method]["responses"][str(answer.status_code)]
        assert str(code) in documented["content"][MEDIA_TYPE]["examples"], (method, path, code)
        seen.add(code)

    versions = "/subjects/{subject}/versions"
    url = f"/subjects/{SUBJECT}/versions"
    expect(http.post(url, json={"schema": V1}), "post", versions, 40101)
    bad_auth = {"Authorization": "Basic !!!"}
    expect(http.post(url, json={"schema": V1}, headers=bad_auth), "post", versions, 40101)
    json_type = {"Content-Type": "application/json"}
    expect(http.post(url, content=b"{nope", headers=json_type, auth=auth), "post", versions, 400)
    expect(http.post(url, json={"schema": "not avro"}, auth=auth), "post", versions, 42201)
    expect(http.post(url, json={}, auth=auth), "post", versions, 42201)
    expect(
        http.post(url, json={"schema": V1, "x": "y" * MAX_BODY}, auth=auth), "post", versions, 413
    )
    expect(
        http.post("/subjects/%01/versions", json={"schema": V1}, auth=auth), "post", versions, 42208
    )
    expect(
        http.post(url, params={"normalize": "perhaps"}, json={"schema": V1}, auth=auth),
        "post",
        versions,
        422,
    )
    assert http.post(url, json={"schema": V1}, auth=auth).status_code == 200
    expect(http.post(url, json={"schema": BREAKS_V1}, auth=auth), "post", versions, 409)

    lookup = "/subjects/{subject}"
    expect(
        http.post("/subjects/io.test.Nothing", json={"schema": V1}, auth=auth),
        "post",
        lookup,
        40401,
    )
    expect(
        http.post(f"/subjects/{SUBJECT}", json={"schema": OTHER}, auth=auth), "post", lookup, 40403
    )

    version = "/subjects/{subject}/versions/{version}"
    expect(http.get(f"{url}/7", auth=auth), "get", version, 40402)
    expect(http.get(f"{url}/seven", auth=auth), "get", version, 42202)
    expect(http.get("/schemas/ids/999", auth=auth), "get", "/schemas/ids/{schema_id}", 40403)
    expect(http.get("/schemas/ids/0", auth=auth), "get", "/schemas/ids/{schema_id}", 422)
    expect(http.get("/subjects", params={"deleted": "perhaps"}, auth=auth), "get", "/subjects", 422)

    subject = "/subjects/{subject}"
    one = f"/subjects/{SUBJECT}"
    expect(http.delete(one, params={"permanent": "true"}, auth=auth), "delete", subject, 40405)
    assert http.delete(one, auth=auth).status_code == 200
    expect(http.delete(one, auth=auth), "delete", subject, 40404)

    other = "/subjects/io.test.Other/versions"
    assert http.post(other, json={"schema": V1}, auth=auth).status_code == 200
    expect(
        http.delete(f"{other}/1", params={"permanent": "true"}, auth=auth),
        "delete",
        version,
        40407,
    )
    expect(http.get("/config/io.test.Other", auth=auth), "get", "/config/{subject}", 40408)
    expect(
        http.put("/config", json={"compatibility": "SOMETIMES"}, auth=auth), "put", "/config", 42203
    )

    def unavailable(**_):
        raise OperationalError("SELECT 1", {}, Exception("database is gone"))

    monkeypatch.setattr(registry.store, "subjects", unavailable)
    expect(http.get("/subjects", auth=auth), "get", "/subjects", 50302)
    reader = registry.read_only
    expect(http.post(url, json={"schema": V1}, auth=reader), "post", versions, 40301)
    expect(http.delete(one, auth=reader), "delete", subject, 40301)
    expect(http.get("/subjects"), "get", "/subjects", 40101)
    # The malformed header above was this address's first failure; two more throttle it.
    for _ in range(2):
        expect(http.get("/subjects", auth=("writer", "wrong")), "get", "/subjects", 40101)
    throttled = http.get("/subjects", auth=auth)  # the right password too, while throttled
    expect(throttled, "get", "/subjects", 42901)
    assert int(throttled.headers["retry-after"]) >= 1
    assert seen == set(ERROR_CODES), set(ERROR_CODES) - seen
