"""Every compatibility level, decided by the avro package's checker (pure logic)."""

import json

import pytest

from schemas.registry.compatibility import Compatibility, check, parse_avro
from schemas.registry.errors import RegistryError

pytestmark = pytest.mark.unit


def rec(*fields: dict) -> object:
    return parse_avro(json.dumps({"type": "record", "name": "R", "fields": list(fields)}))


A_LONG = {"name": "a", "type": "long"}
B_DEFAULT = {"name": "b", "type": "string", "default": ""}
B_REQUIRED = {"name": "b", "type": "string"}

# change -> the levels (non-transitive) that accept it
CHANGES = {
    "add field with default": (
        rec(A_LONG),
        rec(A_LONG, B_DEFAULT),
        {"BACKWARD", "FORWARD", "FULL"},
    ),
    "add field without default": (rec(A_LONG), rec(A_LONG, B_REQUIRED), {"FORWARD"}),
    "remove field without default": (rec(A_LONG, B_REQUIRED), rec(A_LONG), {"BACKWARD"}),
    "remove field with default": (
        rec(A_LONG, B_DEFAULT),
        rec(A_LONG),
        {"BACKWARD", "FORWARD", "FULL"},
    ),
    "change a type": (rec(A_LONG), rec({"name": "a", "type": "string"}), set()),
    "widen int to long": (rec({"name": "a", "type": "int"}), rec(A_LONG), {"BACKWARD"}),
    "rename without alias": (rec(A_LONG), rec({"name": "c", "type": "long"}), set()),
    "rename with alias": (
        rec(A_LONG),
        rec({"name": "c", "type": "long", "aliases": ["a"]}),
        {"BACKWARD"},
    ),
}


@pytest.mark.parametrize("level", list(Compatibility))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_level_accepts_exactly_what_it_should(level: Compatibility, change: str):
    old, new, accepted_by = CHANGES[change]
    problems = check(new, [(1, old)], level)
    expected_ok = level is Compatibility.NONE or level.removesuffix("_TRANSITIVE") in accepted_by
    assert (not problems) == expected_ok, (level, change, problems)


SERIES = [
    rec({"name": "a", "type": "int", "default": 0}),
    rec(),
    rec({"name": "a", "type": "string", "default": ""}),
]


@pytest.mark.parametrize("level", ["BACKWARD", "FORWARD", "FULL"])
def test_transitive_levels_compare_with_every_version_plain_ones_with_the_latest(level: str):
    # v3 is compatible with v2 (no field a) but not with v1 (a is an int there).
    history = [(1, SERIES[0]), (2, SERIES[1])]
    assert check(SERIES[2], history, Compatibility(level)) == []
    problems = check(SERIES[2], history, Compatibility(level + "_TRANSITIVE"))
    assert problems and all("version 1" in p for p in problems)
    assert any("TYPE_MISMATCH" in p for p in problems)


def test_no_history_is_always_compatible():
    assert check(SERIES[0], [], Compatibility.FULL_TRANSITIVE) == []


def test_parse_errors_are_registry_42201():
    with pytest.raises(RegistryError) as caught:
        parse_avro('{"type": "enum", "name": "E", "symbols": ["A", "A"]}')
    assert caught.value.error_code == 42201
