"""Schema nesting depth with named types followed (`schemas.registry.limits`), pure logic.

Chains of named records declared side by side, and recursive types: the depth the
compatibility check reaches is the one the limit counts, recursion counted once.
"""

import json

import pytest

from schemas.registry.compatibility import Compatibility, check, parse_avro
from schemas.registry.errors import RegistryError
from schemas.registry.limits import MAX_DEPTH, check_limits

pytestmark = pytest.mark.unit


def top(*types: object, last: str | None = None, holder: str = "defs") -> str:
    """Record `Top` declaring `types` side by side in a union field, and a field `last`
    holding the named type `last`."""
    fields: list[dict] = [{"name": holder, "type": ["null", *types], "default": None}]
    if last is not None:
        fields.append({"name": "last", "type": last})
    return json.dumps({"type": "record", "name": "Top", "namespace": "t", "fields": fields})


def record(name: str, *field_types: object) -> dict:
    fields = [{"name": f"f{i}", "type": t} for i, t in enumerate(field_types)] or [
        {"name": "x", "type": "long"}
    ]
    return {"type": "record", "name": name, "fields": fields}


def chain(length: int, **kwargs) -> str:
    """R1, then R2 holding R1 by name, ..., R{length}; Top holds R{length}."""
    records = [record("R1")] + [record(f"R{i}", f"R{i - 1}") for i in range(2, length + 1)]
    return top(*records, last=f"R{length}", **kwargs)


def pairs(count: int, **kwargs) -> str:
    """A_i {b: B_i {a: A_i}, x: B_{i-1}}: each B refers back to the A around it, which a
    memoised height alone counts as nothing, yet B_i reaches A_i, B_{i-1}, A_{i-1}, ..."""
    types: list[dict] = []
    for i in range(1, count + 1):
        inner = record(f"B{i}", ["null", f"A{i}"])
        held = [inner] + ([["null", f"B{i - 1}"]] if i > 1 else [])
        types.append(record(f"A{i}", *held))
    return top(*types, last=f"B{count}", **kwargs)


def over(schema: str) -> str:
    with pytest.raises(RegistryError) as caught:
        check_limits(schema)
    assert caught.value.error_code == 42201
    assert "nesting depth" in caught.value.message
    return caught.value.message


def test_a_chain_is_counted_through_its_names():
    check_limits(chain(MAX_DEPTH - 1))  # Top + 31 records
    message = over(chain(MAX_DEPTH))
    assert f"is {MAX_DEPTH + 1}," in message and "named" in message
    assert f"is {500 + 1}," in over(chain(500))


def test_full_and_short_names_resolve_in_the_namespace():
    records = [record("R1")] + [
        record(f"R{i}", f"t.R{i - 1}" if i % 2 else f"R{i - 1}") for i in range(2, 41)
    ]
    over(top(*records, last="t.R40"))


def test_a_type_referring_back_to_an_enclosing_one_is_not_undercounted():
    # The path from Top: Top, B_n, A_n, B_{n-1}, ..., 1 + 2n deep; counted 2 + 2n (an upper
    # bound: B seen from outside adds all of A). A memo that counted B's back reference
    # to A as nothing would say 4 whatever the count.
    check_limits(pairs(15))  # counted 32
    over(pairs(16))  # counted 34
    # And that is the depth the compatibility check goes to, more than it can follow.
    deep = pairs(600)
    old, new = parse_avro(deep, stored=True), parse_avro(pairs(600, holder="other"), stored=True)
    with pytest.raises(RegistryError, match="too deeply nested to compare"):
        check(new, [(1, old)], Compatibility.BACKWARD)


@pytest.mark.parametrize(
    "schema",
    [
        # A linked list: a record holding itself.
        {
            "type": "record",
            "name": "Node",
            "fields": [{"name": "next", "type": ["null", "Node"], "default": None}],
        },
        # Two records holding each other, the inner one also used after its definition.
        {
            "type": "record",
            "name": "Tree",
            "namespace": "t",
            "fields": [
                {
                    "name": "kids",
                    "type": {"type": "array", "items": record("Branch", ["null", "t.Tree"])},
                },
                {"name": "first", "type": ["null", "Branch"], "default": None},
            ],
        },
    ],
    ids=["self", "mutual"],
)
def test_recursive_types_count_once(schema):
    check_limits(json.dumps(schema))


def test_a_recursive_type_nested_deep_counts_once_where_it_refers_to_itself():
    # Records nested 32 deep (the limit), the innermost holding the outermost by name.
    inner: dict = record("N32", ["null", "N1"])
    for level in range(MAX_DEPTH - 1, 0, -1):
        inner = record(f"N{level}", ["null", inner])
    check_limits(json.dumps(inner))


def cycle(length: int, prefix: str) -> str:
    """`length` records named N nested in one another (namespaces p1..p{length}), the
    innermost holding the outermost: a cycle, within the limits."""
    node: dict = {
        "type": "record",
        "name": "N",
        "namespace": f"{prefix}{length}",
        "fields": [{"name": "f", "type": ["null", f"{prefix}1.N"], "default": None}],
    }
    for i in range(length - 1, 0, -1):
        node = {
            "type": "record",
            "name": "N",
            "namespace": f"{prefix}{i}",
            "fields": [{"name": "f", "type": ["null", node], "default": None}],
        }
    return json.dumps(node)


def test_cycles_within_the_limits_that_the_checker_cannot_follow_are_a_clear_refusal():
    # 31 and 30 long: the checker pairs them for 930 steps. A 42201, never a RecursionError.
    old, new = parse_avro(cycle(31, "a")), parse_avro(cycle(30, "b"))
    with pytest.raises(RegistryError) as caught:
        check(new, [(1, old)], Compatibility.BACKWARD)
    assert caught.value.error_code == 42201
    assert "too deeply nested to compare" in caught.value.message
    assert "compatibility to NONE" in caught.value.message
