"""The simulator's data tiers: the national distribution in every world size, a mix in
small worlds, deterministic by seed, and what each tier sends (DOMAIN.md's levels)."""

from collections import defaultdict
from datetime import date, timedelta

import pytest

from connectors.simulator.events import CONTROL_SIGMAS, HOLD_REASON, KST, generate
from connectors.simulator.world import (
    NATIONAL_SHARES,
    SECTORS,
    DataTier,
    assign_tiers,
    build_world,
    tier_counts,
)

pytestmark = pytest.mark.unit

START = date(2026, 1, 5)


def test_a_programme_of_300_holds_the_national_distribution() -> None:
    counts = tier_counts(300)
    assert counts == {DataTier.BASIC: 240, DataTier.INTERMEDIATE_1: 56, DataTier.INTERMEDIATE_2: 4}
    total = sum(NATIONAL_SHARES.values())  # 100.2 % as published
    for n in range(100, 1001, 7):
        counts = tier_counts(n)
        assert sum(counts.values()) == n
        for tier, share in NATIONAL_SHARES.items():
            assert abs(counts[tier] - n * share / total) < 1, (n, tier, counts)


def test_small_worlds_hold_a_mix() -> None:
    assert tier_counts(1) == {
        DataTier.BASIC: 0,
        DataTier.INTERMEDIATE_1: 0,
        DataTier.INTERMEDIATE_2: 1,
    }
    assert tier_counts(2) == {
        DataTier.BASIC: 1,
        DataTier.INTERMEDIATE_1: 0,
        DataTier.INTERMEDIATE_2: 1,
    }
    for n in range(3, 100):
        counts = tier_counts(n)
        assert sum(counts.values()) == n and min(counts.values()) >= 1, (n, counts)
    assert tier_counts(24) == {
        DataTier.BASIC: 18,
        DataTier.INTERMEDIATE_1: 5,
        DataTier.INTERMEDIATE_2: 1,
    }


def test_tiers_are_shuffled_by_the_world_seed() -> None:
    first = assign_tiers(11, 40)
    assert first == assign_tiers(11, 40)
    assert first != assign_tiers(12, 40)
    assert sorted(first) == sorted(assign_tiers(12, 40))
    world = build_world(11, 40, START, 5)
    assert [s.tier for s in world.suppliers] == first


def test_each_tier_sends_what_its_level_needs() -> None:
    world = build_world(4, 9, START, 5)
    tiers = {s.supplier_id: s.tier for s in world.suppliers}
    assert set(tiers.values()) == set(DataTier)
    kinds: dict[str, set[str]] = defaultdict(set)
    lots: dict[str, set[str]] = defaultdict(set)
    inspected: dict[str, set[str]] = defaultdict(set)
    for e in generate(world, seed=4, bad_rate=0.0):
        kinds[e.supplier_id].add(e.event_type)
        if e.event_type == "production":
            lots[e.supplier_id].add(e.record["lot_id"])
        if e.event_type == "quality":
            inspected[e.supplier_id].add(e.record["lot_id"])
            measured = e.record["measurements"]
            if tiers[e.supplier_id] is DataTier.INTERMEDIATE_2:
                assert measured and all(m["lsl"] is not None for m in measured)
            else:
                assert measured == []
    everything = {"production", "shipment", "machine_status", "quality", "energy"}
    for supplier, tier in tiers.items():
        expected = {
            DataTier.BASIC: {"production", "shipment"},
            DataTier.INTERMEDIATE_1: {"production", "shipment", "machine_status", "quality"},
            DataTier.INTERMEDIATE_2: everything,
        }[tier]
        assert kinds[supplier] == expected, (supplier, tier)
        assert inspected[supplier] <= lots[supplier]  # inspections are of produced lots


def test_intermediate_2_lines_hold_after_every_out_of_control_measurement() -> None:
    world = build_world(4, 9, START, 12)  # 10 weekdays: 20 shifts of its one line
    suppliers = {s.supplier_id: s for s in world.suppliers}
    out_of_control: list[tuple[str, str, object]] = []
    holds: dict[tuple[str, str], list[object]] = defaultdict(list)
    for e in generate(world, seed=4, bad_rate=0.0):
        r = e.record
        if e.event_type == "machine_status" and r["reason_code"] == HOLD_REASON:
            assert suppliers[e.supplier_id].tier is DataTier.INTERMEDIATE_2
            assert r["state"] == "DOWN"
            holds[(e.supplier_id, r["line_id"])].append(r["event_time"])
        if e.event_type == "quality" and r["measurements"]:
            supplier = suppliers[e.supplier_id]
            _, nominal, sigma = SECTORS[supplier.sector]["measure"]
            local_day = r["event_time"].astimezone(KST).date()
            spread = sigma * (0.7 if local_day >= supplier.go_live else 1.0)
            if any(abs(m["value"] - nominal) > CONTROL_SIGMAS * spread for m in r["measurements"]):
                out_of_control.append((e.supplier_id, r["line_id"], r["event_time"]))
    assert len(out_of_control) >= 5  # special causes in about half the shifts
    for supplier, line, when in out_of_control:
        assert any(
            timedelta(0) < held - when <= timedelta(hours=8)  # type: ignore[operator]
            for held in holds[(supplier, line)]
        ), (supplier, line, when)
