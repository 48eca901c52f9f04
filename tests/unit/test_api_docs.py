"""API docs that work on a factory network, and OpenAPI schemas that say what the apps do.

`/docs` and `/redoc` of the registry and the gateway reference only their own origin;
the gateway documents each event type's body (checked against the Avro contracts) and
its `X-API-Key`; the registry documents, per endpoint, the Confluent error codes it
really answers with (each one provoked here). No broker, no network: TestClient, SQLite.
"""

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from connectors.gateway.app import create_app as create_gateway
from connectors.gateway.forwarder import ClientPool
from connectors.onboarding import SupplierRow, Suppliers
from connectors.sdk import SupplierClient
from sangsaeng.db import make_engine
from schemas.registry.app import create_app as create_registry
from schemas.registry.auth import Credentials
from schemas.registry.client import RegistryClient
from schemas.registry.store import RegistryStore

pytestmark = pytest.mark.unit

INGEST = "/v1/events/{event_type}"
MAX_BODY = 4096


class Registry:
    def __init__(self, tmp_path) -> None:
        self.engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
        self.store = RegistryStore(self.engine)
        credentials = Credentials(self.engine)
        self.auth = ("writer", credentials.add_user("writer"))
        self.app = create_registry(self.store, credentials, max_body_bytes=MAX_BODY)
        self.http = TestClient(self.app)


class Gateway:
    def __init__(self, tmp_path) -> None:
        self.engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
        suppliers = Suppliers(self.engine)
        with Session(self.engine) as session, session.begin():
            session.add(SupplierRow(supplier_id="S0001", name="Alpha Stamping", sector="auto"))
        self.clients: list[SupplierClient] = []

        def make(supplier_id: str) -> SupplierClient:
            # Accepting only spools: neither broker nor registry is contacted.
            client = SupplierClient(
                supplier_id,
                bootstrap="127.0.0.1:1",
                registry=RegistryClient("http://127.0.0.1:1"),
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
