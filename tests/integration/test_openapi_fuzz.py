"""Schemathesis over the gateway's and the registry's OpenAPI documents: requests
generated from what each service publishes never get a 5xx, and every answer matches
its documented status codes, content types and schemas. Bounded (a few dozen examples
per operation) to stay within a couple of minutes; both apps are called in-process on
real SQLite, the gateway's clients spooling with no broker in reach."""

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connectors.gateway.app import create_app as create_gateway
from connectors.gateway.forwarder import ClientPool
from connectors.sdk import SupplierClient
from governance.parties import Parties
from schemas.registry.app import create_app as create_registry
from schemas.registry.auth import Credentials, Role
from schemas.registry.store import RegistryStore
from tests.support import offline_client, upgraded_engine

pytestmark = pytest.mark.integration

# What the services promise: no 5xx, and every answer as documented. Not "every
# schema-valid request is accepted": a registry request can be valid JSON Schema and
# still not Avro, which only the registry itself can tell.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,  # the same examples on every machine and run
    derandomize=True,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("openapi-fuzz")


@pytest.fixture(scope="module")
def registry_app(folder: Path) -> Iterator[tuple[object, tuple[str, str]]]:
    engine = upgraded_engine(f"sqlite:///{folder / 'registry.db'}")
    credentials = Credentials(engine)
    auth = ("fuzzer", credentials.add_user("fuzzer", role=Role.ADMIN))
    yield create_registry(RegistryStore(engine), credentials), auth
    engine.dispose()


@pytest.fixture(scope="module")
def gateway_app(folder: Path) -> Iterator[tuple[object, str]]:
    engine = upgraded_engine(f"sqlite:///{folder / 'gateway.db'}")
    parties = Parties(engine)
    parties.add_supplier("S0001", "Alpha Stamping", "auto parts")
    clients: list[SupplierClient] = []

    def make(supplier_id: str) -> SupplierClient:
        client = offline_client(
            supplier_id,
            spool_path=folder / "spool" / f"{supplier_id}.db",
        )
        clients.append(client)
        return client

    app = create_gateway(parties, ClientPool(make), rate_per_second=1e6)
    yield app, parties.issue_key("S0001")
    for client in clients:
        client.close()
    engine.dispose()


def _fuzz(app: object, headers: dict[str, str]) -> int:
    """Every operation of `app`'s OpenAPI document, each with generated requests; returns
    how many operations ran. A failure names the operation and the request."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ran = 0
    for found in schema.get_all_operations():
        operation = found.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def check(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
        ran += 1
    return ran


def test_registry_answers_as_documented(registry_app) -> None:
    app, (user, password) = registry_app
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert _fuzz(app, {"Authorization": f"Basic {token}"}) >= 20


def test_gateway_answers_as_documented(gateway_app) -> None:
    app, key = gateway_app
    assert _fuzz(app, {"X-API-Key": key}) >= 2
