"""The ingest gateway's HTTP API: `POST /v1/events/{event_type}` with an API key.

One JSON event or a JSON array of them. Each record is checked against its contract
and against what the platform can carry (the SDK's `prepare`: finite numbers, sane
timestamps, no NUL, a size the topic takes); the good ones are committed to the
supplier's spool before the answer (202, with their ids), the bad ones are named by
index, field and reason (422 when none was good). A record naming another supplier
refuses the whole request (403), and so does a body that is not JSON or nests deeper
than any event can (400, found before parsing: a deep body would exhaust the parser's
recursion). Limits: records and bytes per request (413), requests per second per key
(429 with Retry-After), and requests with a missing or unknown key per client address
(`RefusedKeys`: 429 with Retry-After once an address has had `REFUSED_KEY_BURST` of them
answered 401, then one per `1 / REFUSED_KEY_RATE` seconds). A key is trusted for
`governance.parties.KEY_CACHE_SECONDS` after its look-up, so a revoked one is refused
within that time.
The OpenAPI schema shows each event type's body (from its Avro contract, with examples)
and the `X-API-Key` scheme; `/docs` and `/redoc` load their assets from the gateway.
"""

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from connectors.gateway.forwarder import ClientPool
from connectors.gateway.openapi import add_event_schemas, request_body
from connectors.sdk import SpoolFull
from connectors.sdk.coerce import max_event_depth
from connectors.sdk.limits import NotEventJSON, parse_json
from governance.parties import NotOnboarded, Parties
from sangsaeng import __version__
from sangsaeng.http import BodyLimit, service_app
from schemas.topics import EventType

# A body is one event or an array of them: one level more than the deepest contract.
MAX_JSON_DEPTH = 1 + max_event_depth()
DEPTH_HINT = (
    " (a batch of events holding arrays of records): send the events as their contracts have them"
)
# Requests with a missing or unknown X-API-Key, per client address: this many answered
# 401 in a burst, then one every 1 / REFUSED_KEY_RATE seconds; the others 429. Enough
# for an MES whose key was just revoked or mistyped to see the 401 and stop.
REFUSED_KEY_BURST = 10
REFUSED_KEY_RATE = 0.2  # per second
# Client addresses the limit remembers at most (the least recently refused go first).
REFUSED_KEY_ADDRESSES = 10_000


class Rejection(BaseModel):
    index: int = Field(description="Position of the record in the request (0 for a single one).")
    field: str | None = Field(description="The field at fault, when one is.")
    reason: str


class IngestResult(BaseModel):
    accepted: list[str] = Field(description="event_id of each accepted record, in order.")
    rejected: list[Rejection] = Field(default_factory=list)


class Problem(BaseModel):
    detail: str


class RateLimiter:
    """A token bucket per key: `rate` requests/s, bursts up to twice that."""

    def __init__(self, rate: float) -> None:
        self.rate, self.burst = rate, max(1.0, 2 * rate)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_needed(self, key: str) -> float:
        """0 when a request may go now (and counts it), else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class RefusedKeys:
    """A token bucket per client address for requests whose key was refused: `burst` of
    them, then `rate` per second. Remembers at most `max_addresses` addresses (the least
    recently refused are forgotten first, as if they had been quiet)."""

    def __init__(
        self,
        rate: float = REFUSED_KEY_RATE,
        burst: int = REFUSED_KEY_BURST,
        *,
        max_addresses: int = REFUSED_KEY_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.max_addresses = rate, float(burst), max_addresses
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def refuse(self, address: str) -> float:
        """Count one refused key from `address`: 0 when it may still be answered 401,
        else the seconds until it may (answer 429 with them as Retry-After)."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(address, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[address] = (tokens - 1 if not wait else tokens, now)
            while len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
            return wait


class Refused(Exception):
    """A request the gateway turns down as a whole, answered as `{"detail": ...}`."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def check_batch(body: bytes, supplier_id: str, max_records: int) -> list[Any]:
    """The records of a request body; `Refused` for non-JSON or JSON nested deeper than
    any event (400), too many records (413), or a record naming another supplier (403:
    the whole request is refused)."""
    try:
        payload = parse_json(body, MAX_JSON_DEPTH)
    except NotEventJSON as exc:
        hint = DEPTH_HINT if exc.too_deep else ""
        raise Refused(400, f"the body is {exc}{hint}") from None
    records = payload if isinstance(payload, list) else [payload]
    if len(records) > max_records:
        raise Refused(
            413,
            f"{len(records)} records in one request; the limit is {max_records}: split the batch",
        )
    for index, record in enumerate(records):
        claimed = record.get("supplier_id") if isinstance(record, dict) else None
        if claimed is not None and claimed != supplier_id:
            raise Refused(
                403,
                f"record {index} names supplier {claimed!r}, but this key "
                f"belongs to {supplier_id!r}; nothing was accepted",
            )
    return records


def create_app(
    suppliers: Parties,
    pool: ClientPool,
    *,
    max_records: int = 1000,
    max_bytes: int = 5 * 1024 * 1024,
    rate_per_second: float = 20.0,
    refused_keys: RefusedKeys | None = None,
) -> FastAPI:
    """The gateway over `suppliers` (API keys) and `pool` (spool-backed clients).

    `refused_keys`: the limit on missing or unknown keys per client address (default:
    `REFUSED_KEY_BURST`, then `REFUSED_KEY_RATE` per second).
    """
    app = service_app(
        title="Sangsaeng ingest gateway",
        version=__version__,
        description="Suppliers' MES systems send production and quality events over HTTP. "
        "Authenticate with the `X-API-Key` header (`sangsaeng gateway add-key`).",
    )
    app.add_middleware(
        BodyLimit,
        limit=max_bytes,
        too_large=lambda limit: _problem(413, f"request body over {limit} bytes: split it"),
    )
    add_event_schemas(app)
    limiter = RateLimiter(rate_per_second)
    refused_keys = refused_keys or RefusedKeys()
    api_key = APIKeyHeader(
        name="X-API-Key",
        scheme_name="X-API-Key",
        description="The supplier's gateway API key (`sangsaeng gateway add-key --supplier <id>`).",
        auto_error=False,  # a missing key is answered below, in the gateway's own words
    )
    responses: dict[int | str, dict[str, Any]] = {
        202: {"model": IngestResult, "description": "Accepted (some records may be rejected)."},
        400: {
            "model": Problem,
            "description": "Body is not JSON, or nests deeper than any event can.",
        },
        401: {"model": Problem, "description": "Missing, unknown or revoked API key."},
        403: {"model": Problem, "description": "A record names another supplier."},
        413: {"model": Problem, "description": "Too many records or bytes."},
        422: {"model": IngestResult, "description": "No record was valid."},
        429: {
            "model": Problem,
            "description": "Rate limit (requests per key, or refused keys per client "
            "address); see Retry-After.",
        },
        409: {
            "model": Problem,
            "description": "The supplier has a key but no topics on the broker (not onboarded "
            "with `sangsaeng suppliers add`); nothing was accepted.",
        },
        503: {"model": Problem, "description": "Spool full (broker away too long)."},
    }

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return _problem(exc.status, exc.detail, exc.headers)

    @app.get("/", summary="Health check")
    def root() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", summary="Forwarding per supplier")
    def metrics() -> dict[str, Any]:
        """Per supplier with a spool: events `spooled` (waiting for the broker),
        `dead_letters` (refused by the broker for good: `sangsaeng spool list`),
        `last_forwarded_at`, and `last_error` with its `kind`: `away` (retried),
        `refused` (moved to the dead letters) or `not_onboarded`."""
        return pool.metrics()

    @app.post(
        "/v1/events/{event_type}",
        status_code=202,
        responses=responses,
        response_model=IngestResult,
        summary="Send one event or a batch",
        openapi_extra={"requestBody": request_body(max_records)},
    )
    async def ingest(
        event_type: EventType,
        request: Request,
        x_api_key: Annotated[str | None, Security(api_key)],
    ) -> JSONResponse:
        supplier_id = await run_in_threadpool(suppliers.supplier_for_key, x_api_key)
        if supplier_id is None:
            address = request.client.host if request.client else "unknown"
            wait = refused_keys.refuse(address)
            if wait:
                raise Refused(
                    429,
                    f"too many requests with a missing, unknown or revoked X-API-Key from "
                    f"{address}: stop sending this key, ask the operator for a valid one "
                    "(`sangsaeng gateway add-key --supplier <id>`), and retry after "
                    "Retry-After seconds",
                    {"Retry-After": str(max(1, math.ceil(wait)))},
                )
            raise Refused(
                401,
                "missing, unknown or revoked X-API-Key: ask the operator for a key "
                "(`sangsaeng gateway add-key --supplier <id>`)",
            )
        wait = limiter.wait_needed(supplier_id + ":" + (x_api_key or ""))
        if wait:
            raise Refused(
                429,
                f"over {rate_per_second:g} requests/s for this key; retry later",
                {"Retry-After": str(math.ceil(wait))},
            )
        records = check_batch(await request.body(), supplier_id, max_records)
        client = pool.client(supplier_id)
        try:
            accepted, refused = await run_in_threadpool(client.send_batch, event_type, records)
        except SpoolFull as exc:
            raise Refused(503, str(exc), {"Retry-After": "30"}) from None
        except NotOnboarded as exc:
            raise Refused(409, str(exc)) from None
        if accepted:
            pool.notify()
        result = IngestResult(
            accepted=accepted,
            rejected=[Rejection(index=i, field=e.field, reason=e.reason) for i, e in refused],
        )
        return JSONResponse(result.model_dump(), status_code=202 if accepted else 422)

    return app
