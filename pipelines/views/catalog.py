"""Every view, in the order a refresh runs them (each after the views it reads)."""

from collections.abc import Iterable, Mapping
from graphlib import TopologicalSorter

from pipelines.views import (
    carbon,
    delivery,
    impact,
    lots,
    maturity,
    oee,
    production,
    quality,
    readiness,
)
from pipelines.views.base import View
from pipelines.views.keys import SupplierDay
from schemas.topics import EventType

VIEWS: tuple[View, ...] = (
    production.VIEW,
    quality.DAILY,
    quality.DEFECTS,
    quality.CAPABILITY,
    oee.VIEW,
    delivery.VIEW,
    lots.VIEW,
    carbon.VIEW,
    readiness.VIEW,
    maturity.VIEW,
    impact.VIEW,
)

BY_NAME: dict[str, View] = {v.name: v for v in VIEWS}


def ordered(names: list[str] | None = None) -> list[View]:
    """The views `names` (all when None) and the views they read, in refresh order;
    `KeyError` for an unknown name."""
    wanted = set(BY_NAME) if names is None else {BY_NAME[n].name for n in names}
    pending = list(wanted)
    while pending:  # the views a wanted view reads come first, so it reads them fresh
        for upstream in BY_NAME[pending.pop()].depends_on:
            if upstream not in wanted:
                wanted.add(upstream)
                pending.append(upstream)
    order = TopologicalSorter({v.name: set(v.depends_on) for v in VIEWS}).static_order()
    return [BY_NAME[n] for n in order if n in wanted]


def readers(view: View) -> list[View]:
    """The views that read `view` (its rows are their input)."""
    return [v for v in VIEWS if view.name in v.depends_on]


def reading(event_type: EventType) -> list[View]:
    """The views a landed event of `event_type` makes stale."""
    return [v for v in VIEWS if event_type in v.reads]


def stale(
    landed: Mapping[EventType, Iterable[SupplierDay]],
    quarantined: Iterable[SupplierDay] = (),
) -> dict[str, set[SupplierDay]]:
    """The view keys made stale by rows landed (per event type) and records quarantined."""
    out: dict[str, set[SupplierDay]] = {}
    for event_type, keys in landed.items():
        made_stale = set(keys)
        for view in reading(event_type):
            out.setdefault(view.name, set()).update(made_stale)
    refused = set(quarantined)
    for view in VIEWS:
        if view.reads_quarantine and refused:
            out.setdefault(view.name, set()).update(refused)
    return out
