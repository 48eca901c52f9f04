"""The simulated programme's parties beyond the reference file: the operator and the
ministry, every sponsorship (some suppliers with two sponsors, each with its default
sharing agreement), and API keys for the demo's readers."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import Engine

from connectors.simulator.world import World, sponsorships_of
from governance.models import Role, Sponsorship
from governance.parties import Parties
from governance.sharing import add_sponsorship

OPERATOR = ("OPERATOR", "Smart Factory Programme Office")
MINISTRY = ("MINISTRY", "Ministry of SMEs and Startups")
PROJECT = "Win-win smart factory"


@dataclass(frozen=True)
class DemoKeys:
    """API keys issued for the demo (shown once): one buyer, one of its suppliers, the
    operator."""

    buyer: tuple[str, str]
    supplier: tuple[str, str]
    operator: tuple[str, str]


def seed_programme(engine: Engine, world: World, today: date) -> int:
    """Record the operator, the ministry and the sponsorships not recorded yet
    (idempotent); returns the sponsorships added."""
    parties = Parties(engine)
    parties.add_organisation(*OPERATOR, Role.OPERATOR)
    parties.add_organisation(*MINISTRY, Role.MINISTRY)
    t = Sponsorship.__table__.c
    with engine.connect() as conn:
        known = {
            (r.buyer_id, r.supplier_id) for r in conn.execute(select(t.buyer_id, t.supplier_id))
        }
    added = 0
    for buyer, supplier, go_live in sponsorships_of(world):
        if (buyer, supplier) not in known:
            add_sponsorship(engine, buyer, supplier, PROJECT, today, go_live=go_live)
            added += 1
    return added


def demo_keys(engine: Engine, world: World) -> DemoKeys:
    """New keys for the first sponsor, its first supplier, and the operator."""
    parties = Parties(engine)
    buyer = world.sponsors[0].sponsor_id
    supplier = next(s.supplier_id for s in world.suppliers if s.sponsor_id == buyer)
    return DemoKeys(
        (buyer, parties.issue_org_key(buyer)),
        (supplier, parties.issue_org_key(supplier)),
        (OPERATOR[0], parties.issue_org_key(OPERATOR[0])),
    )
