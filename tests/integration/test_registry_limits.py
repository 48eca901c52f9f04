"""The registry's schema limits (size, field count, nesting depth), over HTTP on a real server.

Register, lookup and the compatibility tests refuse a schema over a limit with 42201
naming the limit; whatever registers, every read endpoint returns (records nested ~90
deep used to register and then 500 on `/schemas/ids/{id}/schema`); and a stored schema
over the limits (from before them) is still readable.
"""

import hashlib
import itertools
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from schemas.registry.compatibility import canonical, parse_avro
from schemas.registry.limits import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_JSON_DEPTH,
    MAX_SCHEMA_BYTES,
)
from schemas.registry.models import SchemaRow, SubjectVersionRow

pytestmark = pytest.mark.integration

SMALL = json.dumps({"type": "record", "name": "Small", "fields": [{"name": "a", "type": "long"}]})


def nested(depth: int, fields: int = 1, *, nullable: bool = False) -> str:
    """Records nested `depth` deep (each holds the next); the innermost has `fields` longs,
    so `depth - 1 + fields` fields in all. `nullable`: each inner record in a union."""
    schema: dict = {
        "type": "record",
        "name": f"R{depth}",
        "namespace": "io.test.limits",
        "fields": [{"name": f"x{i}", "type": "long"} for i in range(fields)],
    }
    for level in range(depth - 1, 0, -1):
        inner = ["null", schema] if nullable else schema
        field = {"name": "inner", "type": inner} | ({"default": None} if nullable else {})
        schema = {"type": "record", "name": f"R{level}", "fields": [field]}
    return json.dumps(schema)


def padded(size: int) -> str:
    """A valid schema of exactly `size` bytes of text (a long doc)."""
    base = json.dumps({"type": "record", "name": "Padded", "doc": "", "fields": []})
    return base.replace('"doc": ""', '"doc": "' + "x" * (size - len(base)) + '"')


class Api:
    def __init__(self, registry) -> None:
        self.http = httpx.Client(base_url=registry.url, auth=registry.auth, timeout=60)

    def register(self, subject: str, schema: str) -> httpx.Response:
        return self.http.post(f"/subjects/{subject}/versions", json={"schema": schema})

    def schema_endpoints(self, subject: str, schema: str) -> dict[str, httpx.Response]:
        """Every endpoint that takes a schema in its body."""
        body = {"schema": schema}
        return {
            "register": self.register(subject, schema),
            "lookup": self.http.post(f"/subjects/{subject}", json=body),
            "test one": self.http.post(
                f"/compatibility/subjects/{subject}/versions/latest", json=body
            ),
            "test all": self.http.post(f"/compatibility/subjects/{subject}/versions", json=body),
        }

    def reads(self, subject: str, schema_id: int, version: int) -> str:
        """The schema from every read endpoint (all 200, all the same); its text."""
        http = self.http
        answers = {
            "by id": http.get(f"/schemas/ids/{schema_id}"),
            "by id, schema": http.get(f"/schemas/ids/{schema_id}/schema"),
            "by id, versions": http.get(f"/schemas/ids/{schema_id}/versions"),
            "by id, subjects": http.get(f"/schemas/ids/{schema_id}/subjects"),
            "version": http.get(f"/subjects/{subject}/versions/{version}"),
            "latest": http.get(f"/subjects/{subject}/versions/latest"),
            "version, schema": http.get(f"/subjects/{subject}/versions/{version}/schema"),
            "versions": http.get(f"/subjects/{subject}/versions"),
        }
        for what, response in answers.items():
            assert response.status_code == 200, (what, response.text[:300])
        text = answers["by id"].json()["schema"]
        assert answers["version"].json()["schema"] == text
        assert answers["version"].json()["id"] == schema_id
        assert json.loads(answers["by id, schema"].text) == json.loads(text)
        assert answers["version, schema"].text == answers["by id, schema"].text
        assert {"subject": subject, "version": version} in answers["by id, versions"].json()
        assert subject in answers["by id, subjects"].json()
        return text


@pytest.fixture
def api(registry) -> Api:
    return Api(registry)


def refused(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 422, response.text[:300]
    body = response.json()
    assert body["error_code"] == 42201, body
    for word in words:
        assert word in body["message"], (word, body["message"])
    return body["message"]


def assert_round_trip(api: Api, subject: str, schema: str) -> None:
    """`schema` registers under `subject`, reads back the same everywhere, is found and tests."""
    registered = api.register(subject, schema)
    assert registered.status_code == 200, registered.text[:300]
    found = registered.json()
    text = api.reads(subject, found["id"], found["version"])
    assert json.loads(text) == json.loads(canonical(parse_avro(schema)))
    for what, response in api.schema_endpoints(subject, schema).items():
        assert response.status_code == 200, (what, response.text[:300])
    assert (
        api.http.post(f"/subjects/{subject}", json={"schema": schema}).json()["id"] == found["id"]
    )


# -- at the limits: registers and reads ------------------------------------------------------


def test_the_deepest_allowed_schema_registers_and_every_read_returns_it(api: Api):
    deepest = nested(MAX_DEPTH, nullable=True)  # a union at each level: the most JSON depth
    assert_round_trip(api, "deepest", deepest)
    # A second version compares with the stored deepest one (parsed again, no 500).
    wider = json.loads(deepest)
    wider["fields"].append({"name": "extra", "type": ["null", "long"], "default": None})
    second = api.register("deepest", json.dumps(wider))
    assert second.status_code == 200, second.text[:300]
    api.reads("deepest", second.json()["id"], 2)


def test_the_most_fields_allowed_register_and_every_read_returns_them(api: Api):
    assert_round_trip(api, "widest", nested(3, fields=MAX_FIELDS - 2))


def test_the_largest_schema_text_allowed_registers(api: Api):
    largest = padded(MAX_SCHEMA_BYTES)
    assert len(largest.encode()) == MAX_SCHEMA_BYTES
    assert len(json.dumps({"schema": largest}).encode()) <= MAX_BODY_BYTES
    assert_round_trip(api, "largest", largest)


# -- over a limit: 422 on every endpoint that takes a schema ----------------------------------


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        (
            nested(MAX_DEPTH + 1),
            ["nesting depth", f"is {MAX_DEPTH + 1}", f"{MAX_DEPTH}", "flatten"],
        ),
        (nested(90), ["nesting depth", f"is {MAX_DEPTH + 1}", "flatten"]),  # the old 500
        (
            nested(3, fields=MAX_FIELDS - 1),
            ["field count", f"is {MAX_FIELDS + 1}", f"{MAX_FIELDS}", "split"],
        ),
        (padded(MAX_SCHEMA_BYTES + 1), ["size", f"{MAX_SCHEMA_BYTES + 1}", f"{MAX_SCHEMA_BYTES}"]),
        (
            # Nesting hidden in a custom property: JSON depth, not records.
            json.dumps(
                {
                    "type": "record",
                    "name": "Deep",
                    "fields": [],
                    "meta": json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH),
                }
            ),
            ["JSON nesting depth", f"is {MAX_JSON_DEPTH + 1}", f"{MAX_JSON_DEPTH}"],
        ),
        (
            # Arrays and maps count as levels too.
            json.dumps(
                json.loads(
                    '{"type": "array", "items": {"type": "map", "values": ' * 17
                    + '"long"'
                    + "}}" * 17
                )
            ),
            ["nesting depth", f"is {MAX_DEPTH + 1}"],
        ),
    ],
    ids=["depth+1", "depth 90", "fields+1", "bytes+1", "json depth+1", "arrays and maps"],
)
def test_a_schema_over_a_limit_is_refused_with_the_limit_named(api: Api, schema, words):
    assert api.register("limited", SMALL).status_code == 200  # the subject exists
    for what, response in api.schema_endpoints("limited", schema).items():
        message = refused(response, *words)
        assert "limit" in message, (what, message)
    assert api.http.get("/subjects/limited/versions").json() == [1]


def test_a_body_over_the_body_limit_is_413_before_parsing(api: Api):
    response = api.http.post(
        "/subjects/big/versions",
        content=b'{"schema": "' + b"x" * MAX_BODY_BYTES + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error_code"] == 413


# -- stored before the limits: still readable ---------------------------------------------------


def store_directly(registry, subject: str, schema_text: str) -> int:
    """Put a schema in the registry's tables as version 1 of `subject`, bypassing the API."""
    with Session(registry.engine) as session, session.begin():
        row = SchemaRow(
            fingerprint=hashlib.sha256(schema_text.encode()).hexdigest(),
            schema_type="AVRO",
            schema_text=schema_text,
        )
        session.add(row)
        session.flush()
        session.add(SubjectVersionRow(subject=subject, version=1, schema_id=row.id))
        return row.id


@pytest.mark.parametrize("depth", [100, 200])  # 100: parsable; 200: beyond the parsers
def test_a_stored_schema_over_the_limits_is_readable_and_never_a_500(registry, api: Api, depth):
    text = json.dumps(json.loads(nested(depth)), separators=(",", ":"))
    schema_id = store_directly(registry, "legacy", text)
    assert api.reads("legacy", schema_id, 1) == text
    # A client sending it again is told about the limit, not answered 500.
    for response in api.schema_endpoints("legacy", nested(depth)).values():
        refused(response, "nesting depth")
    # A new schema within the limits compares with it: an answer or a clear 42201.
    for what, response in api.schema_endpoints("legacy", SMALL).items():
        assert response.status_code < 500, (what, response.text[:300])
        if response.status_code == 422:
            refused(response, "version 1", "stored")


# -- the property: 422 exactly when over a limit, else a full round trip ---------------------

_subjects = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    depth=st.integers(1, MAX_DEPTH + 8),
    fields=st.integers(1, 40) | st.integers(MAX_FIELDS - 50, MAX_FIELDS + 10),
    nullable=st.booleans(),
)
def test_refused_exactly_when_over_a_limit_otherwise_readable(
    shared_registry, depth, fields, nullable
):
    api = Api(shared_registry)
    schema = nested(depth, fields=fields, nullable=nullable)
    subject = f"prop-{next(_subjects)}"
    total = depth - 1 + fields
    if depth > MAX_DEPTH or total > MAX_FIELDS:
        for response in api.schema_endpoints(subject, schema).values():
            refused(response, "nesting depth" if depth > MAX_DEPTH else "field count")
    else:
        assert_round_trip(api, subject, schema)


# -- named types: depth counted through references ---------------------------------------------


def chain(length: int, *, holder: str = "defs") -> str:
    """Records declared side by side, R2 holding R1 by name, ..., R{length} holding the one
    before: no record nested in another in the JSON (its depth is 2), yet `length` deep
    once names are followed, as the compatibility check follows them. A record `Top` has
    them in a union field `holder` and the last in a field of its own."""
    records: list[dict] = [
        {"type": "record", "name": "R1", "fields": [{"name": "x", "type": "long"}]}
    ]
    for i in range(2, length + 1):
        # By full name and by short name, both resolved in the namespace.
        ref = f"io.test.limits.R{i - 1}" if i % 2 else f"R{i - 1}"
        records.append({"type": "record", "name": f"R{i}", "fields": [{"name": "p", "type": ref}]})
    return json.dumps(
        {
            "type": "record",
            "name": "Top",
            "namespace": "io.test.limits",
            "fields": [
                {"name": holder, "type": ["null", *records], "default": None},
                {"name": "last", "type": f"R{length}"},
            ],
        }
    )


def recursive(kind: str) -> str:
    """Legal recursive schemas: a list referring to itself, two records to each other."""
    if kind == "self":
        return json.dumps(
            {
                "type": "record",
                "name": "Node",
                "fields": [
                    {"name": "value", "type": "long"},
                    {"name": "next", "type": ["null", "Node"], "default": None},
                ],
            }
        )
    return json.dumps(
        {
            "type": "record",
            "name": "Tree",
            "namespace": "io.test.limits",
            "fields": [
                {
                    "name": "children",
                    "type": {
                        "type": "array",
                        "items": {
                            "type": "record",
                            "name": "Branch",
                            "fields": [{"name": "tree", "type": ["null", "io.test.limits.Tree"]}],
                        },
                    },
                },
                {"name": "first", "type": ["null", "Branch"], "default": None},
            ],
        }
    )


def test_a_chain_of_named_records_over_the_depth_is_refused_everywhere(api: Api):
    assert api.register("chained", SMALL).status_code == 200
    for length in (MAX_DEPTH, 500):  # Top + MAX_DEPTH records: one over
        for what, response in api.schema_endpoints("chained", chain(length)).items():
            message = refused(response, "nesting depth", f"{MAX_DEPTH}", "named")
            assert "limit" in message, (what, message)
    assert api.http.get("/subjects/chained/versions").json() == [1]


def test_a_chain_of_named_records_within_the_depth_registers_and_evolves(api: Api):
    assert_round_trip(api, "short-chain", chain(MAX_DEPTH - 1))
    second = api.register("short-chain", chain(MAX_DEPTH - 1, holder="renamed"))
    assert second.status_code == 200, second.text[:300]
    api.reads("short-chain", second.json()["id"], 2)


@pytest.mark.parametrize("kind", ["self", "mutual"])
def test_recursive_named_types_stay_allowed(api: Api, kind):
    assert_round_trip(api, f"recursive-{kind}", recursive(kind))


def test_a_stored_chain_from_before_the_limit_is_readable_and_compared_without_a_500(
    registry, api: Api
):
    text = canonical(parse_avro(chain(500), stored=True))
    schema_id = store_directly(registry, "legacy-chain", text)
    assert api.reads("legacy-chain", schema_id, 1) == text
    # A new version the checker must follow the whole chain for: a clear 42201, not 500.
    within = chain(MAX_DEPTH - 1, holder="renamed")
    for what, response in api.schema_endpoints("legacy-chain", within).items():
        assert response.status_code < 500, (what, response.text[:300])
    # The stored chain is 500 deep: comparing it reaches the parser's recursion.
    stored_like = json.loads(text)
    stored_like["fields"][0]["name"] = "renamed"
    for response in api.schema_endpoints("legacy-chain", json.dumps(stored_like)).values():
        refused(response, "nesting depth", "named")


def cycle(length: int, prefix: str) -> str:
    """`length` records named N nested in one another (namespaces p1..p{length}), the
    innermost holding the outermost: recursive, within the limits."""
    node: dict = {
        "type": "record",
        "name": "N",
        "namespace": f"{prefix}{length}",
        "fields": [{"name": "f", "type": ["null", f"{prefix}1.N"], "default": None}],
    }
    for i in range(length - 1, 0, -1):
        field = {"name": "f", "type": ["null", node], "default": None}
        node = {"type": "record", "name": "N", "namespace": f"{prefix}{i}", "fields": [field]}
    return json.dumps(node)


def test_cycles_the_checker_cannot_follow_are_a_clear_422_never_a_500(api: Api):
    # Each within the limits; compared, the two cycles pair up for 31 * 30 steps.
    assert api.register("cycles", cycle(31, "a")).status_code == 200
    endpoints = api.schema_endpoints("cycles", cycle(30, "b"))
    for what in ("register", "test one", "test all"):
        refused(endpoints[what], "too deeply nested to compare", "NONE")
    assert endpoints["lookup"].status_code == 404  # no comparison: not registered
    assert api.http.get("/subjects/cycles/versions").json() == [1]
