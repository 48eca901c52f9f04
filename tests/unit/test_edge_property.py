"""Property: whatever a supplier sends, the edge refuses it naming a field, or what it
accepts decodes downstream and holds nothing a later stage cannot carry.

Records are drawn in the shape of each contract, every field from its type's ordinary
values and its extremes (NaN, ±infinity, huge and tiny numbers, booleans, NUL, lone
surrogates, long text, timestamps from before 1970 to after year 9999), and sent
through `SupplierClient.prepare`, directly and as JSON through the gateway's check.
"""

import json
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connectors.gateway.app import MAX_JSON_DEPTH, Refused, check_batch
from connectors.sdk import EventRejected, SupplierClient
from connectors.sdk.limits import EdgeLimits
from schemas.contracts import contract, contract_text
from schemas.registry.client import RegistryClient
from schemas.serde import AvroDeserializer, frame
from schemas.topics import EventType

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
LIMITS = EdgeLimits(max_message_bytes=65_536)  # small, so that size refusals happen too
WINDOW = LIMITS.window(NOW)
SCHEMA_IDS = {e: 100 + i for i, e in enumerate(EventType)}


class ShippedContracts:
    """The registry as the deserializer asks it: the schema of an id."""

    def schema(self, schema_id: int) -> str:
        return contract_text(next(e for e, i in SCHEMA_IDS.items() if i == schema_id))


DECODER = AvroDeserializer.for_contracts(ShippedContracts())  # type: ignore[arg-type]

# -- values of every kind, ordinary and extreme -----------------------------------------


def mixed(ordinary: st.SearchStrategy[Any], extreme: st.SearchStrategy[Any]) -> Any:
    """Mostly ordinary values, an extreme one in about one field of twelve."""
    return st.integers(0, 11).flatmap(lambda i: extreme if i == 0 else ordinary)


texts = mixed(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
    | st.sampled_from(["a\x00b", "\x00", "\ud800", "é" * 40_000])
    | st.text(max_size=5).map(lambda t: t + "가" * 25_000),  # 75 KB: over the record limit
)
numbers = mixed(
    st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([10**400, -(10**400), 5e-324, -0.0, 1.7976931348623157e308, 1.5])
    | st.booleans()
    | st.sampled_from(["950", "NaN", None]),
)
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
recent = st.integers(-200 * 86_400, 600).map(lambda s: NOW + timedelta(seconds=s))
timestamps = mixed(
    recent | recent.map(lambda d: d.isoformat()) | recent.map(lambda d: int(d.timestamp() * 1000)),
    moments
    | moments.map(lambda d: d.isoformat())
    | st.integers(-(2**64), 2**64)
    | st.sampled_from([253402300800000, 9e18, 1.5e12, 1_700_000_000, True, "yesterday"])
    | st.floats(allow_nan=True, allow_infinity=True),
)
dates = mixed(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2126, 3, 2)).map(
        lambda d: d if d.day % 2 else d.isoformat()
    ),
    st.dates()
    | st.integers(-(2**40), 2**40)
    | st.sampled_from([True, date(1999, 12, 31), date(2126, 3, 3), "2026-02-30"]),
)


def values(avro: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for an Avro type as written in a contract: ordinary ones and extremes."""
    if isinstance(avro, list):
        return st.one_of([values(branch, named) for branch in avro])
    if isinstance(avro, str):
        if avro in named:
            return named[avro]
        return {
            "null": st.none(),
            "string": texts,
            "double": numbers,
            "float": numbers,
            "long": numbers,
            "int": numbers,
            "boolean": st.booleans(),
        }[avro]
    kind, logical = avro["type"], avro.get("logicalType")
    if logical == "timestamp-millis":
        return timestamps
    if logical == "date":
        return dates
    if logical == "uuid":
        return mixed(st.uuids().map(str), texts)
    if kind == "enum":
        named[avro["name"]] = mixed(st.sampled_from(avro["symbols"]), texts)
        return named[avro["name"]]
    if kind == "array":
        return st.lists(values(avro["items"], named), max_size=4)
    if kind == "record":
        return record_of(avro, named)
    return values(kind, named)


def record_of(avro: dict[str, Any], named: dict[str, Any]) -> st.SearchStrategy[dict]:
    required = {f["name"]: values(f["type"], named) for f in avro["fields"] if "default" not in f}
    optional = {f["name"]: values(f["type"], named) for f in avro["fields"] if "default" in f}
    return st.fixed_dictionaries(required, optional=optional)


def contract_records(event_type: EventType) -> st.SearchStrategy[dict]:
    shape = contract(event_type)
    fields = {f["name"] for f in shape["fields"]}
    # event_id, event_time and supplier_id are filled by the SDK when absent
    filled = {"event_id", "event_time", "supplier_id"}
    return record_of(shape, {}).flatmap(
        lambda r: st.sets(st.sampled_from(sorted(filled & fields))).map(
            lambda drop: {k: v for k, v in r.items() if k not in drop and k != "supplier_id"}
        )
    )


contract_events = st.sampled_from(list(EventType)).flatmap(
    lambda e: st.tuples(st.just(e), contract_records(e))
)

# -- what may come out --------------------------------------------------------------------


def carried(value: Any, path: str = "") -> None:
    """Fails unless a decoded value holds only what the later stages can carry."""
    if isinstance(value, dict):
        for key, item in value.items():
            carried(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            carried(item, f"{path}[{index}]")
    elif isinstance(value, float):
        assert math.isfinite(value), path
    elif isinstance(value, str):
        assert "\x00" not in value, path
        value.encode("utf-8")
    elif isinstance(value, datetime):
        assert WINDOW.lo_dt <= value <= WINDOW.hi_dt, path
    elif isinstance(value, date):
        assert WINDOW.lo_date <= value <= WINDOW.hi_date, path


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    c = SupplierClient(
        "S0001",
        bootstrap="127.0.0.1:1",
        registry=RegistryClient("http://127.0.0.1:1"),
        spool_path=tmp_path_factory.mktemp("spool") / "s.db",
        limits=LIMITS,
        clock=lambda: NOW,
    )
    yield c
    c.close()


RULES = ["NaN", "infinity", "boolean", "NUL", "surrogate", "outside", "horizon", "ahead", "bytes"]


def accepted_or_named(client: SupplierClient, event_type: EventType, record: Any) -> None:
    try:
        _, _, key, _, body = client.prepare(event_type, record)
    except EventRejected as exc:
        assert exc.field, f"refused without naming a field: {exc}"
        head = exc.field.split("[", 1)[0].split(".", 1)[0]
        assert head in record or head in {"event_id", "event_time", "supplier_id"}, exc.field
        event("refused: " + next((r for r in RULES if r in exc.reason), "the contract"))
        return
    assert 5 + len(body) + len(key) <= LIMITS.record_bytes
    decoded = DECODER.decode(frame(SCHEMA_IDS[event_type]) + body)
    carried(decoded)
    assert WINDOW.ev_lo_dt <= decoded["event_time"] <= WINDOW.ev_hi_dt
    event("accepted")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=contract_events)
def test_prepare_refuses_naming_a_field_or_what_it_accepts_decodes(client, sent):
    accepted_or_named(client, *sent)


def as_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=contract_events, batch=st.booleans())
def test_the_gateways_path_refuses_naming_a_field_or_what_it_accepts_decodes(client, sent, batch):
    event_type, record = sent
    body = json.dumps([record] if batch else record, default=as_json).encode()
    try:
        [parsed] = check_batch(body, "S0001", max_records=1000)
    except Refused as exc:  # only a body Python's parser cannot read (a 4,301-digit int)
        assert exc.status == 400, exc.detail
        return
    accepted_or_named(client, event_type, parsed)


def test_contract_shaped_bodies_are_never_too_deep_for_the_gateway():
    assert MAX_JSON_DEPTH == 4
