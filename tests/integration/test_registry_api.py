"""The registry's REST API over HTTP, on SQLite and PostgreSQL: every endpoint and error code."""

import json
import threading

import httpx
import pytest

from sangsaeng.db import make_engine
from schemas.registry import MEDIA_TYPE
from schemas.registry.app import create_app
from schemas.registry.auth import Credentials, Role
from schemas.registry.store import RegistryStore

pytestmark = pytest.mark.integration

SUBJECT = "io.test.Reading"


def record(fields: list[dict], name: str = "Reading") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "io.test", "fields": fields})


V1 = record([{"name": "a", "type": "long"}])
V2 = record(
    [{"name": "a", "type": "long"}, {"name": "b", "type": ["null", "string"], "default": None}]
)


class Api:
    def __init__(self, registry) -> None:
        self.http = httpx.Client(base_url=registry.url, auth=registry.auth, timeout=30)
        self.anon = httpx.Client(base_url=registry.url, timeout=30)

    def register(self, schema: str, subject: str = SUBJECT) -> httpx.Response:
        return self.http.post(f"/subjects/{subject}/versions", json={"schema": schema})

    def ok(self, response: httpx.Response) -> object:
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def api(registry) -> Api:
    return Api(registry)


def error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    return body["message"]


def test_register_is_idempotent_and_ids_are_shared_across_subjects(api: Api):
    first = api.ok(api.register(V1))
    assert first == {"id": first["id"], "version": 1}
    assert api.ok(api.register(V1)) == first  # same schema again: same id, no new version
    other = api.ok(api.register(V1, subject="other-subject"))
    assert other["id"] == first["id"] and other["version"] == 1
    second = api.ok(api.register(V2))
    assert second["version"] == 2 and second["id"] != first["id"]
    assert api.ok(api.http.get("/subjects")) == sorted([SUBJECT, "other-subject"])
    assert api.ok(api.http.get(f"/subjects/{SUBJECT}/versions")) == [1, 2]


def test_reads_by_subject_version_and_id(api: Api):
    sid = api.ok(api.register(V1))["id"]
    api.register(V2)
    for spec, version in (("1", 1), ("latest", 2), ("-1", 2)):
        got = api.ok(api.http.get(f"/subjects/{SUBJECT}/versions/{spec}"))
        assert got["subject"] == SUBJECT and got["version"] == version
    raw = api.ok(api.http.get(f"/subjects/{SUBJECT}/versions/1/schema"))
    assert raw["fields"] == [{"name": "a", "type": "long"}]
    assert json.loads(api.ok(api.http.get(f"/schemas/ids/{sid}"))["schema"]) == json.loads(
        api.ok(api.http.get(f"/subjects/{SUBJECT}/versions/1"))["schema"]
    )
    assert api.ok(api.http.get(f"/schemas/ids/{sid}/schema"))["name"] == "Reading"
    assert api.ok(api.http.get(f"/schemas/ids/{sid}/versions")) == [
        {"subject": SUBJECT, "version": 1}
    ]
    assert api.ok(api.http.get(f"/schemas/ids/{sid}/subjects")) == [SUBJECT]
    found = api.ok(api.http.post(f"/subjects/{SUBJECT}", json={"schema": V1}))
    assert (found["id"], found["version"]) == (sid, 1)
    assert api.ok(api.http.get("/schemas/types")) == ["AVRO"]
    assert api.ok(api.http.get("/mode")) == {"mode": "READWRITE"}


def test_content_types_confluent_and_plain_json(api: Api):
    response = api.http.post(
        f"/subjects/{SUBJECT}/versions",
        content=json.dumps({"schema": V1}),
        headers={"Content-Type": MEDIA_TYPE},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    response = api.http.post(
        f"/subjects/{SUBJECT}",
        content=json.dumps({"schema": V1}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200


def test_not_found_codes(api: Api):
    error(api.http.get("/subjects/nope/versions"), 404, 40401)
    error(api.http.post("/subjects/nope", json={"schema": V1}), 404, 40401)
    api.register(V1)
    error(api.http.get(f"/subjects/{SUBJECT}/versions/99"), 404, 40402)
    error(api.http.get("/schemas/ids/999999"), 404, 40403)
    error(api.http.post(f"/subjects/{SUBJECT}", json={"schema": V2}), 404, 40403)


@pytest.mark.parametrize("version", ["abc", "0", "-2", str(2**31), "1.5"])
def test_invalid_version_is_42202(api: Api, version: str):
    api.register(V1)
    error(api.http.get(f"/subjects/{SUBJECT}/versions/{version}"), 422, 42202)


@pytest.mark.parametrize(
    "schema",
    [
        "not json at all",
        '{"type": "record", "name": "R"}',  # no fields
        '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "lng"}]}',
        '{"type": "record", "name": "R", "fields": '
        '[{"name": "a", "type": "long", "default": "x"}]}',
        "[" * 50000 + "]" * 50000,  # deep nesting
    ],
)
def test_invalid_schema_is_42201_with_the_parsers_message(api: Api, schema: str):
    message = error(api.register(schema), 422, 42201)
    assert message.startswith("Invalid schema")
    assert api.ok(api.http.get("/subjects")) == []


def test_bad_requests_are_clear_4xx_never_5xx(api: Api):
    bad = api.http.post(
        f"/subjects/{SUBJECT}/versions",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    error(bad, 400, 400)
    error(api.http.post(f"/subjects/{SUBJECT}/versions", json={"schemaa": V1}), 422, 42201)
    error(
        api.http.post(
            f"/subjects/{SUBJECT}/versions", json={"schema": V1, "schemaType": "PROTOBUF"}
        ),
        422,
        42201,
    )
    error(
        api.http.post(
            f"/subjects/{SUBJECT}/versions", json={"schema": V1, "references": [{"name": "x"}]}
        ),
        422,
        42201,
    )
    huge = {"schema": record([{"name": "a", "type": "long", "doc": "x" * 2_000_000}])}
    error(api.http.post(f"/subjects/{SUBJECT}/versions", json=huge), 413, 413)
    for odd in ("%00null", "a%01b", "x" * 300, "%E2%80%8B%0A"):
        response = api.http.post(f"/subjects/{odd}/versions", json={"schema": V1})
        assert 400 <= response.status_code < 500, (odd, response.text)
        assert api.http.get(f"/subjects/{odd}/versions").status_code < 500
    error(api.http.get("/schemas/ids/99999999999999"), 422, 422)
    assert api.ok(api.http.get("/subjects")) == []
    # Unicode subjects that are printable are fine.
    assert api.register(V1, subject="공급사.생산").status_code == 200


def test_config_global_and_per_subject(api: Api):
    assert api.ok(api.http.get("/config")) == {"compatibilityLevel": "BACKWARD_TRANSITIVE"}
    assert api.ok(api.http.put("/config", json={"compatibility": "full"})) == {
        "compatibility": "FULL"
    }
    assert api.ok(api.http.get("/config"))["compatibilityLevel"] == "FULL"
    error(api.http.put("/config", json={"compatibility": "SIDEWAYS"}), 422, 42203)
    error(api.http.get(f"/config/{SUBJECT}"), 404, 40408)
    got = api.ok(api.http.get(f"/config/{SUBJECT}", params={"defaultToGlobal": "true"}))
    assert got == {"compatibilityLevel": "FULL"}
    api.ok(api.http.put(f"/config/{SUBJECT}", json={"compatibility": "NONE"}))
    assert api.ok(api.http.get(f"/config/{SUBJECT}")) == {"compatibilityLevel": "NONE"}
    assert api.ok(api.http.delete(f"/config/{SUBJECT}")) == {"compatibilityLevel": "NONE"}
    error(api.http.delete(f"/config/{SUBJECT}"), 404, 40401)


def test_soft_then_permanent_deletes(api: Api):
    first = api.ok(api.register(V1))["id"]
    api.register(V2)
    error(
        api.http.delete(f"/subjects/{SUBJECT}/versions/1", params={"permanent": "true"}), 404, 40407
    )
    assert api.ok(api.http.delete(f"/subjects/{SUBJECT}/versions/1")) == 1
    error(api.http.get(f"/subjects/{SUBJECT}/versions/1"), 404, 40402)
    assert api.ok(api.http.get(f"/subjects/{SUBJECT}/versions")) == [2]
    assert api.ok(api.http.get(f"/subjects/{SUBJECT}/versions", params={"deleted": "true"})) == [
        1,
        2,
    ]
    assert (
        api.ok(api.http.get(f"/subjects/{SUBJECT}/versions/1", params={"deleted": "true"}))[
            "version"
        ]
        == 1
    )
    assert (
        api.ok(api.http.delete(f"/subjects/{SUBJECT}/versions/1", params={"permanent": "true"}))
        == 1
    )

    error(api.http.delete(f"/subjects/{SUBJECT}", params={"permanent": "true"}), 404, 40405)
    assert api.ok(api.http.delete(f"/subjects/{SUBJECT}")) == [2]
    error(api.http.delete(f"/subjects/{SUBJECT}"), 404, 40404)
    assert api.ok(api.http.get("/subjects")) == []
    assert api.ok(api.http.get("/subjects", params={"deleted": "true"})) == [SUBJECT]
    assert api.ok(api.http.delete(f"/subjects/{SUBJECT}", params={"permanent": "true"})) == [2]
    error(api.http.get(f"/subjects/{SUBJECT}/versions", params={"deleted": "true"}), 404, 40401)

    # Ids outlive their subjects and are never handed out again.
    assert api.ok(api.http.get(f"/schemas/ids/{first}"))["schema"]
    new = api.ok(api.register(record([{"name": "z", "type": "int"}])))
    assert new["id"] > first and new["version"] == 1


def test_writes_need_credentials_and_change_nothing_without(api: Api, registry):
    for response in (
        api.anon.post(f"/subjects/{SUBJECT}/versions", json={"schema": V1}),
        httpx.post(
            f"{registry.url}/subjects/{SUBJECT}/versions",
            json={"schema": V1},
            auth=("tester", "wrong"),
        ),
        api.anon.put("/config", json={"compatibility": "NONE"}),
        api.anon.delete(f"/subjects/{SUBJECT}"),
    ):
        error(response, 401, 40101)
        assert response.headers["www-authenticate"].startswith("Basic")
    assert api.ok(api.http.get("/subjects")) == []
    assert api.ok(api.http.get("/config"))["compatibilityLevel"] == "BACKWARD_TRANSITIVE"


def test_compatibility_endpoint_verbose(api: Api):
    api.register(V1)
    breaking = record([{"name": "a", "type": "string"}])
    url = f"/compatibility/subjects/{SUBJECT}/versions"
    assert api.ok(api.http.post(f"{url}/latest", json={"schema": V2})) == {"is_compatible": True}
    answer = api.ok(
        api.http.post(f"{url}/1", json={"schema": breaking}, params={"verbose": "true"})
    )
    assert answer["is_compatible"] is False
    assert any("TYPE_MISMATCH" in m for m in answer["messages"])
    assert api.ok(api.http.post(url, json={"schema": breaking}))["is_compatible"] is False
    error(
        api.http.post("/compatibility/subjects/nope/versions/latest", json={"schema": V1}),
        404,
        40401,
    )
    error(api.http.post(f"{url}/7", json={"schema": V1}), 404, 40402)


def test_state_survives_a_registry_restart(db_url: str):
    from tests.conftest import RunningRegistry

    first = RunningRegistry(db_url)
    try:
        api = Api(first)
        ids = [api.ok(api.register(V1))["id"], api.ok(api.register(V2))["id"]]
        api.ok(api.http.put(f"/config/{SUBJECT}", json={"compatibility": "FULL"}))
    finally:
        first.stop()
    second = RunningRegistry(db_url)
    try:
        api = Api(second)
        assert api.ok(api.http.get(f"/subjects/{SUBJECT}/versions")) == [1, 2]
        assert api.ok(api.http.get(f"/subjects/{SUBJECT}/versions/latest"))["id"] == ids[1]
        assert api.ok(api.http.get(f"/config/{SUBJECT}"))["compatibilityLevel"] == "FULL"
        third = api.ok(api.register(record([{"name": "q", "type": "int"}], name="Other"), "other"))
        assert third["id"] > max(ids)
    finally:
        second.stop()


def test_concurrent_registrations_of_one_schema_yield_one_id(db_url: str):
    # Two stores on one database stand for two registry processes.
    engines = [make_engine(db_url), make_engine(db_url)]
    stores = [RegistryStore(e) for e in engines]
    results: list[tuple[int, int]] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(8)

    def go(store: RegistryStore) -> None:
        try:
            barrier.wait()
            found = store.register(SUBJECT, V1)
            results.append((found.id, found.version))
        except BaseException as exc:  # recorded, then asserted on
            failures.append(exc)

    threads = [threading.Thread(target=go, args=(stores[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert len(set(results)) == 1
    assert stores[0].versions(SUBJECT) == [1]
    for engine in engines:
        engine.dispose()


def test_openapi_is_served(registry):
    spec = httpx.get(f"{registry.url}/openapi.json").json()
    assert "/subjects/{subject}/versions" in spec["paths"]
    assert httpx.get(f"{registry.url}/docs").status_code == 200


def test_app_factory_refuses_bodies_over_its_limit(db_url: str):
    from starlette.testclient import TestClient

    engine = make_engine(db_url)
    credentials = Credentials(engine)
    password = credentials.add_user("u", role=Role.ADMIN)
    app = create_app(RegistryStore(engine), credentials, max_body_bytes=100)
    with TestClient(app) as client:
        response = client.post(
            f"/subjects/{SUBJECT}/versions", json={"schema": V2}, auth=("u", password)
        )
        assert response.status_code == 413
    engine.dispose()
