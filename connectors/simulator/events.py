"""A supplier's MES day by day: shifts, output, scrap, inspections, machine states,
energy and shipments, plus a configurable share of flawed events.

Deterministic: the same seed gives the same events for a supplier and day, ids included,
whatever window the day lies in: simulating an overlapping window again repeats the
common days' events (duplicates the platform counts once) and adds the new days'. Times
are Korean shifts (06-14, 14-22 KST) on weekdays. Output follows the supplier's
productivity before and after its smart-factory go-live.

What a supplier sends follows its data tier (connectors/simulator/world.py): production
and shipments from every supplier; machine states and inspections of the shift's lot (no
measurements) from intermediate 1 up; measurements against spec limits, hourly energy and
control from intermediate 2: in about half of its shifts one measurement of an inspection
is a special cause, outside the control limits (nominal +- 3 sigma), and whenever a
measurement falls outside them the line's machines go on hold (DOWN, HOLD_SPC) within the
half hour and run again after, the line making nothing meanwhile. Machines of every tier
break down; only the tiers that send machine states report it.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from connectors.simulator.world import SECTORS, DataTier, Line, Supplier, World

KST = timezone(timedelta(hours=9))
SHIFTS = ((6, 14), (14, 22))
REPORT_MINUTES = 30
DEFECT_CODES = ["SCRATCH", "DENT", "BURR", "SHORT_FILL", "MISALIGN", "CONTAMINATION"]
DOWN_REASONS = ["JAM", "TOOL_WEAR", "MATERIAL_SHORT", "SENSOR_FAULT"]
HOLD_REASON = "HOLD_SPC"
CONTROL_SIGMAS = 3.0  # control limits: nominal +- 3 sigma of the process spread
SPECIAL_CAUSE_PER_SHIFT = 0.5  # share of an intermediate 2 line's shifts with one
SPECIAL_CAUSE_SIGMAS = (4.5, 6.0)  # how far a special cause throws a measurement
# Share of shipments that leave after their promised date, and (drawn apart) that leave
# short of the ordered quantity, before and after the smart-factory go-live.
SHIPMENT_SLIP_BEFORE, SHIPMENT_SLIP_AFTER = 0.12, 0.05
# Flaws, each as the MES would commit it. "late" and "duplicate" are valid events that
# arrive late or twice; the others are invalid, some caught by the contract at the edge
# (wrong_type, spoofed_supplier), some only by validation downstream.
FLAWS = [
    "late",
    "duplicate",
    "wrong_type",
    "negative_quantity",
    "defects_above_inspected",
    "unknown_part",
    "spoofed_supplier",
]


@dataclass(frozen=True)
class SimEvent:
    supplier_id: str
    event_type: str
    record: dict[str, Any]
    flaw: str | None = None


class SupplierDay:
    """Generates one supplier's events for one day."""

    def __init__(self, supplier: Supplier, day: date, rng: random.Random) -> None:
        self.s, self.day, self.rng = supplier, day, rng
        self.after_go_live = day >= supplier.go_live
        self.factor = 1 + supplier.uplift if self.after_go_live else 1.0
        self.buyer = supplier.buyer_on(day)
        self.monitors = supplier.tier is not DataTier.BASIC  # machine states, inspections
        self.controls = supplier.tier is DataTier.INTERMEDIATE_2  # SPC, energy, holds
        self.holds: dict[str, list[tuple[float, float]]] = {}  # line -> (held, resumed) hours

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _at(self, hour: float) -> datetime:
        local = datetime(self.day.year, self.day.month, self.day.day, tzinfo=KST)
        return (local + timedelta(hours=hour)).astimezone(UTC)

    def _envelope(self, when: datetime) -> dict[str, Any]:
        return {
            "event_id": self._id(),
            "event_time": when,
            "supplier_id": self.s.supplier_id,
            "site_id": self.s.site_id,
            "source_system": f"sim-mes/{self.s.sector}",
            "buyer_id": self.buyer,
        }

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        if self.day.weekday() >= 5:
            return
        for line in self.s.lines:
            for start, end in SHIFTS:
                yield from self._shift(line, start, end)
        yield from self._shipment()

    def _shift(self, line: Line, start: int, end: int) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        lot = f"LOT-{line.line_id}-{self.day:%Y%m%d}-{start:02d}"
        if self.monitors:
            yield from self._all_machines(line, start, "RUNNING")
        # Unplanned stops are rarer once the factory is smart.
        down_hours = 0.0
        if rng.random() < (0.15 if self.after_go_live else 0.35):
            at = start + rng.uniform(0.5, end - start - 1.5)
            down_hours = rng.uniform(0.2, 1.0)
            machine = rng.choice(line.machines)
            base = {"line_id": line.line_id, "machine_id": machine}
            reason = rng.choice(DOWN_REASONS)
            if self.monitors:
                yield (
                    "machine_status",
                    {
                        **self._envelope(self._at(at)),
                        **base,
                        "state": "DOWN",
                        "reason_code": reason,
                    },
                )
                yield (
                    "machine_status",
                    {
                        **self._envelope(self._at(at + down_hours)),
                        **base,
                        "state": "RUNNING",
                        "reason_code": None,
                    },
                )
        # Inspections are drawn first: a hold they cause stops the line's output.
        inspections = []
        if self.monitors:
            hours_inspected = range(start + 2, end + 1, 2)
            chance = rng.random() < SPECIAL_CAUSE_PER_SHIFT
            special = rng.choice(hours_inspected) if chance else None
            for hour in hours_inspected:
                inspection = self._inspection(line, lot, hour, special_cause=hour == special)
                hold = self._hold_times(hour) if self.out_of_control(inspection) else None
                if hold:
                    self.holds.setdefault(line.line_id, []).append(hold)
                inspections.append((inspection, hold))
        hours = end - start
        per_report = self.s.base_rate * REPORT_MINUTES / 60
        for k in range(hours * 60 // REPORT_MINUTES):
            t0 = start + k * REPORT_MINUTES / 60
            availability = 1 - min(1.0, down_hours / hours)
            running = 1 - self._held(line, t0, t0 + REPORT_MINUTES / 60) * 60 / REPORT_MINUTES
            made = per_report * self.factor * availability * running * rng.uniform(0.9, 1.05)
            scrap_share = (
                rng.uniform(0.005, 0.02) if self.after_go_live else rng.uniform(0.01, 0.04)
            )
            yield (
                "production",
                {
                    **self._envelope(self._at(t0 + REPORT_MINUTES / 60)),
                    "line_id": line.line_id,
                    "work_order_id": f"WO-{self.s.supplier_id}-{self.day:%m%d}-{line.line_id}",
                    "part_number": line.part_number,
                    "lot_id": lot,
                    "quantity_good": round(made * (1 - scrap_share)),
                    "quantity_scrap": round(made * scrap_share),
                    "planned_quantity": round(per_report * (1 + self.s.uplift) * 0.95),
                    "start_time": self._at(t0),
                    "end_time": self._at(t0 + REPORT_MINUTES / 60),
                    "unit": "H87",
                },
            )
        for hour in range(start, end) if self.controls else ():
            yield (
                "energy",
                {
                    **self._envelope(self._at(hour + 1)),
                    "meter_id": line.meter_id,
                    "line_id": line.line_id,
                    "energy_kwh": round(
                        rng.uniform(35, 55) * (0.9 if self.after_go_live else 1.0), 2
                    ),
                    "period_start": self._at(hour),
                    "period_end": self._at(hour + 1),
                    "energy_source": "GRID" if rng.random() < 0.9 else "SOLAR",
                },
            )
        if not self.monitors:
            return
        for inspection, hold in inspections:
            yield "quality", inspection
            if hold:
                yield from self._hold(line, *hold)
        yield from self._all_machines(line, end, "IDLE")

    def _spec(self) -> tuple[str, float, float, float]:
        """(characteristic, nominal, spec sigma, process spread) of the sector's measure."""
        name, nominal, sigma = SECTORS[self.s.sector]["measure"]
        return name, nominal, sigma, sigma * (0.7 if self.after_go_live else 1.0)

    def out_of_control(self, inspection: dict[str, Any]) -> bool:
        """Whether a measurement lies outside the control limits (nominal +- 3 spreads)."""
        _, nominal, _, spread = self._spec()
        return any(
            abs(m["value"] - nominal) > CONTROL_SIGMAS * spread for m in inspection["measurements"]
        )

    def _hold_times(self, hour: float) -> tuple[float, float]:
        """(held, resumed) local hours of the line's reaction to an out-of-control
        measurement at `hour`: on hold within the half hour, for 15 to 45 minutes."""
        held = hour + self.rng.uniform(0.05, 0.5)
        return held, held + self.rng.uniform(0.25, 0.75)

    def _held(self, line: Line, start: float, end: float) -> float:
        """Hours of [start, end) the line was on hold (holds may reach into the next shift)."""
        spans = self.holds.get(line.line_id, [])
        return min(end - start, sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans))

    def _hold(
        self, line: Line, held: float, resumed: float
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The line's machines on hold from `held` to `resumed`: then running again, or
        idle when no shift runs by then."""
        after = "RUNNING" if any(a <= resumed < b for a, b in SHIFTS) else "IDLE"
        for machine in line.machines:
            base = {"line_id": line.line_id, "machine_id": machine}
            yield (
                "machine_status",
                {
                    **self._envelope(self._at(held)),
                    **base,
                    "state": "DOWN",
                    "reason_code": HOLD_REASON,
                },
            )
            yield (
                "machine_status",
                {
                    **self._envelope(self._at(resumed)),
                    **base,
                    "state": after,
                    "reason_code": None,
                },
            )

    def _all_machines(
        self, line: Line, hour: float, state: str
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every machine of the line entering `state` at `hour` (shift start and end)."""
        for machine in line.machines:
            yield (
                "machine_status",
                {
                    **self._envelope(self._at(hour)),
                    "line_id": line.line_id,
                    "machine_id": machine,
                    "state": state,
                    "reason_code": None,
                },
            )

    def _inspection(
        self, line: Line, lot: str, hour: int, *, special_cause: bool = False
    ) -> dict[str, Any]:
        rng = self.rng
        inspected = 50
        p = 0.01 if self.after_go_live else 0.03
        defects = sum(rng.random() < p for _ in range(inspected))
        name, nominal, sigma, spread = self._spec()
        values = [rng.gauss(nominal, spread) for _ in range(3)]
        if special_cause:
            shift = rng.uniform(*SPECIAL_CAUSE_SIGMAS) * spread
            values[rng.randrange(3)] = nominal + rng.choice((-shift, shift))
        return {
            **self._envelope(self._at(hour)),
            "line_id": line.line_id,
            "part_number": line.part_number,
            "lot_id": lot,
            "inspection_stage": "IN_PROCESS",
            "inspected_quantity": inspected,
            "defect_quantity": defects,
            "defects": (
                [
                    {
                        "code": rng.choice(DEFECT_CODES),
                        "count": defects,
                        "severity": "MINOR" if defects < 3 else "MAJOR",
                    }
                ]
                if defects
                else []
            ),
            "measurements": [
                {
                    "characteristic": name,
                    "value": round(value, 4),
                    "lsl": nominal - 4 * sigma,
                    "usl": nominal + 4 * sigma,
                    "unit": "C62",
                }
                for value in values
            ]
            if self.controls
            else [],
            "result": "FAIL" if defects > 3 else "PASS",
        }

    def _shipment(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The day's shipment against its PO line: promised two days out, but some leave
        after the promised date and some short of the ordered quantity (fewer of both
        once the factory is smart)."""
        rng = self.rng
        shipped = self._at(16 + rng.uniform(0, 3))
        promised = self.day + timedelta(days=2)
        delivered = shipped + timedelta(hours=rng.uniform(12, 60))
        line = self.s.lines[0]
        ordered = float(round(self.s.base_rate * 6 * self.factor))
        slip = SHIPMENT_SLIP_AFTER if self.after_go_live else SHIPMENT_SLIP_BEFORE
        if rng.random() < slip:
            promised = self.day - timedelta(days=rng.randint(1, 2))  # leaves late
        quantity = ordered
        if rng.random() < slip:
            quantity = float(round(ordered * rng.uniform(0.8, 0.98)))  # short
        yield (
            "shipment",
            {
                **self._envelope(shipped),
                "buyer_id": self.buyer,
                "shipment_id": f"SH-{self.s.supplier_id}-{self.day:%Y%m%d}",
                "po_number": f"PO-{self.buyer}-{self.day:%Y%V}",
                "part_number": line.part_number,
                "lot_ids": [f"LOT-{line.line_id}-{self.day:%Y%m%d}-06"],
                "quantity": quantity,
                "unit": "H87",
                "promised_date": promised,
                "shipped_at": shipped,
                "delivered_at": delivered,
                "ordered_quantity": ordered,
            },
        )


def _flaw(event: SimEvent, flaw: str, others: list[str], rng: random.Random) -> list[SimEvent]:
    """The event as committed with `flaw` (a list: a duplicate is two events)."""
    record = dict(event.record)
    match flaw:
        case "late":
            record["event_time"] = record["event_time"] - timedelta(days=rng.randint(1, 3))
        case "duplicate":
            return [SimEvent(event.supplier_id, event.event_type, record, flaw)] * 2
        case "wrong_type":
            key = next(
                k
                for k in (
                    "quantity_good",
                    "inspected_quantity",
                    "energy_kwh",
                    "quantity",
                    "machine_id",
                )
                if k in record
            )
            record[key] = "n/a" if key != "machine_id" else 42
        case "negative_quantity":
            key = next(
                (
                    k
                    for k in ("quantity_good", "defect_quantity", "energy_kwh", "quantity")
                    if k in record
                ),
                None,
            )
            if key is None:
                return _flaw(event, "late", others, rng)
            record[key] = -abs(record[key]) - 1
        case "defects_above_inspected":
            if "inspected_quantity" not in record:
                return _flaw(event, "negative_quantity", others, rng)
            record["defect_quantity"] = record["inspected_quantity"] + rng.randint(1, 20)
        case "unknown_part":
            if "part_number" not in record:
                return _flaw(event, "negative_quantity", others, rng)
            record["part_number"] = "P-UNKNOWN-" + str(rng.randint(100, 999))
        case "spoofed_supplier":
            record["supplier_id"] = rng.choice(others) if others else "S9999"
    return [SimEvent(event.supplier_id, event.event_type, record, flaw)]


def generate(world: World, *, seed: int, bad_rate: float) -> Iterator[SimEvent]:
    """Every event of the simulated window, day by day, supplier by supplier.

    The random stream (and so every event id and flaw) is keyed by the seed, the
    supplier and the day: the same seed gives byte-identical events for a day whatever
    window it lies in, so two overlapping windows share the events of their common days
    (sent again, they are duplicates, not new output) and a later window adds new ones.
    """
    ids = [s.supplier_id for s in world.suppliers]
    for offset in range(world.days):
        day = world.start + timedelta(days=offset)
        for supplier in world.suppliers:
            rng = random.Random(f"events-{seed}-{supplier.supplier_id}-{day.isoformat()}")
            for event_type, record in SupplierDay(supplier, day, rng).events():
                event = SimEvent(supplier.supplier_id, event_type, record)
                if rng.random() < bad_rate:
                    others = [i for i in ids if i != supplier.supplier_id]
                    yield from _flaw(event, rng.choice(FLAWS), others, rng)
                else:
                    yield event
