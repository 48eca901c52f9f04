"""Reference data keeps one record per party: a file may add and correct organisations,
sites, lines, parts and cycle times, but never turn a known supplier into something else, nor name
a supplier nobody onboarded or listed (both databases)."""

import pytest
from sqlalchemy import select

from governance.models import IdealCycleTime, Organisation, Role
from governance.parties import Parties
from governance.reference import ReferenceFile, ReferenceFileError, load_reference
from sangsaeng.db import make_engine

pytestmark = pytest.mark.integration


def test_a_file_cannot_change_an_organisations_role(db_url: str) -> None:
    engine = make_engine(db_url)
    parties = Parties(engine)
    parties.add_supplier("S0001", "Daehan Masks", "masks")
    demoted = ReferenceFile.model_validate(
        {
            "organisations": [{"org_id": "S0001", "name": "Renamed", "role": "buyer"}],
            "sites": [{"site_id": "S0001-P1", "supplier_id": "S0001"}],
        }
    )
    with pytest.raises(
        ReferenceFileError, match=r"organisations\[0\]\.role: 'S0001' is a supplier"
    ):
        load_reference(engine, demoted)
    assert parties.is_supplier("S0001")
    with engine.connect() as conn:
        assert conn.scalar(select(Organisation.name).where(Organisation.org_id == "S0001")) == (
            "Daehan Masks"
        )
    corrected = ReferenceFile.model_validate(
        {
            "organisations": [
                {"org_id": "S0001", "name": "Daehan Masks Co.", "role": "supplier"},
                {"org_id": "B01", "name": "Hanbit Motors", "role": "buyer"},
            ],
            "sites": [{"site_id": "S0001-P1", "supplier_id": "S0001"}],
        }
    )
    assert load_reference(engine, corrected)["organisations"] == 2
    with engine.connect() as conn:
        rows = {k: v for k, v in conn.execute(select(Organisation.org_id, Organisation.role))}
    assert rows == {"S0001": Role.SUPPLIER, "B01": Role.BUYER}
    engine.dispose()


def test_cycle_times_are_upserted_and_need_a_known_supplier(db_url: str) -> None:
    engine = make_engine(db_url)
    Parties(engine).add_supplier("S0001", "Daehan Masks", "masks")
    cycle = {"site_id": "S0001-P1", "line_id": "L1", "part_number": "KF94-MASK"}
    stranger = ReferenceFile.model_validate(
        {"cycle_times": [{**cycle, "supplier_id": "S9999", "ideal_cycle_seconds": 0.4}]}
    )
    with pytest.raises(ReferenceFileError, match=r"cycle_times\[0\]\.supplier_id: 'S9999'"):
        load_reference(engine, stranger)
    for seconds in (0.4, 0.25):  # loading a corrected file again updates the entry
        counts = load_reference(
            engine,
            ReferenceFile.model_validate(
                {"cycle_times": [{**cycle, "supplier_id": "S0001", "ideal_cycle_seconds": seconds}]}
            ),
        )
        assert counts["cycle_times"] == 1
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                IdealCycleTime.supplier_id,
                IdealCycleTime.line_id,
                IdealCycleTime.ideal_cycle_seconds,
            )
        ).all()
    assert [tuple(r) for r in rows] == [("S0001", "L1", 0.25)]
    engine.dispose()


def test_a_file_cannot_move_a_site_to_another_time_zone(db_url: str) -> None:
    """Landed events keep the local days they were counted on: a zone change is refused
    (the same zone again is fine)."""
    engine = make_engine(db_url)
    Parties(engine).add_supplier("S0001", "Daehan Masks", "masks")
    site = {"site_id": "P1", "supplier_id": "S0001", "timezone": "Asia/Seoul"}
    load_reference(engine, ReferenceFile.model_validate({"sites": [site]}))
    moved = ReferenceFile.model_validate({"sites": [{**site, "timezone": "Europe/Berlin"}]})
    with pytest.raises(ReferenceFileError, match=r"sites\[0\]\.timezone: 'P1' is in Asia/Seoul"):
        load_reference(engine, moved)
    assert load_reference(engine, ReferenceFile.model_validate({"sites": [site]}))["sites"] == 1
    engine.dispose()
