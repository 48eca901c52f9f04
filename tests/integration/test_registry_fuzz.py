"""Fuzz: whatever a client sends, the registry answers 2xx or a clear 4xx, never a 5xx."""

import json
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import json_values

pytestmark = pytest.mark.integration

avro_ish = st.builds(
    lambda name, fields: json.dumps({"type": "record", "name": name, "fields": fields}),
    st.text(max_size=10),
    st.lists(st.fixed_dictionaries({"name": st.text(max_size=6), "type": json_values}), max_size=3),
)
bodies = (
    json_values.map(json.dumps)
    | st.builds(lambda s: json.dumps({"schema": s}), st.text() | avro_ish)
    | st.builds(lambda c: json.dumps({"compatibility": c}), json_values)
    | st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
)
segments = st.text(min_size=1, max_size=40).filter(lambda s: s not in (".", ".."))
routes = st.sampled_from(
    [
        ("POST", "/subjects/{}/versions"),
        ("POST", "/subjects/{}"),
        ("POST", "/compatibility/subjects/{}/versions/latest"),
        ("POST", "/compatibility/subjects/{}/versions"),
        ("PUT", "/config/{}"),
        ("PUT", "/config"),
        ("GET", "/subjects/{}/versions/{}"),
        ("GET", "/schemas/ids/{}"),
        ("DELETE", "/subjects/{}/versions/{}"),
        ("GET", "/config/{}"),
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=routes, segment=segments, body=bodies)
def test_no_request_gets_a_5xx(registry, route, segment, body):
    method, template = route
    path = template.format(*[quote(segment, safe="")] * 2)
    with httpx.Client(base_url=registry.url, auth=registry.auth, timeout=30) as client:
        response = client.request(
            method, path, content=body.encode(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code < 500, (method, path, body[:200], response.text[:300])
    # a refusal says why in Confluent's shape; a redirect (a path ending in a slash, e.g.
    # a subject "/") carries no body
    assert response.status_code < 400 or "error_code" in response.json()
