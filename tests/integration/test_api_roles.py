"""Every endpoint beyond the view pages, for every role, against a naive oracle of the
rules, on SQLite and PostgreSQL: hypothesis draws production, shipments, quarantined
events and agreements (as in test_api_access); suppliers, buyers, the operator and the
ministry then call `/v1/suppliers`, `/v1/lots/{lot}/trace` and every `/v1/me/...` read,
and each answer is what the oracle lets through: the right status, no row outside, none
missing. Then each supplier's "who saw my data" lists exactly the reads that returned
its rows, with its own row counts, and every request left one audit row."""

from collections import Counter
from datetime import timedelta
from statistics import fmean
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from governance import audit
from governance.models import AuditEntry, PartScope
from governance.parties import Parties
from governance.sharing import Agreement, add_agreement
from pipelines.views.lots import lot_shipments
from pipelines.views.maturity import supplier_maturity
from pipelines.views.readiness import data_readiness
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from tests.integration.test_api_access import (
    BUYERS,
    DAY0,
    PARTS,
    SUPPLIERS,
    TODAY,
    VIEWS,
    World,
    dates_of,
    ids,
    oracle,
    production,
    report,
    reset,
    shipment,
    shipments,
    table_of,
)
from tests.integration.test_api_access import world as access_world
from tests.views_support import land, quarantine_rows

pytestmark = pytest.mark.integration

PURPOSES = ("quality", "production")
LOTS = ("LOT0", "LOT1", "LOT2", "LOT3", "LOT-NEVER")
READ_VIEWS = (*VIEWS, "supplier_maturity", "data_readiness")
# test_api_access's agreements, sharing the two views /v1/suppliers reads too
agreements = st.lists(
    st.tuples(
        st.sampled_from(SUPPLIERS),
        st.sampled_from(BUYERS),
        st.sets(st.sampled_from(READ_VIEWS), max_size=4),
        st.sets(st.sampled_from(PURPOSES), min_size=1, max_size=2),
        st.one_of(st.none(), st.sets(st.sampled_from(PARTS), max_size=2)),
        st.sampled_from(["current", "open", "expired", "future", "ends_today", "starts_today"]),
        st.booleans(),  # revoked
    ),
    max_size=6,
)
quarantined = st.lists(
    st.tuples(st.sampled_from(SUPPLIERS), st.integers(min_value=0, max_value=6)), max_size=5
)


def world(db_url: str) -> World:
    """test_api_access's world, with the ministry too."""
    w = access_world(db_url)
    if "MIN" not in w.keys:
        parties = Parties(w.engine)
        parties.add_organisation("MIN", "Ministry", "ministry")
        w.keys["MIN"] = parties.issue_org_key("MIN")
    return w


def rows_of(w: World, table: Any) -> list[dict[str, Any]]:
    with w.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


class Calls:
    """The requests of one example, with the rows of each supplier they returned."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.count = 0
        self.seen: dict[str, list[tuple[str, str, int]]] = {s: [] for s in SUPPLIERS}

    def get(self, org: str, path: str, purpose: str | None = None) -> Any:
        headers = {"X-API-Key": self.w.keys[org]}
        if purpose:
            headers["X-Purpose"] = purpose
        self.count += 1
        return self.w.client.get(path, headers=headers)

    def returned(self, org: str, path: str, per_supplier: Counter[str]) -> None:
        for supplier, n in per_supplier.items():
            if n:
                self.seen[supplier].append((org, path, n))


def expect_suppliers(
    w: World, org: str, purpose: str, granted: list[Agreement]
) -> list[dict[str, Any]] | None:
    """What `/v1/suppliers` lists for `org`; None: refused (403)."""
    if org not in BUYERS:
        return None
    mine = [a for a in granted if a.buyer_id == org and a.in_force(TODAY)]
    listed = sorted({a.supplier_id for a in mine if purpose in a.purposes})
    maturity = rows_of(w, supplier_maturity)
    readiness = rows_of(w, data_readiness)
    out = []
    for supplier in listed:
        level = score = None
        if any(
            a.allows("supplier_maturity", purpose, TODAY) for a in mine if a.supplier_id == supplier
        ):
            weeks = sorted(
                (r["week"], r["level"]) for r in maturity if r["supplier_id"] == supplier
            )
            level = weeks[-1][1] if weeks else None
        if any(
            a.allows("data_readiness", purpose, TODAY) for a in mine if a.supplier_id == supplier
        ):
            scored = [
                r for r in readiness if r["supplier_id"] == supplier and r["score"] is not None
            ]
            if scored:
                last = max(r["day"] for r in scored)
                recent = [float(r["score"]) for r in scored if r["day"] > last - timedelta(days=7)]
                score = round(fmean(recent), 1)
        out.append(
            {
                "supplier_id": supplier,
                "name": f"Supplier {supplier}",
                "sector": None,
                "maturity_level": level,
                "readiness_score": score,
            }
        )
    return out


def expect_trace(
    w: World,
    org: str,
    lot: str,
    purpose: str,
    granted: list[Agreement],
    shipped: set[tuple[str, str, str]],
    lots_shipped: set[tuple[str, str, str, str]],
) -> tuple[int, dict[str, list[tuple[str, str]]]]:
    """(status, per supplier found: its shipments (buyer, shipment) the caller sees)."""
    if org not in (*SUPPLIERS, *BUYERS):
        return 403, {}
    traces = [r for r in table_of(w, "lot_trace") if r["lot_id"] == lot]
    found = oracle(traces, "lot_trace", org, purpose, granted, shipped, lots_shipped) or []
    if not found:
        return 404, {}
    out: dict[str, list[tuple[str, str]]] = {}
    for row in found:
        to = [
            s
            for s in rows_of(w, lot_shipments)
            if (s["supplier_id"], s["lot_id"]) == (row["supplier_id"], lot)
        ]
        if org in BUYERS:
            to = [
                s
                for s in to
                if s["buyer_id"] == org
                and any(
                    a.buyer_id == org
                    and a.supplier_id == s["supplier_id"]
                    and a.allows("lot_trace", purpose, TODAY)
                    and (a.part_scope != PartScope.LISTED or s["part_number"] in a.parts)
                    and (s["supplier_id"], org, s["part_number"]) in shipped
                    for a in granted
                )
            ]
        out[row["supplier_id"]] = sorted((s["buyer_id"], s["shipment_id"]) for s in to)
    return 200, out


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    production=production,
    shipments=shipments,
    agreements=agreements,
    refused=quarantined,
)
# one lot shipped to B1 as part X and as part Y, shared for X only: the trace shows one
@example(
    production=[("S1", "X", "B1", 0)],
    shipments=[("S1", "B1", "X", 0), *[("S2", "B2", "Z", 1)] * 3, ("S1", "B1", "Y", 1)],
    agreements=[("S1", "B1", {"lot_trace"}, {"quality"}, {"X"}, "current", False)],
    refused=[("S1", 0)],
)
def test_every_role_reads_exactly_what_the_rules_allow_on_every_endpoint(
    db_url: str,
    production: list[tuple[str, str, str | None, int]],
    shipments: list[tuple[str, str, str, int]],
    agreements: list[tuple[str, str, set[str], set[str], set[str] | None, str, bool]],
    refused: list[tuple[str, int]],
) -> None:
    w = world(db_url)
    reset(w)
    note(f"production={production!r} shipments={shipments!r} agreements={agreements!r}")
    land(w.engine, EventType.PRODUCTION, [report(*p, n) for n, p in enumerate(production)])
    land(w.engine, EventType.SHIPMENT, [shipment(*s, n) for n, s in enumerate(shipments)])
    if refused:
        quarantine_rows(
            w.engine,
            [{"supplier_id": s, "received_day": DAY0 + timedelta(days=d)} for s, d in refused],
        )
    refresh(w.engine, load_settings(), list(READ_VIEWS))
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
        first_seq = (conn.scalar(select(func.max(AuditEntry.__table__.c.seq))) or 0) + 1
    calls = Calls(w)
    orgs = (*SUPPLIERS, *BUYERS, "OP", "MIN")

    for org in orgs:
        for purpose in PURPOSES:
            # the buyer's sponsored suppliers
            got = calls.get(org, "/v1/suppliers", purpose)
            want = expect_suppliers(w, org, purpose, granted)
            if want is None:
                assert got.status_code == 403, (org, got.text)
            else:
                assert got.status_code == 200, got.text
                assert got.json()["suppliers"] == want, (org, purpose)
                calls.returned(org, "/v1/suppliers", Counter(r["supplier_id"] for r in want))
            # lot traces
            for lot in LOTS:
                path = f"/v1/lots/{lot}/trace"
                got = calls.get(org, path, purpose)
                status, found = expect_trace(w, org, lot, purpose, granted, shipped, lots_shipped)
                assert got.status_code == status, (org, lot, purpose, got.text)
                if status != 200:
                    continue
                body = got.json()["found"]
                assert {r["supplier_id"] for r in body} == set(found), (org, lot, purpose)
                for r in body:
                    to = sorted((s["buyer_id"], s["shipment_id"]) for s in r["shipped_to"])
                    assert to == found[r["supplier_id"]], (org, lot, purpose)
                calls.returned(org, path, Counter(r["supplier_id"] for r in body))

        # a supplier's own; the agreements of a supplier or a buyer
        got = calls.get(org, "/v1/me/agreements")
        if org in SUPPLIERS or org in BUYERS:
            side = "supplier_id" if org in SUPPLIERS else "buyer_id"
            want_ids = sorted(a.agreement_id for a in granted if getattr(a, side) == org)
            assert got.status_code == 200
            assert sorted(a["agreement"] for a in got.json()["agreements"]) == want_ids
        else:
            assert got.status_code == 403
        for path in ("/v1/me/quarantine", "/v1/me/readiness", "/v1/me/maturity"):
            got = calls.get(org, path)
            if org not in SUPPLIERS:
                assert got.status_code == 403, (org, path)
                continue
            assert got.status_code == 200, got.text
            body = got.json()
            if path.endswith("quarantine"):
                assert len(body["quarantined"]) == sum(1 for s, _ in refused if s == org)
                calls.returned(org, path, Counter({org: len(body["quarantined"])}))
            elif path.endswith("readiness"):
                mine = [r for r in rows_of(w, data_readiness) if r["supplier_id"] == org]
                last = max((r["day"] for r in mine), default=None)
                want_days = sorted(
                    (str(r["day"]), r["event_type"])
                    for r in mine
                    if last is not None and r["day"] > last - timedelta(days=7)
                )
                got_days = sorted((r["day"], r["event_type"]) for r in body["readiness"])
                assert got_days == want_days
                assert all(r["supplier_id"] == org for r in body["readiness"])
                calls.returned(org, path, Counter({org: len(want_days)}))
            else:
                weeks = sorted(
                    (r["week"], r["level"])
                    for r in rows_of(w, supplier_maturity)
                    if r["supplier_id"] == org
                )
                found_level = body["maturity"] and body["maturity"]["level"]
                assert found_level == (weeks[-1][1] if weeks else None)
                if weeks:
                    assert body["maturity"]["supplier_id"] == org
                    calls.returned(org, path, Counter({org: 1}))

    # who saw my data: exactly the reads above that returned the supplier's rows
    for supplier in SUPPLIERS:
        got = calls.get(supplier, "/v1/me/audit?limit=1000")
        assert got.status_code == 200
        reads = [r for r in got.json()["reads"] if r["seq"] >= first_seq]
        listed = sorted((r["organisation"], r["endpoint"], r["rows"]) for r in reads)
        assert listed == sorted(calls.seen[supplier]), supplier
        assert all(r["status"] == 200 for r in reads)
    for org in (*BUYERS, "OP", "MIN"):
        assert calls.get(org, "/v1/me/audit").status_code == 403

    with w.engine.connect() as conn:
        audited = conn.scalar(select(func.count()).select_from(AuditEntry.__table__))
    assert audited - audited_before == calls.count, "one audit row per request"
    assert audit.verify(w.engine).intact
