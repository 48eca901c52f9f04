"""The MES simulator: deterministic, realistic enough, and flawed exactly as asked."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
import yaml

from connectors.sdk import EventRejected, SupplierClient
from connectors.simulator.events import FLAWS, generate
from connectors.simulator.run import write_events, write_reference
from connectors.simulator.world import (
    GAIN_SPREAD,
    REPORTED_GAINS,
    STOPS_AND_SCRAP_GAIN,
    World,
    build_world,
)
from schemas.registry.client import RegistryClient

pytestmark = pytest.mark.unit

START = date(2026, 1, 5)


def test_same_seed_gives_byte_identical_output(tmp_path):
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        world = build_world(seed, 4, START, 5)
        write_events(generate(world, seed=seed, bad_rate=0.05), tmp_path / f"{name}.jsonl")
        write_reference(world, tmp_path / f"{name}.yaml")
    a, b, c = ((tmp_path / f"{n}.jsonl").read_bytes() for n in "abc")
    assert a == b and len(a) > 100_000
    assert a != c
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()


def test_a_day_gives_the_same_events_in_any_window_and_new_days_new_ids():
    """Windows of one programme: an overlapping window repeats its common days' events
    (duplicates, never doubled output) and adds new ids for its new days; another seed
    gives other ids."""
    programme = build_world(11, 4, START, 14)

    def ids(start: date, days: int, seed: int = 11) -> dict[date, set[str]]:
        window = World(programme.sponsors, programme.suppliers, start, days)
        found: dict[date, set[str]] = {}
        for e in generate(window, seed=seed, bad_rate=0.0):
            day = (e.record["event_time"] + timedelta(hours=9)).date()
            found.setdefault(day, set()).add(str(e.record["event_id"]))
        return found

    first, next_week = ids(START, 5), ids(START + timedelta(days=7), 5)
    assert first == ids(START, 5) and sum(map(len, first.values())) > 1000
    assert not set().union(*first.values()) & set().union(*next_week.values())
    shifted = ids(START + timedelta(days=2), 5)  # Wednesday to Sunday
    for day in (START + timedelta(days=2), START + timedelta(days=3), START + timedelta(days=4)):
        assert shifted[day] == first[day], "a common day has the same events"
    other_seed = ids(START, 5, seed=12)
    assert not set().union(*first.values()) & set().union(*other_seed.values())


def test_share_of_flawed_events_matches_bad_rate():
    world = build_world(3, 6, START, 24)  # 18 weekdays: over 8,000 events of 6 suppliers
    events = list(generate(world, seed=3, bad_rate=0.1))
    flaws = Counter(e.flaw for e in events)
    duplicates = flaws["duplicate"] // 2  # a duplicate is one flawed event sent twice
    originals = len(events) - duplicates
    flawed = sum(n for f, n in flaws.items() if f) - duplicates
    assert originals > 8000
    assert abs(flawed / originals - 0.1) < 0.015  # ~4.7 sigma for this many events
    assert set(flaws) - {None} == set(FLAWS)
    clean = list(generate(world, seed=3, bad_rate=0.0))
    assert all(e.flaw is None for e in clean)


def test_clean_events_meet_their_contracts_and_edge_flaws_do_not(tmp_path):
    world = build_world(5, 6, START, 3)
    clients = {
        s.supplier_id: SupplierClient(
            s.supplier_id,
            bootstrap="127.0.0.1:1",
            registry=RegistryClient("http://127.0.0.1:1"),
            spool_path=tmp_path / f"{s.supplier_id}.db",
            clock=lambda: datetime.combine(START + timedelta(days=4), time(), UTC),
        )
        for s in world.suppliers
    }
    refused = Counter()
    for event in generate(world, seed=5, bad_rate=0.2):
        try:
            clients[event.supplier_id].prepare(event.event_type, event.record)
        except EventRejected as exc:
            refused[event.flaw] += 1
            assert event.flaw in ("wrong_type", "spoofed_supplier"), (event, exc)
    assert refused["wrong_type"] > 0 and refused["spoofed_supplier"] > 0
    for client in clients.values():
        client.close()


def test_productivity_rises_after_go_live_by_the_suppliers_uplift():
    world = build_world(9, 6, START, 28)
    good: dict[tuple[str, bool], list[float]] = {}
    live = {s.supplier_id: s for s in world.suppliers}
    for e in generate(world, seed=9, bad_rate=0.0):
        if e.event_type == "production":
            after = e.record["start_time"].date() >= live[e.supplier_id].go_live
            good.setdefault((e.supplier_id, after), []).append(e.record["quantity_good"])
    for supplier in world.suppliers:
        before = sum(good[(supplier.supplier_id, False)]) / len(good[(supplier.supplier_id, False)])
        after = sum(good[(supplier.supplier_id, True)]) / len(good[(supplier.supplier_id, True)])
        # the sector's reported gain, less what fewer stops and less scrap add, +- the spread
        rate_gain = (1 + REPORTED_GAINS[supplier.sector]) / STOPS_AND_SCRAP_GAIN - 1
        assert abs(supplier.uplift - rate_gain) <= GAIN_SPREAD / STOPS_AND_SCRAP_GAIN + 0.001
        assert 1 + 0.8 * supplier.uplift < after / before < 1.25 * (1 + supplier.uplift)


def test_reference_data_covers_every_event(tmp_path):
    world = build_world(2, 5, START, 3)
    write_reference(world, tmp_path / "ref.yaml")
    ref = yaml.safe_load((tmp_path / "ref.yaml").read_text())
    parts = {(p["supplier_id"], p["part_number"]) for p in ref["parts"]}
    lines = {(line["supplier_id"], line["line_id"]) for line in ref["lines"]}
    sites = {s["site_id"] for s in ref["sites"]}
    assert {o["role"] for o in ref["organisations"]} == {"buyer", "supplier"}
    for e in generate(world, seed=2, bad_rate=0.0):
        r = e.record
        assert r["site_id"] in sites
        if "part_number" in r:
            assert (e.supplier_id, r["part_number"]) in parts
        if r.get("line_id"):
            assert (e.supplier_id, r["line_id"]) in lines


def test_shipments_carry_the_ordered_quantity_some_late_some_short():
    world = build_world(4, 6, START, 28)

    def shipments(seed: int) -> list[dict]:
        return [
            e.record for e in generate(world, seed=seed, bad_rate=0.0) if e.event_type == "shipment"
        ]

    sent = shipments(4)
    assert len(sent) > 100 and all(s["ordered_quantity"] > 0 for s in sent)
    # The shipped day is the local (KST) day of shipped_at; late: after the promised date.
    late = [s for s in sent if (s["shipped_at"] + timedelta(hours=9)).date() > s["promised_date"]]
    short = [s for s in sent if s["quantity"] < s["ordered_quantity"]]
    assert 0.03 < len(late) / len(sent) < 0.2 and 0.03 < len(short) / len(sent) < 0.2
    assert all(s["quantity"] >= 0.8 * s["ordered_quantity"] - 1 for s in short)
    assert shipments(4) == sent  # deterministic by seed
    assert shipments(5) != sent


def test_every_sponsor_receives_its_suppliers_shipments():
    """A supplier with two sponsors works for each on alternate days: each sponsorship
    has shipments (and production) carrying its buyer, so the second sponsor's
    agreement has parts in scope."""
    from connectors.simulator.world import sponsorships_of

    world = build_world(3, 12, START, 14)
    pairs = sponsorships_of(world)
    assert len(pairs) > len(world.suppliers), "some suppliers have two sponsors"
    shipped: Counter[tuple[str, str]] = Counter()
    made: Counter[tuple[str, str]] = Counter()
    for e in generate(world, seed=3, bad_rate=0.0):
        if e.event_type == "shipment":
            shipped[(e.record["buyer_id"], e.supplier_id)] += 1
        elif e.event_type == "production":
            made[(e.record["buyer_id"], e.supplier_id)] += 1
    for buyer, supplier, _ in pairs:
        assert shipped[(buyer, supplier)] >= 3, (buyer, supplier)
        assert made[(buyer, supplier)] > 0, (buyer, supplier)
    assert set(shipped) == {(b, s) for b, s, _ in pairs}, "no shipment to a non-sponsor"
