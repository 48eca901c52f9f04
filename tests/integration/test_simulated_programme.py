"""The simulated programme's parties as the demo records them on an empty database, on
SQLite and PostgreSQL: the reference file first (its organisations), then every
sponsorship with its default agreement, idempotently (the demo runs again and again), and
keys that open the API for the roles they are meant for."""

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from connectors.simulator.programme import demo_keys, seed_programme
from connectors.simulator.world import build_world
from governance.models import SharingAgreement, Sponsorship
from governance.reference import ReferenceFile, load_reference
from serving.app import create_app
from tests.support import upgraded_engine

pytestmark = pytest.mark.integration

START = date(2026, 3, 2)  # pinned
TODAY = date(2026, 3, 16)


def test_the_demo_programme_seeds_after_its_reference_data(db_url: str) -> None:
    engine = upgraded_engine(db_url)
    world = build_world(7, 12, START, 14)
    expected = {(b, s.supplier_id) for s in world.suppliers for b in s.sponsor_ids}
    assert any(len(s.sponsor_ids) == 2 for s in world.suppliers)  # some have two sponsors
    with pytest.raises(Exception, match="not an organisation"):  # the order matters
        seed_programme(engine, world, TODAY)
    load_reference(engine, ReferenceFile.model_validate(world.reference()))
    assert seed_programme(engine, world, TODAY) == len(expected)
    assert seed_programme(engine, world, TODAY) == 0  # a second demo run adds nothing
    s, a = Sponsorship.__table__.c, SharingAgreement.__table__.c
    with engine.connect() as conn:
        assert {tuple(r) for r in conn.execute(select(s.buyer_id, s.supplier_id))} == expected
        agreed = {tuple(r) for r in conn.execute(select(a.buyer_id, a.supplier_id))}
    assert agreed == expected  # each sponsorship brought its default agreement

    keys = demo_keys(engine, world)
    client = TestClient(create_app(engine, today=lambda: TODAY))

    def get(key: str, path: str, purpose: str) -> int:
        return client.get(path, headers={"X-API-Key": key, "X-Purpose": purpose}).status_code

    buyer, supplier = keys.buyer, keys.supplier
    assert (buyer[0], supplier[0]) in expected  # the supplier is the buyer's
    assert get(buyer[1], "/v1/suppliers", "quality") == 200
    assert get(supplier[1], "/v1/me/agreements", "quality") == 200
    assert get(keys.operator[1], "/v1/sponsorships", "programme") == 200
    assert get(buyer[1], "/v1/sponsorships", "programme") == 403
