"""The edge refuses what the platform cannot carry, naming the field and what to do.

Each rule here guards a later stage: NaN passes validation as "missing", infinity and
`True` land as numbers, year 10000 cannot be decoded, NUL cannot be stored in
PostgreSQL text, an oversized record is refused by the broker for ever.
"""

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.onboarding import topic_configs
from connectors.sdk import EventRejected
from connectors.sdk.coerce import CoercionError, nesting_depth, schema_walker
from connectors.sdk.limits import RECORD_OVERHEAD, TOO_DEEP, UNBALANCED, EdgeLimits, json_nesting
from sangsaeng.settings import Settings, load_settings
from schemas.topics import EventType
from tests.support import offline_client

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def client(tmp_path):
    c = offline_client(
        "S0001",
        spool_path=tmp_path / "spool.db",
        clock=lambda: NOW,
    )
    yield c
    c.close()


def production(**overrides):
    return {
        "site_id": "S0001-P1",
        "source_system": "mes",
        "line_id": "L1",
        "work_order_id": "WO-1",
        "part_number": "P-1",
        "lot_id": "LOT-1",
        "quantity_good": 950.0,
        "quantity_scrap": 12,
        "unit": "H87",
        "start_time": "2026-03-02T08:00:00+09:00",
        "end_time": "2026-03-02T09:00:00+09:00",
        **overrides,
    }


def measurement(**overrides):
    return {"characteristic": "bore", "value": 8.02, "lsl": 7.95, "usl": 8.05, "unit": "MMT"} | (
        overrides
    )


def quality(**overrides):
    return {
        "site_id": "S0001-P1",
        "source_system": "mes",
        "line_id": "L1",
        "part_number": "P-1",
        "lot_id": "LOT-1",
        "inspection_stage": "FINAL",
        "inspected_quantity": 200,
        "defect_quantity": 3,
        "defects": [{"code": "BURR", "count": 3, "severity": "MINOR"}],
        "measurements": [measurement(), measurement(), measurement()],
        "result": "PASS",
        **overrides,
    }


def shipment(**overrides):
    return {
        "site_id": "S0001-P1",
        "source_system": "mes",
        "buyer_id": "B01",
        "shipment_id": "SH-1",
        "po_number": "PO-1",
        "part_number": "P-1",
        "lot_ids": ["LOT-1", "LOT-2"],
        "quantity": 100.0,
        "promised_date": "2026-03-05",
        "shipped_at": "2026-03-01T09:00:00+09:00",
        **overrides,
    }


EVENTS = {"production": production, "quality": quality, "shipment": shipment}


def refused(client, event_type, record) -> EventRejected:
    with pytest.raises(EventRejected) as caught:
        client.prepare(event_type, record)
    return caught.value


def test_good_events_of_each_shape_pass(client):
    for event_type, make in EVENTS.items():
        assert client.prepare(event_type, make())[4]


# -- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "overrides", "field", "words"),
    [
        ("production", {"quantity_good": math.nan}, "quantity_good", "NaN is not a number"),
        ("production", {"quantity_good": math.inf}, "quantity_good", "infinity"),
        ("production", {"quantity_scrap": -math.inf}, "quantity_scrap", "-infinity"),
        ("production", {"quantity_good": float("1e400")}, "quantity_good", "infinity"),
        ("production", {"planned_quantity": math.nan}, "planned_quantity", "send null"),
        ("production", {"quantity_good": True}, "quantity_good", "boolean"),
        ("production", {"planned_quantity": False}, "planned_quantity", "boolean"),
        ("production", {"quantity_good": "950"}, "quantity_good", "text where a number"),
        ("production", {"quantity_good": "NaN"}, "quantity_good", "text where a number"),
        ("production", {"quantity_good": 10**400}, "quantity_good", "range of a double"),
        ("quality", {"inspected_quantity": True}, "inspected_quantity", "boolean"),
        ("quality", {"inspected_quantity": 2**63}, "inspected_quantity", "64-bit"),
        ("quality", {"inspected_quantity": 1.5}, "inspected_quantity", "whole number"),
        ("quality", {"inspected_quantity": math.nan}, "inspected_quantity", "NaN"),
        ("shipment", {"quantity": math.inf}, "quantity", "infinity"),
    ],
)
def test_numbers_the_platform_cannot_carry(client, event_type, overrides, field, words):
    rejection = refused(client, event_type, EVENTS[event_type](**overrides))
    assert rejection.field == field
    assert words in rejection.reason
    assert str(rejection).startswith(f"{field}: ")


def test_nested_numbers_are_named_by_their_path(client):
    bad_value = quality(measurements=[measurement(), measurement(), measurement(value=math.nan)])
    rejection = refused(client, "quality", bad_value)
    assert rejection.field == "measurements[2].value"
    assert str(rejection) == (
        "measurements[2].value: NaN is not a number the platform can carry: send a number "
        "(the field is required and has no empty value)"
    )
    bad_limit = quality(measurements=[measurement(lsl=-math.inf)])
    rejection = refused(client, "quality", bad_limit)
    assert rejection.field == "measurements[0].lsl" and "or null when there is none" in (
        rejection.reason
    )
    bad_count = quality(defects=[{"code": "BURR", "count": True, "severity": "MINOR"}])
    assert refused(client, "quality", bad_count).field == "defects[0].count"


def test_whole_floats_count_and_finite_numbers_pass(client):
    client.prepare("quality", quality(inspected_quantity=200.0))
    client.prepare("production", production(quantity_good=5e-324, quantity_scrap=-0.0))
    client.prepare("production", production(quantity_good=1.7976931348623157e308))
    client.prepare("production", production(quantity_good=2**60))  # an int for a double


# -- timestamps and dates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "overrides", "field", "words"),
    [
        ("production", {"event_time": 253402300800000}, "event_time", "outside the times"),
        ("production", {"event_time": 9e18}, "event_time", "outside the times"),
        ("production", {"event_time": 2**70}, "event_time", "outside the times"),
        ("production", {"event_time": True}, "event_time", "boolean"),
        ("production", {"event_time": 1.5e12 + 0.5}, "event_time", "whole number"),
        ("production", {"start_time": 1_700_000_000}, "start_time", "not seconds"),
        ("production", {"end_time": "1999-12-31T23:59:59Z"}, "end_time", "2000-01-01 to"),
        ("production", {"end_time": "2127-01-01T00:00:00Z"}, "end_time", "to 2126-03-02"),
        ("production", {"start_time": "9999-12-31T23:00:00-05:00"}, "start_time", "outside"),
        ("production", {"start_time": date(2026, 3, 2)}, "start_time", "not a point in time"),
        ("shipment", {"delivered_at": 10**20}, "delivered_at", "outside the times"),
        ("shipment", {"delivered_at": "1970-01-01T00:00:00Z"}, "delivered_at", "outside"),
        ("shipment", {"promised_date": "9999-12-31"}, "promised_date", "outside the times"),
        ("shipment", {"promised_date": 10**7}, "promised_date", "outside the times"),
        ("shipment", {"promised_date": True}, "promised_date", "boolean"),
    ],
)
def test_timestamps_and_dates_outside_the_window(client, event_type, overrides, field, words):
    rejection = refused(client, event_type, EVENTS[event_type](**overrides))
    assert rejection.field == field
    assert words in rejection.reason


def test_the_window_is_inclusive_and_named_in_the_message(client):
    client.prepare("production", production(start_time="2000-01-01T00:00:00Z"))
    client.prepare("shipment", shipment(promised_date="2126-03-02"))
    reason = refused(client, "production", production(start_time="1999-12-31T23:59:59Z")).reason
    assert "SANGSAENG_EVENT_TIME_MIN" in reason and "SANGSAENG_EVENT_TIME_MAX_YEARS_AHEAD" in reason


def test_event_time_within_the_horizon_and_not_ahead_of_the_clock(client):
    client.prepare("production", production(event_time=NOW - timedelta(days=179)))
    client.prepare("production", production(event_time=NOW + timedelta(minutes=4)))
    old = refused(client, "production", production(event_time=NOW - timedelta(days=181)))
    assert old.field == "event_time" and "SANGSAENG_EVENT_HORIZON_DAYS" in old.reason
    ahead = refused(client, "production", production(event_time=NOW + timedelta(minutes=10)))
    assert ahead.field == "event_time" and "SANGSAENG_EVENT_FUTURE_SECONDS" in ahead.reason
    as_ms = int((NOW - timedelta(days=400)).timestamp() * 1000)
    assert "horizon" in refused(client, "production", production(event_time=as_ms)).reason
    # The horizon is event_time's alone: a run may have started long ago.
    client.prepare("production", production(start_time="2020-01-01T00:00:00Z"))


def test_the_limits_follow_the_settings(tmp_path):
    limits = EdgeLimits(earliest=date(2020, 1, 1), years_ahead=1, horizon_days=7)
    c = offline_client(
        "S0001",
        spool_path=tmp_path / "s.db",
        limits=limits,
        clock=lambda: NOW,
    )
    try:
        assert (
            "2020-01-01 to 2027-03-02"
            in refused(c, "production", production(start_time="2019-06-01T00:00:00Z")).reason
        )
        assert refused(c, "production", production(event_time=NOW - timedelta(days=8)))
    finally:
        c.close()


# -- text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "overrides", "field"),
    [
        ("production", {"lot_id": "a\x00b"}, "lot_id"),
        ("production", {"buyer_id": "\x00"}, "buyer_id"),
        ("production", {"event_id": "6f1c2a9e-0b5d-4c1e-9a55-2f6f1d8e4a10\x00"}, "event_id"),
        ("shipment", {"lot_ids": ["LOT-1", "LOT\x00-2"]}, "lot_ids[1]"),
        ("quality", {"measurements": [measurement(characteristic="b\x00")]}, "measurements[0]"),
        ("quality", {"defects": [{"code": "\x00", "count": 1, "severity": "MINOR"}]}, "defects[0]"),
    ],
)
def test_nul_characters_anywhere(client, event_type, overrides, field):
    rejection = refused(client, event_type, EVENTS[event_type](**overrides))
    assert rejection.field.startswith(field)
    assert "NUL character" in rejection.reason and "remove it" in rejection.reason


def test_unpaired_surrogates_are_not_text(client):
    rejection = refused(client, "production", production(lot_id="LOT-\ud800"))
    assert rejection.field == "lot_id" and "unpaired surrogate (\\ud800) at position 4" in (
        rejection.reason
    )
    client.prepare("production", production(lot_id="로트-🏭-" + "é" * 10_000))


# -- size -------------------------------------------------------------------------------


def test_a_record_too_large_for_its_topic_names_its_biggest_field(client):
    rejection = refused(client, "production", production(lot_id="x" * 1_100_000))
    assert rejection.field == "lot_id"
    assert "SANGSAENG_TOPIC_MAX_MESSAGE_BYTES=1,048,576" in rejection.reason
    assert "shorten it or split the event" in rejection.reason


def test_the_size_limit_is_exact(tmp_path):
    limits = EdgeLimits(max_message_bytes=65_536)
    c = offline_client(
        "S0001",
        spool_path=tmp_path / "s.db",
        limits=limits,
        clock=lambda: NOW,
    )
    try:
        _, _, key, _, body = c.prepare("production", production(lot_id=""))
        room = limits.record_bytes - (5 + len(body) + len(key))
        # a string of n bytes takes n bytes plus its length's varint (3 bytes from 16 KiB)
        fits = production(lot_id="x" * (room - 2))
        _, _, key, _, body = c.prepare("production", fits)
        assert 5 + len(body) + len(key) == limits.record_bytes == 65_536 - RECORD_OVERHEAD
        with pytest.raises(EventRejected, match="64,512 a record may take"):
            c.prepare("production", production(lot_id="x" * (room - 1)))
    finally:
        c.close()


def test_the_producer_may_send_what_the_edge_accepts(tmp_path):
    c = offline_client(
        "S0001",
        spool_path=tmp_path / "s.db",
        limits=EdgeLimits(max_message_bytes=4 * 1_048_576),
    )
    assert c.producer_config["max_request_size"] == 4 * 1_048_576
    c.close()


# -- the walker on shapes the contracts do not have (yet) ---------------------------------

SHAPES = {
    "type": "record",
    "name": "Shapes",
    "namespace": "io.test",
    "fields": [
        {"name": "attributes", "type": {"type": "map", "values": "double"}, "default": {}},
        {"name": "labels", "type": {"type": "map", "values": "string"}, "default": {}},
        {"name": "either", "type": ["null", "string", "double"], "default": None},
        {"name": "small", "type": "int", "default": 0},
        {"name": "single", "type": "float", "default": 0.0},
        {"name": "flag", "type": "boolean", "default": False},
        {
            "name": "steps",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Step",
                    "fields": [
                        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                        {"name": "next", "type": ["null", "Step"], "default": None},
                    ],
                },
            },
            "default": [],
        },
    ],
}
WALK = schema_walker(SHAPES)
WINDOW = EdgeLimits().window(NOW)


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        ({"attributes": {"a": 1.0, "b": math.nan}}, "attributes['b']", "NaN"),
        ({"attributes": {"a\x00": 1.0}}, "attributes['a\\x00']", "key"),
        ({"labels": {"k": "v\x00"}}, "labels['k']", "NUL"),
        ({"either": math.inf}, "either", "infinity"),
        ({"either": "x\x00"}, "either", "NUL"),
        ({"either": True}, "either", "boolean"),
        ({"small": 2**31}, "small", "32-bit integer"),
        ({"single": 1e39}, "single", "32-bit float"),
        ({"flag": 1}, "flag", "not true or false"),
        ({"steps": [{"at": 0}]}, "steps[0].at", "outside"),
        (
            {"steps": [{"at": "2026-03-01T00:00:00Z", "next": {"at": 2**64}}]},
            "steps[0].next.at",
            "outside",
        ),
    ],
)
def test_maps_unions_and_recursive_records(record, field, words):
    with pytest.raises(CoercionError) as caught:
        WALK(dict(record), WINDOW)
    assert caught.value.field == field
    assert words in caught.value.message


def test_the_walker_reads_nested_timestamps_without_changing_the_input():
    steps = [{"at": "2026-03-01T00:00:00+09:00", "next": {"at": "2026-03-01T01:00:00Z"}}]
    record = {"steps": steps, "either": "text", "attributes": {"a": 1}}
    out = WALK(dict(record), WINDOW)
    assert out["steps"][0]["at"] == datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
    assert out["steps"][0]["next"]["at"] == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert steps[0]["at"] == "2026-03-01T00:00:00+09:00"  # the caller's lists are untouched


def test_json_depth_of_the_contracts():
    assert nesting_depth(EventType.PRODUCTION) == 1
    assert nesting_depth(EventType.QUALITY) == 3  # a record holding arrays of records


# -- JSON nesting, before parsing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (b"[" * 100_000, UNBALANCED),
        (b"[" * 100_000 + b"]" * 100_000, TOO_DEEP),
        (b'{"a": [{"b": [{"c": [1]}]}]}', TOO_DEEP),
        (b'[{"a": [{"b": 1}]}]', None),
        (b'[{"lot_id": "[[[[[[[[[[{{{{{{"}]', None),  # brackets in strings do not count
        (b'[{"lot_id": "\\"[[[[[[[[[[", "x": "\\\\"}]', None),  # nor after escaped quotes
        (b'[{"lot_id": "\\\\"}, [[[[[[[]]]]]]]]', TOO_DEEP),
        ('[[[["x"]]]]'.encode("utf-16"), None),
        ('[[[[["x"]]]]]'.encode("utf-16"), TOO_DEEP),
        (b"{not json", UNBALANCED),
        (b'{"a": tru}', None),  # the parser says what is wrong with it
        (b"\xff\xfe\x00", None),
    ],
)
def test_json_nesting(body, verdict):
    assert json_nesting(body, 4) == verdict


def test_new_settings_and_their_env_vars(monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("SANGSAENG_")]:
        monkeypatch.delenv(key)
    defaults = EdgeLimits.from_settings(load_settings())
    assert defaults == EdgeLimits()
    assert defaults.earliest == date(2000, 1, 1) and defaults.years_ahead == 100
    assert defaults.max_message_bytes == Settings.model_fields["topic_max_message_bytes"].default
    monkeypatch.setenv("SANGSAENG_EVENT_TIME_MIN", "2015-06-01")
    monkeypatch.setenv("SANGSAENG_EVENT_TIME_MAX_YEARS_AHEAD", "5")
    monkeypatch.setenv("SANGSAENG_TOPIC_MAX_MESSAGE_BYTES", "2097152")
    limits = EdgeLimits.from_settings(load_settings())
    assert (limits.earliest, limits.years_ahead, limits.max_message_bytes) == (
        date(2015, 6, 1),
        5,
        2_097_152,
    )


def test_onboarding_sets_the_size_on_the_topics_and_twice_it_on_dead_letters():
    assert topic_configs(7, 1_048_576) == {
        "retention.ms": "604800000",
        "max.message.bytes": "1048576",
    }
    assert topic_configs(7, 1_048_576, dead_letters=True)["max.message.bytes"] == "2097152"
