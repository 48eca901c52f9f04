"""The buyer API's endpoints per role over a small hand-made programme, on SQLite and
PostgreSQL: a sponsorship's default agreement at work, the buyer's suppliers and lot
trace (its own shipments only), the supplier's agreements (narrow, revoke), maturity,
readiness, quarantine and audit, the operator's and the ministry's roll-ups (no group
under five suppliers), and the docs served without internet."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from governance.models import ApiKey, AuditEntry
from governance.parties import KEY_CACHE_SECONDS, KnownKeys, Parties, hash_key
from governance.sharing import SharingError, Split, add_sponsorship
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from serving.app import create_app
from tests.support import upgraded_engine
from tests.views_support import at, land, reference

pytestmark = pytest.mark.integration

TODAY = date(2026, 3, 16)
DAY = date(2026, 3, 9)
SUPPLIERS = [f"S{n}" for n in range(1, 7)]
REFERENCE = {
    "organisations": [
        {"org_id": "B1", "name": "Hanbit Motors", "role": "buyer"},
        {"org_id": "B2", "name": "Daesan Steel", "role": "buyer"},
        {"org_id": "OP", "name": "Programme office", "role": "operator"},
        {"org_id": "MIN", "name": "Ministry", "role": "ministry"},
        *[
            {"org_id": s, "name": f"Supplier {s}", "role": "supplier", "sector": "masks"}
            for s in SUPPLIERS
        ],
    ],
    "sites": [{"site_id": f"P{s}", "supplier_id": s, "timezone": "Asia/Seoul"} for s in SUPPLIERS],
    "lines": [{"line_id": "L1", "site_id": f"P{s}", "supplier_id": s} for s in SUPPLIERS],
    "parts": [{"part_number": p, "supplier_id": s} for s in SUPPLIERS for p in ("X", "Y")],
}


def report(supplier: str, part: str, buyer: str, lot: str) -> dict[str, Any]:
    end = at(DAY, 11)
    return {
        "event_time": end,
        "supplier_id": supplier,
        "site_id": f"P{supplier}",
        "buyer_id": buyer,
        "line_id": "L1",
        "work_order_id": f"WO-{lot}",
        "part_number": part,
        "lot_id": lot,
        "quantity_good": 100,
        "quantity_scrap": 2,
        "planned_quantity": 110,
        "start_time": end - timedelta(hours=2),
        "end_time": end,
        "unit": "H87",
    }


def shipment(supplier: str, buyer: str, part: str, lot: str, n: int) -> dict[str, Any]:
    shipped = at(DAY, 15)
    return {
        "event_time": shipped,
        "supplier_id": supplier,
        "site_id": f"P{supplier}",
        "buyer_id": buyer,
        "shipment_id": f"SH{n}",
        "po_number": f"PO{n}",
        "part_number": part,
        "lot_ids": [lot],
        "quantity": 50.0,
        "unit": "H87",
        "promised_date": DAY + timedelta(days=1),
        "shipped_at": shipped,
        "delivered_at": None,
        "ordered_quantity": 50.0,
    }


@pytest.fixture
def programme(db_url: str) -> tuple[Engine, TestClient, dict[str, str]]:
    engine = upgraded_engine(db_url)
    reference(engine, REFERENCE)
    add_sponsorship(engine, "B1", "S1", "Masks line", TODAY - timedelta(days=5))
    add_sponsorship(engine, "B2", "S1", "Masks line 2", TODAY - timedelta(days=5))
    add_sponsorship(engine, "B1", "S2", "Masks", TODAY - timedelta(days=5))
    land(
        engine,
        EventType.PRODUCTION,
        [
            report("S1", "X", "B1", "LOT-A"),
            report("S1", "Y", "B2", "LOT-B"),
            report("S2", "X", "B1", "LOT-C"),
            report("S3", "X", "B2", "LOT-D"),
        ],
    )
    land(
        engine,
        EventType.SHIPMENT,
        [
            shipment("S1", "B1", "X", "LOT-A", 1),
            shipment("S1", "B2", "Y", "LOT-B", 2),
            shipment("S1", "B2", "X", "LOT-A", 3),  # the same lot to another buyer
            shipment("S2", "B1", "X", "LOT-C", 4),
            shipment("S1", "B1", "Y", "LOT-A", 5),  # the lot once more, as another part
        ],
    )
    refresh(engine, load_settings())
    parties = Parties(engine)
    keys = {org: parties.issue_org_key(org) for org in ("B1", "B2", "OP", "MIN", "S1", "S2")}
    return engine, TestClient(create_app(engine, today=lambda: TODAY)), keys


def get(client: TestClient, key: str, path: str, purpose: str | None = "quality") -> Any:
    headers = {"X-API-Key": key, **({"X-Purpose": purpose} if purpose else {})}
    return client.get(path, headers=headers)


def test_a_sponsorship_shares_the_parts_shipped_to_its_buyer(programme: Any) -> None:
    _, client, keys = programme
    rows = get(client, keys["B1"], "/v1/views/production_daily").json()["rows"]
    assert {(r["supplier_id"], r["part_number"], r["buyer_id"]) for r in rows} == {
        ("S1", "X", "B1"),
        ("S2", "X", "B1"),
    }
    rows = get(client, keys["B2"], "/v1/views/production_daily").json()["rows"]
    # B2 gets S1's Y (its order) but not S1's X made for B1, though S1 shipped it X too
    assert {(r["supplier_id"], r["part_number"]) for r in rows} == {("S1", "Y")}
    mine = get(client, keys["B1"], "/v1/suppliers").json()["suppliers"]
    assert [s["supplier_id"] for s in mine] == ["S1", "S2"]
    assert mine[0]["name"] == "Supplier S1"


def test_a_lot_trace_shows_only_the_buyers_own_shipments(programme: Any) -> None:
    _, client, keys = programme
    found = get(client, keys["B2"], "/v1/lots/LOT-A/trace").json()["found"]
    assert len(found) == 1 and "buyers" not in found[0] and "shipments" not in found[0]
    assert [s["buyer_id"] for s in found[0]["shipped_to"]] == ["B2"]
    assert get(client, keys["B2"], "/v1/lots/LOT-C/trace").status_code == 404
    supplier = get(client, keys["S1"], "/v1/lots/LOT-A/trace").json()["found"][0]
    assert sorted(s["buyer_id"] for s in supplier["shipped_to"]) == ["B1", "B1", "B2"]


def test_a_lot_trace_keeps_to_the_parts_of_a_narrowed_agreement(programme: Any) -> None:
    _, client, keys = programme
    found = get(client, keys["B1"], "/v1/lots/LOT-A/trace").json()["found"]
    assert sorted(s["shipment_id"] for s in found[0]["shipped_to"]) == ["SH1", "SH5"]
    # first and last day span the shipments to every buyer: not a buyer's to see
    assert "first_day" not in found[0] and "last_day" not in found[0]
    assert get(client, keys["B1"], "/v1/views/lot_trace?from=2026-03-01").status_code == 400
    agreement = next(
        a
        for a in get(client, keys["S1"], "/v1/me/agreements", None).json()["agreements"]
        if a["buyer"] == "B1"
    )
    narrowed = client.post(
        f"/v1/me/agreements/{agreement['agreement']}/narrow",
        json={"parts": ["X"]},
        headers={"X-API-Key": keys["S1"]},
    )
    assert narrowed.status_code == 200
    found = get(client, keys["B1"], "/v1/lots/LOT-A/trace").json()["found"]
    assert [s["shipment_id"] for s in found[0]["shipped_to"]] == ["SH1"]


def test_each_supplier_sees_only_its_own_rows_in_the_audit(programme: Any) -> None:
    _, client, keys = programme
    rows = get(client, keys["B1"], "/v1/views/delivery_weekly", "delivery").json()["rows"]
    by_supplier = {s: sum(1 for r in rows if r["supplier_id"] == s) for s in ("S1", "S2")}
    assert by_supplier["S1"] >= 1 and by_supplier["S2"] >= 1
    for supplier in ("S1", "S2"):
        reads = get(client, keys[supplier], "/v1/me/audit", None).json()["reads"]
        assert reads[0]["rows"] == by_supplier[supplier]
        assert reads[0]["at"].endswith(("Z", "+00:00"))  # UTC on either database


def test_csv_writes_json_columns_as_json_and_an_empty_page_with_its_header(
    programme: Any,
) -> None:
    import csv
    import io
    import json

    _, client, keys = programme
    got = client.get(
        "/v1/views/supplier_maturity",
        headers={"X-API-Key": keys["S1"], "X-Purpose": "quality", "Accept": "text/csv"},
    )
    row = next(csv.DictReader(io.StringIO(got.text)))
    assert isinstance(json.loads(row["evidence"]), list)
    empty = client.get(
        "/v1/views/oee_daily?supplier=S9",
        headers={"X-API-Key": keys["S1"], "X-Purpose": "quality", "Accept": "text/csv"},
    )
    assert empty.text.splitlines() == [empty.text.splitlines()[0]]
    assert empty.text.startswith("supplier_id,site_id,line_id,day")


def test_the_supplier_narrows_and_revokes_and_the_buyer_sees_it(programme: Any) -> None:
    _, client, keys = programme
    assert len(get(client, keys["B1"], "/v1/views/quality_daily?supplier=S1").json()["rows"]) == 0
    assert len(get(client, keys["B1"], "/v1/views/oee_daily?supplier=S1").json()["rows"]) == 1
    agreements = get(client, keys["S1"], "/v1/me/agreements", None).json()["agreements"]
    b1 = next(a for a in agreements if a["buyer"] == "B1")
    path = f"/v1/me/agreements/{b1['agreement']}"
    wider = client.post(
        f"{path}/narrow",
        json={"purposes": ["quality", "marketing"]},
        headers={"X-API-Key": keys["S1"]},
    )
    assert wider.status_code == 400 and "not a purpose" in wider.json()["detail"]
    narrowed = client.post(
        f"{path}/narrow", json={"purposes": ["delivery"]}, headers={"X-API-Key": keys["S1"]}
    )
    assert narrowed.status_code == 200 and narrowed.json()["purposes"] == "delivery"
    assert get(client, keys["B1"], "/v1/views/production_daily?supplier=S1").json()["rows"] == []
    again = client.post(
        f"{path}/narrow",
        json={"purposes": ["delivery", "quality"]},
        headers={"X-API-Key": keys["S1"]},
    )
    assert again.status_code == 400 and "widens" in again.json()["detail"]
    # a buyer cannot narrow or revoke
    assert client.post(f"{path}/revoke", headers={"X-API-Key": keys["B1"]}).status_code == 403
    assert client.post(f"{path}/revoke", headers={"X-API-Key": keys["S1"]}).status_code == 200
    rows = get(client, keys["B1"], "/v1/views/delivery_weekly", "delivery").json()["rows"]
    assert {r["supplier_id"] for r in rows} == {"S2"}
    # the audit trail shows S1 who read its rows
    reads = get(client, keys["S1"], "/v1/me/audit", None).json()["reads"]
    assert [(r["organisation"], r["view"], r["rows"]) for r in reads] == [("B1", "oee_daily", 1)]


def test_supplier_standing_and_quarantine(programme: Any) -> None:
    _, client, keys = programme
    maturity = get(client, keys["S1"], "/v1/me/maturity", None).json()["maturity"]
    assert maturity["supplier_id"] == "S1" and maturity["next_step"]
    readiness = get(client, keys["S1"], "/v1/me/readiness", None).json()["readiness"]
    assert readiness and {r["supplier_id"] for r in readiness} == {"S1"}
    assert get(client, keys["S1"], "/v1/me/quarantine", None).json()["quarantined"] == []
    assert get(client, keys["B1"], "/v1/me/maturity", None).status_code == 403


def test_the_programme_sees_groups_of_five_or_more_only(programme: Any) -> None:
    engine, client, keys = programme
    few = get(client, keys["OP"], "/v1/programme/maturity", "programme")
    assert few.status_code == 403 and "fewer than 5" in few.json()["detail"]
    land(engine, EventType.PRODUCTION, [report(s, "X", "B2", f"LOT-{s}") for s in SUPPLIERS[3:]])
    refresh(engine, load_settings())
    for org in ("OP", "MIN"):
        body = get(client, keys[org], "/v1/programme/maturity", "programme").json()
        assert body["suppliers"] == 6
        assert sum(g["suppliers"] for g in body["levels"]) == 6
        assert all(g["suppliers"] == 0 or g["suppliers"] >= 5 for g in body["levels"])
        assert [lv for g in body["levels"] for lv in g["levels"]][:2] == ["none", "basic"]
        groups = get(client, keys[org], "/v1/programme/impact", "programme").json()["groups"]
        assert all(g["suppliers"] >= 5 for g in groups)
    assert get(client, keys["B1"], "/v1/programme/maturity", "programme").status_code == 403
    assert get(client, keys["OP"], "/v1/views/oee_daily", "programme").status_code == 403
    sponsorships = get(client, keys["OP"], "/v1/sponsorships", None).json()["sponsorships"]
    assert len(sponsorships) == 3
    assert get(client, keys["MIN"], "/v1/sponsorships", None).status_code == 403


def test_sponsorship_rules() -> None:
    with pytest.raises(SharingError, match="sums to 110"):
        Split(40, 30, 40).check()
    with pytest.raises(SharingError, match="caps it at 40"):
        Split(20, 30, 50).check()
    Split().check()


def test_docs_are_served_without_internet(programme: Any) -> None:
    _, client, _ = programme
    page = client.get("/docs").text
    assert "cdn" not in page.lower() and "/static-offline-docs" in page
    spec = client.get("/openapi.json").json()
    assert "/v1/views/{view}" in spec["paths"] and "/v1/me/audit" in spec["paths"]


def test_a_revoked_key_is_refused_once_the_api_stops_trusting_it(programme: Any) -> None:
    """The gate keeps a key it found valid for KEY_CACHE_SECONDS: revoked meanwhile, it
    works until then and is refused (401, audited) from then on."""
    engine, _, keys = programme

    class Clock:
        now = 1000.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    client = TestClient(create_app(engine, today=lambda: TODAY, keys=KnownKeys(clock=clock)))
    assert get(client, keys["B1"], "/v1/suppliers").status_code == 200
    with engine.begin() as conn:
        conn.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == hash_key(keys["B1"]))
            .values(revoked_at=datetime(2026, 3, 16, 9, tzinfo=UTC))
        )
    clock.now += KEY_CACHE_SECONDS - 0.5
    assert get(client, keys["B1"], "/v1/suppliers").status_code == 200
    clock.now += 0.5
    refused = get(client, keys["B1"], "/v1/suppliers")
    assert refused.status_code == 401, refused.text
    assert get(client, keys["B2"], "/v1/suppliers").status_code == 200  # its own key, untouched
    with engine.connect() as conn:
        last = conn.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(2)).all()
    assert [(r.org_id, r.status) for r in last] == [("B2", 200), (None, 401)]
