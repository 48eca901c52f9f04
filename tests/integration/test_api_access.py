"""The buyer API returns exactly the rows the sharing rules allow, on SQLite and
PostgreSQL: hypothesis draws production and shipments of three suppliers for three
buyers, and agreements (views, purposes, listed or shipped parts, past, current and
future validity, revoked); every caller reads every view for every purpose, page by
page, and gets exactly what a naive Python oracle over the same rules lets through:
no row outside, none missing. Every request leaves one audit row and the chain holds."""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from governance import audit
from governance.models import (
    AgreementPart,
    AgreementPurpose,
    AgreementView,
    AuditEntry,
    AuditSupplier,
    PartScope,
    Purpose,
    SharingAgreement,
)
from governance.parties import Parties
from governance.sharing import Agreement, add_agreement
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from serving.app import create_app
from tests.support import upgraded_engine
from tests.views_support import at, land, reference, wipe

pytestmark = pytest.mark.integration

TODAY = date(2026, 3, 16)  # pinned: agreements are judged on this day, not the machine's
DAY0 = date(2026, 3, 2)
SUPPLIERS = ("S1", "S2", "S3")
BUYERS = ("B1", "B2", "B3")
PARTS = ("X", "Y", "Z")
VIEWS = ("production_daily", "delivery_weekly", "oee_daily", "lot_trace")
REFERENCE = {
    "organisations": [
        *[{"org_id": b, "name": f"Buyer {b}", "role": "buyer"} for b in BUYERS],
        *[{"org_id": s, "name": f"Supplier {s}", "role": "supplier"} for s in SUPPLIERS],
        {"org_id": "OP", "name": "Operator", "role": "operator"},
    ],
    "sites": [{"site_id": f"P{s}", "supplier_id": s, "timezone": "Asia/Seoul"} for s in SUPPLIERS],
    "lines": [{"line_id": "L1", "site_id": f"P{s}", "supplier_id": s} for s in SUPPLIERS],
    "parts": [{"part_number": p, "supplier_id": s} for s in SUPPLIERS for p in PARTS],
}

suppliers = st.sampled_from(SUPPLIERS)
parts = st.sampled_from(PARTS)
days = st.integers(min_value=0, max_value=6)
production = st.lists(
    st.tuples(suppliers, parts, st.sampled_from((None, *BUYERS)), days), max_size=12
)
shipments = st.lists(st.tuples(suppliers, st.sampled_from(BUYERS), parts, days), max_size=8)
validity = st.sampled_from(["current", "open", "expired", "future", "ends_today", "starts_today"])
agreements = st.lists(
    st.tuples(
        suppliers,
        st.sampled_from(BUYERS),
        st.sets(st.sampled_from(VIEWS), min_size=0, max_size=3),
        st.sets(st.sampled_from([p.value for p in Purpose]), min_size=1, max_size=3),
        st.one_of(st.none(), st.sets(parts, max_size=2)),  # None: every part shipped
        validity,
        st.booleans(),  # revoked
    ),
    max_size=6,
)


def dates_of(kind: str) -> tuple[date, date | None]:
    return {
        "current": (TODAY - timedelta(days=10), TODAY + timedelta(days=10)),
        "open": (TODAY - timedelta(days=30), None),
        "expired": (TODAY - timedelta(days=30), TODAY - timedelta(days=1)),
        "future": (TODAY + timedelta(days=1), None),
        "ends_today": (TODAY - timedelta(days=3), TODAY),
        "starts_today": (TODAY, TODAY + timedelta(days=3)),
    }[kind]


def report(supplier: str, part: str, buyer: str | None, offset: int, n: int) -> dict[str, Any]:
    end = at(DAY0 + timedelta(days=offset), 10 + n % 8)
    return {
        "event_time": end,
        "supplier_id": supplier,
        "site_id": f"P{supplier}",
        "buyer_id": buyer,
        "line_id": "L1",
        "work_order_id": f"WO{n}",
        "part_number": part,
        "lot_id": f"LOT{n % 4}",
        "quantity_good": 10 + n,
        "quantity_scrap": n % 3,
        "planned_quantity": None,
        "start_time": end - timedelta(hours=1),
        "end_time": end,
        "unit": "H87",
    }


def shipment(supplier: str, buyer: str, part: str, offset: int, n: int) -> dict[str, Any]:
    shipped = at(DAY0 + timedelta(days=offset), 15)
    return {
        "event_time": shipped,
        "supplier_id": supplier,
        "site_id": f"P{supplier}",
        "buyer_id": buyer,
        "shipment_id": f"SH{n}",
        "po_number": f"PO{n}",
        "part_number": part,
        "lot_ids": [f"LOT{n % 4}"],
        "quantity": 5.0,
        "unit": "H87",
        "promised_date": DAY0 + timedelta(days=offset + 1),
        "shipped_at": shipped,
        "delivered_at": None,
        "ordered_quantity": None,
    }


@dataclass
class World:
    engine: Engine
    client: TestClient
    keys: dict[str, str]


_worlds: dict[str, World] = {}


def world(db_url: str) -> World:
    """One database and API per backend for all examples (wiped in each); keys issued once."""
    if db_url not in _worlds:
        engine = upgraded_engine(db_url)
        reference(engine, REFERENCE)
        parties = Parties(engine)
        keys = {org: parties.issue_org_key(org) for org in (*SUPPLIERS, *BUYERS, "OP")}
        client = TestClient(create_app(engine, today=lambda: TODAY))
        _worlds[db_url] = World(engine, client, keys)
    return _worlds[db_url]


def reset(w: World) -> None:
    wipe(w.engine)
    with w.engine.begin() as conn:
        for table in (AgreementPart, AgreementPurpose, AgreementView, SharingAgreement):
            conn.execute(delete(table))


def read_all(w: World, org: str, view: str, purpose: str) -> tuple[int, list[dict[str, Any]]]:
    """Every page of `view` as `org` reads it (limit 2: cursors followed)."""
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        got = w.client.get(
            f"/v1/views/{view}",
            params=params,
            headers={"X-API-Key": w.keys[org], "X-Purpose": purpose},
        )
        if got.status_code != 200:
            return got.status_code, []
        body = got.json()
        rows += body["rows"]
        cursor = body["next_cursor"]
        if not cursor:
            return 200, rows
    raise AssertionError("the cursor never ended")


KEY_COLUMNS = {
    "production_daily": ("supplier_id", "site_id", "line_id", "part_number", "buyer_id", "day"),
    "delivery_weekly": ("supplier_id", "buyer_id", "part_number", "week"),
    "oee_daily": ("supplier_id", "site_id", "line_id", "day"),
    "lot_trace": ("supplier_id", "lot_id"),
}


def keys_of(rows: list[dict[str, Any]], view: str) -> set[tuple[Any, ...]]:
    return {tuple(str(r[c]) if r[c] is not None else None for c in KEY_COLUMNS[view]) for r in rows}


def table_of(w: World, view: str) -> list[dict[str, Any]]:
    from pipelines.views.catalog import BY_NAME

    with w.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(BY_NAME[view].table))]


def oracle(
    rows: list[dict[str, Any]],
    view: str,
    org: str,
    purpose: str,
    granted: list[Agreement],
    shipped: set[tuple[str, str, str]],
    lots_shipped: set[tuple[str, str, str, str]],
) -> list[dict[str, Any]] | None:
    """The rows `org` may read, by the rules written out naively; None: refused (403)."""
    if org in SUPPLIERS:
        return [r for r in rows if r["supplier_id"] == org]
    if org == "OP":
        return None
    mine = [a for a in granted if a.buyer_id == org and a.allows(view, purpose, TODAY)]
    if not mine:
        return None

    def part_ok(a: Agreement, supplier: str, part: str) -> bool:
        if (supplier, org, part) not in shipped:
            return False
        return a.part_scope != PartScope.LISTED or part in a.parts

    out = []
    for r in rows:
        if "buyer_id" in r and r["buyer_id"] not in (None, org):
            continue
        for a in mine:
            if a.supplier_id != r["supplier_id"]:
                continue
            if view == "lot_trace":  # through the lot's shipments to this buyer
                if not any(
                    (s, b, lot) == (r["supplier_id"], org, r["lot_id"]) and part_ok(a, s, p)
                    for s, b, p, lot in lots_shipped
                ):
                    continue
            elif "part_number" in r and not part_ok(a, r["supplier_id"], r["part_number"]):
                continue
            out.append(r)
            break
    return out


def ids() -> Iterator[str]:
    return (f"AG{n}" for n in itertools.count())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(production=production, shipments=shipments, agreements=agreements)
def test_every_caller_reads_exactly_what_the_rules_allow(
    db_url: str,
    production: list[tuple[str, str, str | None, int]],
    shipments: list[tuple[str, str, str, int]],
    agreements: list[tuple[str, str, set[str], set[str], set[str] | None, str, bool]],
) -> None:
    w = world(db_url)
    reset(w)
    note(f"production={production!r} shipments={shipments!r} agreements={agreements!r}")
    land(w.engine, EventType.PRODUCTION, [report(*p, n) for n, p in enumerate(production)])
    land(w.engine, EventType.SHIPMENT, [shipment(*s, n) for n, s in enumerate(shipments)])
    refresh(w.engine, load_settings(), list(VIEWS))  # lot_trace refreshes lot_shipments too
    granted = []
    new_id = ids()
    for supplier, buyer, views, purposes, listed, kind, revoked in agreements:
        first, last = dates_of(kind)
        granted.append(
            Agreement(
                next(new_id),
                supplier,
                buyer,
                None,
                frozenset(views),
                frozenset(purposes),
                PartScope.SHIPPED if listed is None else PartScope.LISTED,
                frozenset(listed or ()),
                first,
                last,
                "revoked" if revoked else "active",
            )
        )
    with w.engine.begin() as conn:
        for agreement in granted:
            add_agreement(conn, agreement)
    shipped = {(s, b, p) for s, b, p, _ in shipments}
    lots_shipped = {(s, b, p, f"LOT{n % 4}") for n, (s, b, p, _) in enumerate(shipments)}
    with w.engine.connect() as conn:
        audited_before = conn.scalar(select(func.count()).select_from(AuditEntry.__table__))
    requests = 0
    for view in VIEWS:
        rows = table_of(w, view)
        for org in (*SUPPLIERS, *BUYERS, "OP"):
            for purpose in ("quality", "production"):
                status, got = read_all(w, org, view, purpose)
                requests += max(1, -(-len(got) // 2)) if status == 200 else 1
                want = oracle(rows, view, org, purpose, granted, shipped, lots_shipped)
                if want is None:
                    assert status == 403, (org, view, purpose)
                    continue
                assert status == 200, (org, view, purpose)
                assert keys_of(got, view) == keys_of(want, view), (org, view, purpose)
                assert len(got) == len(want)
                if org in BUYERS and view == "lot_trace":  # other buyers' shipments left out
                    assert all("buyers" not in r and "shipments" not in r for r in got)
    with w.engine.connect() as conn:
        audited = conn.scalar(select(func.count()).select_from(AuditEntry.__table__))
    # one audit row per request (a last page that is full costs one more request)
    assert audited - audited_before >= requests
    assert audit.verify(w.engine).intact


def test_purpose_key_and_role_are_checked_and_audited(db_url: str) -> None:
    w = world(db_url)
    reset(w)
    land(w.engine, EventType.PRODUCTION, [report("S1", "X", "B1", 0, 1)])
    land(w.engine, EventType.SHIPMENT, [shipment("S1", "B1", "X", 0, 1)])
    refresh(w.engine, load_settings())
    with w.engine.begin() as conn:
        add_agreement(
            conn,
            Agreement(
                "AGX",
                "S1",
                "B1",
                None,
                frozenset(VIEWS),
                frozenset({"quality"}),
                PartScope.SHIPPED,
                frozenset(),
                TODAY - timedelta(days=1),
                None,
            ),
        )

    def count() -> int:
        with w.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(AuditEntry.__table__)) or 0

    cases = [
        ({"X-API-Key": w.keys["B1"]}, 400, "X-Purpose"),
        ({"X-API-Key": w.keys["B1"], "X-Purpose": "marketing"}, 400, "unknown purpose"),
        ({"X-Purpose": "quality"}, 401, "X-API-Key"),
        ({"X-API-Key": "ssk_not-a-key", "X-Purpose": "quality"}, 401, "X-API-Key"),
        ({"X-API-Key": w.keys["B1"], "X-Purpose": "carbon"}, 403, "no agreement"),
        ({"X-API-Key": w.keys["OP"], "X-Purpose": "quality"}, 403, "roll-ups"),
    ]
    for headers, status, words in cases:
        before = count()
        got = w.client.get("/v1/views/production_daily", headers=headers)
        assert got.status_code == status, (headers, got.text)
        assert words in got.json()["detail"]
        assert count() == before + 1, "a refused request leaves one audit row"
    before = count()
    got = w.client.get(
        "/v1/views/production_daily", headers={"X-API-Key": w.keys["B1"], "X-Purpose": "quality"}
    )
    assert got.status_code == 200 and len(got.json()["rows"]) == 1
    assert count() == before + 1
    # the supplier sees who read its rows
    mine = w.client.get("/v1/me/audit", headers={"X-API-Key": w.keys["S1"]}).json()["reads"]
    assert mine[0]["organisation"] == "B1" and mine[0]["purpose"] == "quality"
    assert mine[0]["rows"] == 1 and mine[0]["view"] == "production_daily"
    # unknown views and filters are 404 and 400, audited too
    headers = {"X-API-Key": w.keys["B1"], "X-Purpose": "quality"}
    assert w.client.get("/v1/views/landing_production", headers=headers).status_code == 404
    assert w.client.get("/v1/views/oee_daily?part=X", headers=headers).status_code == 400
    assert w.client.get("/v1/views/oee_daily?colour=red", headers=headers).status_code == 400
    # CSV export of the same rows
    got = w.client.get("/v1/views/production_daily", headers={**headers, "Accept": "text/csv"})
    assert got.headers["content-type"].startswith("text/csv")
    assert got.text.splitlines()[0].startswith("supplier_id,site_id,line_id,part_number")
    assert len(got.text.splitlines()) == 2
    # revoking takes effect at the next read
    revoked = w.client.post("/v1/me/agreements/AGX/revoke", headers={"X-API-Key": w.keys["S1"]})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert w.client.get("/v1/views/production_daily", headers=headers).status_code == 403
    # another supplier cannot revoke it
    other = w.client.post("/v1/me/agreements/AGX/revoke", headers={"X-API-Key": w.keys["S2"]})
    assert other.status_code == 404 and "no agreement" in other.json()["detail"]
    assert audit.verify(w.engine).intact


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/views/oee_daily?from=notadate", 400),
        ("/v1/views/oee_daily?limit=5000", 400),
        ("/v1/me/audit?before=abc", 400),
        ("/v1/me/audit?before=100000000000000000000", 400),
        ("/v1/views/oee_daily?site=%00", 400),
        ("/v1/lots/%00/trace", 400),
        ("/v1/views/" + "v" * 400, 404),
        ("/v1/lots/" + "L" * 400 + "/trace", 404),
        ("/v1/nothing", 404),
    ],
)
def test_hostile_requests_get_a_clear_error_and_an_audit_row(
    db_url: str, path: str, status: int
) -> None:
    w = world(db_url)
    headers = {"X-API-Key": w.keys["S1"], "X-Purpose": "q" * 300}
    with w.engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(AuditEntry.__table__))
    got = w.client.get(path, headers={**headers, "X-Purpose": "quality"})
    assert got.status_code == status, got.text
    assert isinstance(got.json()["detail"], str)
    long_purpose = w.client.get("/v1/views/oee_daily", headers=headers)
    assert long_purpose.status_code == 400 and "unknown purpose" in long_purpose.json()["detail"]
    assert w.client.put("/v1/views/oee_daily", headers=headers).status_code == 405
    with w.engine.connect() as conn:
        after = conn.scalar(select(func.count()).select_from(AuditEntry.__table__))
    assert after == before + 3, "every request leaves one audit row"
    assert audit.verify(w.engine).intact


@pytest.mark.parametrize(
    "values",
    [
        [{}, "2026-03-01", "a", "b"],
        [[1], "x", "y", "z"],
        [2**70, "2026-03-01", "a", "b"],
        [1, "2026-03-01", 2, 3],
        ["S1", "not a date", "a", "b"],
        ["S1"],
    ],
)
def test_a_forged_cursor_is_refused(db_url: str, values: list[Any]) -> None:
    import base64
    import json

    w = world(db_url)
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
    got = w.client.get(
        "/v1/views/oee_daily",
        params={"cursor": cursor},
        headers={"X-API-Key": w.keys["S1"], "X-Purpose": "quality"},
    )
    assert got.status_code == 400 and "cursor" in got.json()["detail"]


def test_audit_verify_finds_the_first_edited_row(db_url: str) -> None:
    w = world(db_url)
    headers = {"X-API-Key": w.keys["S1"], "X-Purpose": "quality"}
    for _ in range(3):
        assert w.client.get("/v1/views/oee_daily", headers=headers).status_code == 200
    found = audit.verify(w.engine)
    assert found.intact and found.rows >= 3
    with w.engine.begin() as conn:
        t = AuditEntry.__table__
        last = conn.scalar(select(func.max(t.c.seq)))
        conn.execute(t.update().where(t.c.seq == last - 1).values(rows=999))
    broken = audit.verify(w.engine)
    assert (broken.intact, broken.broken_seq) == (False, last - 1)
    assert "edited" in (broken.problem or "")
    with w.engine.begin() as conn:  # restore the chain for the other tests of this world
        conn.execute(delete(AuditSupplier.__table__))
        conn.execute(delete(AuditEntry.__table__))
    assert audit.verify(w.engine).intact
