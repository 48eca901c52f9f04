"""The programme's roll-ups as the operator and the ministry read them, on SQLite and
PostgreSQL: hypothesis draws up to 16 suppliers (sectors, one or two sponsors through
sponsorships and the reference file, smart-factory levels over two weeks, uplifts per
metric) and the API's answers are compared with the rules written out naively: no group
of 1 to 4 suppliers, not even as the difference of two groups shown; every safe group
shown, with the mean of its members; every other role refused. Each request leaves one
audit row."""

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import fmean
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from governance import audit
from governance.models import (
    AgreementPart,
    AgreementPurpose,
    AgreementView,
    AuditEntry,
    SharingAgreement,
    Sponsorship,
)
from governance.parties import Parties
from governance.sharing import add_sponsorship
from pipelines.views.impact import (
    Metric,
    programme_impact,
    programme_impact_rollup,
    recompute_rollup,
)
from pipelines.views.maturity import LEVELS, supplier_maturity
from pipelines.views.summary import NATIONAL_PCT
from serving.app import create_app
from tests.support import upgraded_engine
from tests.views_support import reference

pytestmark = pytest.mark.integration

TODAY = date(2026, 3, 16)  # pinned
WEEK = date(2026, 3, 2)
POOL = [f"S{n:02d}" for n in range(1, 17)]
BUYERS = ("B1", "B2", "B3")
SECTORS = ("auto", "masks", "steel")
READERS = ("OP", "MIN")


def organisations(sectors: dict[str, str | None], primary: dict[str, str | None]) -> Any:
    return {
        "organisations": [
            *[{"org_id": b, "name": f"Buyer {b}", "role": "buyer"} for b in BUYERS],
            *[
                {
                    "org_id": s,
                    "name": f"Supplier {s}",
                    "role": "supplier",
                    "sector": sectors.get(s),
                    "sponsor_id": primary.get(s),
                }
                for s in POOL
            ],
        ]
    }


@dataclass
class World:
    engine: Engine
    client: TestClient
    keys: dict[str, str]


_worlds: dict[str, World] = {}


def world(db_url: str) -> World:
    if db_url not in _worlds:
        engine = upgraded_engine(db_url)
        reference(engine, organisations({}, {}))
        parties = Parties(engine)
        parties.add_organisation("OP", "Operator", "operator")
        parties.add_organisation("MIN", "Ministry", "ministry")
        keys = {org: parties.issue_org_key(org) for org in (*READERS, "B1", "S01")}
        _worlds[db_url] = World(engine, TestClient(create_app(engine, today=lambda: TODAY)), keys)
    return _worlds[db_url]


supplier_draw = st.fixed_dictionaries(
    {
        "sector": st.sampled_from((None, *SECTORS)),
        "primary": st.sampled_from((None, *BUYERS)),  # organisation.sponsor_id
        "sponsored": st.sets(st.sampled_from(BUYERS), max_size=2),  # sponsorships
        "levels": st.tuples(st.sampled_from(LEVELS), st.sampled_from(LEVELS)),  # 2 weeks
        "uplifts": st.fixed_dictionaries(
            {
                m: st.one_of(
                    st.none(), st.floats(-50, 150, allow_nan=False).map(lambda x: round(x, 3))
                )
                for m in Metric
            }
        ),
    }
)
programmes = st.lists(supplier_draw, max_size=len(POOL))


def maturity_row(supplier: str, week: date, level: Any) -> dict[str, Any]:
    return {
        "supplier_id": supplier,
        "week": week,
        "level": level.value,
        "level_rank": LEVELS.index(level),
        "criteria_met": 0,
        "evidence": {},
        "evidence_text": "",
        "next_step": "",
    }


def impact_row(supplier: str, metric: Metric, uplift: float | None) -> dict[str, Any]:
    return {
        "supplier_id": supplier,
        "metric": metric.value,
        "go_live": WEEK,
        "ramp_up_days": 0,
        "days_before": 10,
        "days_after": 10,
        "uplift_pct": uplift,
        "higher_is_better": True,
        "null_reason": None if uplift is not None else "a test's missing uplift",
    }


def setup(w: World, drawn: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The drawn programme in the database; returns it per supplier id."""
    with w.engine.begin() as conn:
        for table in (
            AgreementPart,
            AgreementPurpose,
            AgreementView,
            SharingAgreement,
            Sponsorship,
        ):
            conn.execute(delete(table))
        for table in (supplier_maturity, programme_impact, programme_impact_rollup):
            conn.execute(delete(table))
    programme = dict(zip(POOL, drawn, strict=False))
    reference(
        w.engine,
        organisations(
            {s: d["sector"] for s, d in programme.items()},
            {s: d["primary"] for s, d in programme.items()},
        ),
    )
    for supplier, d in programme.items():
        for buyer in sorted(d["sponsored"]):
            add_sponsorship(w.engine, buyer, supplier, "P", TODAY)
    with w.engine.begin() as conn:
        for supplier, d in programme.items():
            older, latest = d["levels"]
            conn.execute(
                insert(supplier_maturity),
                [
                    maturity_row(supplier, WEEK - timedelta(days=7), older),
                    maturity_row(supplier, WEEK, latest),
                ],
            )
            conn.execute(
                insert(programme_impact),
                [impact_row(supplier, m, u) for m, u in d["uplifts"].items()],
            )
        recompute_rollup(conn)
    return programme


def get(w: World, org: str, path: str) -> Any:
    return w.client.get(path, headers={"X-API-Key": w.keys[org], "X-Purpose": "programme"})


def check_maturity(got: Any, programme: dict[str, dict[str, Any]]) -> None:
    counts = {level.value: 0 for level in LEVELS}
    for d in programme.values():
        counts[d["levels"][1].value] += 1  # the latest week counts
    total = len(programme)
    if 0 < total < 5:
        assert got.status_code == 403 and "fewer than 5" in got.json()["detail"]
        return
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["suppliers"] == total
    shown = body["levels"]
    # the groups cover the levels in order, each once
    assert [level for g in shown for level in g["levels"]] == [v.value for v in LEVELS]
    for g in shown:
        assert g["suppliers"] == sum(counts[v] for v in g["levels"])
        assert g["suppliers"] == 0 or g["suppliers"] >= 5, g
        assert g["share_pct"] == (round(100.0 * g["suppliers"] / total, 1) if total else 0.0)
        national = [NATIONAL_PCT.get(v) for v in g["levels"]]
        assert g["national_pct"] == (None if None in national else sum(national))
    if all(n == 0 or n >= 5 for n in counts.values()):  # nothing to hide: nothing merged
        assert all(len(g["levels"]) == 1 for g in shown)


def check_impact(got: Any, programme: dict[str, dict[str, Any]]) -> None:
    assert got.status_code == 200, got.text
    members: dict[tuple[str, str, str], set[str]] = {}
    for supplier, d in programme.items():
        groups = [("sector", d["sector"])] if d["sector"] else []
        sponsors = set(d["sponsored"]) | ({d["primary"]} if d["primary"] else set())
        groups += [("sponsor", b) for b in sponsors]
        for metric, uplift in d["uplifts"].items():
            if uplift is None:
                continue
            for kind, group in groups:
                members.setdefault((kind, group, metric.value), set()).add(supplier)

    def conflict(a: set[str], b: set[str]) -> bool:
        return bool(a & b) and (0 < len(a - b) < 5 or 0 < len(b - a) < 5)

    big = {k: v for k, v in members.items() if len(v) >= 5}
    rows = got.json()["groups"]
    shown = {(r["group_kind"], r["group_id"], r["metric"]): r for r in rows}
    assert len(shown) == len(rows), "each group once"
    for key, row in shown.items():
        assert key in big, f"{key}: fewer than 5 suppliers with an uplift"
        assert row["suppliers"] == len(big[key])
        uplifts = [programme[s]["uplifts"][Metric(key[2])] for s in sorted(big[key])]
        assert row["uplift_pct"] == pytest.approx(fmean(uplifts), abs=1e-9)
        for other in shown:
            if other != key and other[2] == key[2]:
                assert not conflict(big[key], big[other]), (key, other)
    for key, group in big.items():  # a group in conflict with none is not withheld
        rivals = [o for o in big if o != key and o[2] == key[2] and conflict(group, big[o])]
        if not rivals:
            assert key in shown, f"{key}: safe, yet not shown"


def drawn_supplier(sector: str | None, sponsored: set[str], uplift: float = 10.0) -> dict[str, Any]:
    return {
        "sector": sector,
        "primary": None,
        "sponsored": sponsored,
        "levels": (LEVELS[0], LEVELS[0]),
        "uplifts": {m: uplift for m in Metric},
    }


# six auto suppliers, all sponsored by B1 with two more: auto and B1 differ by two
# suppliers, so both are withheld
WITHHELD_PAIR = [drawn_supplier("auto", {"B1"}) for _ in range(6)] + [
    drawn_supplier(None, {"B1"}) for _ in range(2)
]
# five suppliers each sponsored by B1 and B2: both sponsors' groups reach five (the
# same five), both shown
TWO_SPONSORS_EACH = [drawn_supplier(None, {"B1", "B2"}) for _ in range(5)]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=programmes)
@example(drawn=WITHHELD_PAIR)
@example(drawn=TWO_SPONSORS_EACH)
def test_the_programme_roll_ups_show_no_group_below_five(
    db_url: str, drawn: list[dict[str, Any]]
) -> None:
    w = world(db_url)
    programme = setup(w, drawn)
    note(f"programme={programme!r}")
    with w.engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(AuditEntry.__table__))
    requests = 0
    for org in READERS:
        check_maturity(get(w, org, "/v1/programme/maturity"), programme)
        check_impact(get(w, org, "/v1/programme/impact"), programme)
        requests += 2
    for org in ("B1", "S01"):  # no other role reads the programme
        for path in ("/v1/programme/maturity", "/v1/programme/impact"):
            refused = get(w, org, path)
            assert refused.status_code == 403, (org, path)
            requests += 1
    sponsorships = get(w, "OP", "/v1/sponsorships")
    assert sponsorships.status_code == 200
    assert sorted(
        (r["buyer_id"], r["supplier_id"]) for r in sponsorships.json()["sponsorships"]
    ) == (sorted((b, s) for s, d in programme.items() for b in d["sponsored"]))
    assert get(w, "MIN", "/v1/sponsorships").status_code == 403  # the operator's alone
    requests += 2
    with w.engine.connect() as conn:
        after = conn.scalar(select(func.count()).select_from(AuditEntry.__table__))
    assert after - before == requests, "one audit row per request"
    assert audit.verify(w.engine).intact


def test_a_roll_up_row_older_than_a_sponsorship_waits_for_the_refresh(db_url: str) -> None:
    """The groups judged safe are the live ones; a row computed before a sponsorship was
    added counts other suppliers, so it is not shown until the roll-up is recomputed."""
    w = world(db_url)
    setup(w, [drawn_supplier(None, {"B1"}) for _ in range(5)])
    shown = get(w, "OP", "/v1/programme/impact").json()["groups"]
    assert {(r["group_id"], r["suppliers"]) for r in shown} == {("B1", 5)}
    add_sponsorship(w.engine, "B1", POOL[5], "P", TODAY)  # a sixth, no uplift row yet
    with w.engine.begin() as conn:
        conn.execute(insert(programme_impact), [impact_row(POOL[5], m, 20.0) for m in Metric])
    assert get(w, "OP", "/v1/programme/impact").json()["groups"] == []
    with w.engine.begin() as conn:
        recompute_rollup(conn)
    shown = get(w, "OP", "/v1/programme/impact").json()["groups"]
    assert {(r["group_id"], r["suppliers"]) for r in shown} == {("B1", 6)}


def test_a_roll_up_row_of_other_members_waits_though_its_count_is_the_same(
    db_url: str,
) -> None:
    """Two suppliers swap sectors (a reference correction): every group keeps its size,
    but the stored rows still hold the old members' means; shown beside live groups
    they would give a supplier's uplift by difference. They wait for the refresh."""
    w = world(db_url)
    drawn = [drawn_supplier("auto", set(), 10.0) for _ in range(5)]
    drawn += [drawn_supplier("masks", set(), 30.0) for _ in range(5)]
    programme = setup(w, drawn)
    shown = get(w, "OP", "/v1/programme/impact").json()["groups"]
    assert {(r["group_id"], r["uplift_pct"]) for r in shown} == {("auto", 10.0), ("masks", 30.0)}
    sectors = {s: d["sector"] for s, d in programme.items()}
    sectors[POOL[0]], sectors[POOL[5]] = "masks", "auto"
    reference(w.engine, organisations(sectors, {}))
    assert get(w, "OP", "/v1/programme/impact").json()["groups"] == []
    with w.engine.begin() as conn:
        recompute_rollup(conn)
    shown = get(w, "OP", "/v1/programme/impact").json()["groups"]
    assert {(r["group_id"], r["uplift_pct"]) for r in shown} == {("auto", 14.0), ("masks", 26.0)}
