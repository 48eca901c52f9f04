"""Quality alerts on SQLite and PostgreSQL: the four rules over a small programme, each
alert for the buyers who may receive it (an agreement in force for quality covering the
part; a lot's to the buyers it reached; an OTIF one to that buyer), recorded once; the
lifecycle over the API (acknowledge, close, a supplier raising one); webhooks to a real
local HTTP receiver that fails the first attempt and checks every signature; the
Dagster alerts job."""

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from governance.alerts import alert
from governance.models import (
    AgreementPart,
    AgreementPurpose,
    AgreementStatus,
    AgreementView,
    AlertDelivery,
    AlertStatus,
    PartScope,
    PartThreshold,
    SharingAgreement,
)
from governance.parties import Parties
from governance.sharing import Agreement, Change, add_agreement, add_sponsorship, narrow
from pipelines.alerts import evaluate
from pipelines.views.refresh import refresh
from sangsaeng.settings import load_settings
from schemas.topics import EventType
from serving.app import create_app
from serving.webhooks import ALERT_HEADER, SIGNATURE_HEADER, deliver_due, verify_signature
from tests.support import upgraded_engine
from tests.views_support import at, land, reference

pytestmark = pytest.mark.integration

TODAY = date(2026, 3, 16)
DAY = date(2026, 3, 10)  # a Tuesday: the week of 2026-03-09
WEEK = date(2026, 3, 9)
NOW = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
REFERENCE = {
    "organisations": [
        {"org_id": "B1", "name": "Hanbit Motors", "role": "buyer"},
        {"org_id": "B2", "name": "Daesan Steel", "role": "buyer"},
        *[
            {"org_id": s, "name": f"Supplier {s}", "role": "supplier", "sector": "parts"}
            for s in ("S1", "S2")
        ],
    ],
    "sites": [
        {"site_id": f"P{s}", "supplier_id": s, "timezone": "Asia/Seoul"} for s in ("S1", "S2")
    ],
    "lines": [{"line_id": "L1", "site_id": f"P{s}", "supplier_id": s} for s in ("S1", "S2")],
    "parts": [{"part_number": p, "supplier_id": s} for s in ("S1", "S2") for p in ("X", "Y")],
}


def inspection(
    supplier: str,
    part: str,
    lot: str,
    when: datetime,
    *,
    inspected: int = 1_000,
    defective: int = 0,
    result: str = "PASS",
    values: list[float] | None = None,
) -> dict[str, Any]:
    return {
        "event_time": when,
        "supplier_id": supplier,
        "site_id": f"P{supplier}",
        "line_id": "L1",
        "part_number": part,
        "lot_id": lot,
        "inspection_stage": "FINAL",
        "inspected_quantity": inspected,
        "defect_quantity": defective,
        "defects": [],
        "measurements": [
            {"characteristic": "bore", "value": v, "lsl": 9.9, "usl": 10.1, "unit": "MMT"}
            for v in values or []
        ],
        "result": result,
    }


def shipment(supplier: str, buyer: str, part: str, lot: str, n: int, *, late: bool) -> dict:
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
        "promised_date": DAY - timedelta(days=1) if late else DAY + timedelta(days=1),
        "shipped_at": shipped,
        "delivered_at": None,
        "ordered_quantity": 50.0,
    }


@pytest.fixture
def programme(db_url: str) -> tuple[Engine, TestClient, dict[str, str]]:
    engine = upgraded_engine(db_url)
    reference(engine, REFERENCE)
    start = TODAY - timedelta(days=30)
    add_sponsorship(engine, "B1", "S1", "Bores", start)
    _, b2 = add_sponsorship(engine, "B2", "S1", "Bores 2", start)
    add_sponsorship(engine, "B1", "S2", "Bores", start)
    # B2 reads S1's delivery data only: no quality alert of S1 reaches it
    with engine.begin() as conn:
        narrow(conn, b2, "S1", Change(purposes=["delivery"]), NOW)
    land(
        engine,
        EventType.SHIPMENT,
        [
            shipment("S1", "B1", "X", "LOT-A", 1, late=True),  # OTIF 0 % for B1's X
            shipment("S1", "B2", "Y", "LOT-B", 2, late=True),  # B2 reads no quality
            shipment("S2", "B1", "X", "LOT-C", 3, late=False),
        ],
    )
    spread = [10.0 + 0.04 * ((i % 5) - 2) for i in range(30)]  # sd ~0.029: Cpk ~1.1
    land(
        engine,
        EventType.QUALITY,
        [
            # S1's X: 5,000 ppm at final inspection (limit 1,000), Cpk below 1.33
            inspection("S1", "X", "LOT-A", at(DAY, 10), defective=5, values=spread),
            # and lot A fails a final inspection after its shipment (15:00)
            inspection("S1", "X", "LOT-A", at(DAY, 18), inspected=50, result="FAIL"),
            # S1's Y: 3,000 ppm, but its limit is 4,000
            inspection("S1", "Y", "LOT-B", at(DAY, 10), defective=3),
            # S2's X is fine
            inspection("S2", "X", "LOT-C", at(DAY, 10), defective=0),
        ],
    )
    with engine.begin() as conn:
        conn.execute(
            PartThreshold.__table__.insert(),
            [{"supplier_id": "S1", "part_number": "Y", "max_ppm": 4000}],
        )
    refresh(engine, load_settings())
    parties = Parties(engine)
    keys = {org: parties.issue_org_key(org) for org in ("B1", "B2", "S1", "S2")}
    return engine, TestClient(create_app(engine, today=lambda: TODAY)), keys


def call(client: TestClient, method: str, key: str, path: str, **kwargs: Any) -> Any:
    headers = {"X-API-Key": key, "X-Purpose": "quality"}
    return client.request(method, path, headers=headers, **kwargs)


def alerts_in(engine: Engine) -> set[tuple[str, str, str, str]]:
    a = alert.c
    with engine.connect() as conn:
        return {
            tuple(r) for r in conn.execute(select(a.rule, a.supplier_id, a.buyer_id, a.subject))
        }


def test_the_rules_alert_the_buyers_who_may_receive_them_once(programme: Any) -> None:
    engine, _, _ = programme
    found = evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW)
    expected = {
        ("ppm_above_threshold", "S1", "B1", f"ppm X week {WEEK}"),
        ("cpk_below_1.33", "S1", "B1", f"cpk X bore week {WEEK}"),
        ("otif_below_target", "S1", "B1", f"otif X week {WEEK}"),
        ("final_fail_after_shipment", "S1", "B1", "lot LOT-A part X"),
    }
    assert alerts_in(engine) == expected
    assert len(found.created) == 4
    again = evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW + timedelta(hours=1))
    assert again.findings == 4 and again.created == []  # once per subject
    assert alerts_in(engine) == expected
    # rows before `since` are not looked at
    assert evaluate(engine, TODAY, TODAY, NOW).findings == 0


def test_a_revoked_quality_agreement_stops_new_alerts(programme: Any) -> None:
    engine, _, _ = programme
    with engine.begin() as conn:
        t = SharingAgreement.__table__
        conn.execute(
            update(t)
            .where(t.c.buyer_id == "B1", t.c.supplier_id == "S1")
            .values(valid_to=TODAY - timedelta(days=1))
        )
    assert evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW).created == []


def test_the_lifecycle_over_the_api(programme: Any) -> None:
    engine, client, keys = programme
    evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW)
    listed = call(client, "GET", keys["B1"], "/v1/alerts").json()["alerts"]
    assert len(listed) == 4 and {a["status"] for a in listed} == {"CREATED"}
    assert call(client, "GET", keys["B2"], "/v1/alerts").json()["alerts"] == []
    assert len(call(client, "GET", keys["S1"], "/v1/alerts").json()["alerts"]) == 4
    assert call(client, "GET", keys["S2"], "/v1/alerts").json()["alerts"] == []
    one = listed[0]["alert_id"]
    # another buyer, another supplier: not theirs
    assert call(client, "POST", keys["B2"], f"/v1/alerts/{one}/acknowledge").status_code == 404
    assert call(client, "POST", keys["S2"], f"/v1/alerts/{one}/close").status_code == 404
    assert call(client, "POST", keys["S1"], f"/v1/alerts/{one}/acknowledge").status_code == 400
    wrong = client.get("/v1/alerts", headers={"X-API-Key": keys["B1"], "X-Purpose": "delivery"})
    assert wrong.status_code == 403
    acked = call(client, "POST", keys["B1"], f"/v1/alerts/{one}/acknowledge")
    assert acked.status_code == 200 and acked.json()["alert"]["status"] == "ACKNOWLEDGED"
    closed = call(client, "POST", keys["S1"], f"/v1/alerts/{one}/close").json()["alert"]
    assert (closed["status"], closed["closed_by"]) == ("CLOSED", "S1")
    again = call(client, "POST", keys["B1"], f"/v1/alerts/{one}/close")
    assert again.status_code == 400 and "closed already" in again.json()["detail"]
    status = call(client, "GET", keys["B1"], "/v1/alerts", params={"status": "closed"})
    assert [a["alert_id"] for a in status.json()["alerts"]] == [one]
    assert call(client, "GET", keys["B1"], "/v1/alerts", params={"status": "x"}).status_code == 400

    # A supplier raises one: to every buyer who reads its quality data (B1, not B2).
    raised = call(client, "POST", keys["S1"], "/v1/me/alerts", json={"message": "Bore drift"})
    assert raised.status_code == 200, raised.text
    (new,) = raised.json()["alerts"]
    mine = call(client, "GET", keys["B1"], "/v1/alerts", params={"status": "CREATED"}).json()
    assert new in {a["alert_id"] for a in mine["alerts"]}
    refused = call(
        client, "POST", keys["S1"], "/v1/me/alerts", json={"message": "x", "buyers": ["B2"]}
    )
    assert refused.status_code == 400 and "B2" in refused.json()["detail"]
    empty = call(client, "POST", keys["S1"], "/v1/me/alerts", json={"message": " "})
    assert empty.status_code == 400
    assert (
        call(client, "POST", keys["B1"], "/v1/me/alerts", json={"message": "x"}).status_code == 403
    )


class Receiver:
    """A buyer's webhook endpoint on 127.0.0.1: answers 500 to the first POST, then 200;
    checks each signature with the secret it is given."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[tuple[dict[str, Any], bool, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                valid = verify_signature(
                    owner.secret,
                    self.headers[SIGNATURE_HEADER],
                    body,
                    int(time.time()),  # clock-ok: a receiver's own clock, as the signer's
                )
                owner.received.append((json.loads(body), valid, self.headers[ALERT_HEADER]))
                self.send_response(500 if len(owner.received) == 1 else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhooks_retry_after_a_failure_and_are_signed(programme: Any) -> None:
    engine, client, keys = programme
    receiver = Receiver()
    try:
        put = call(client, "PUT", keys["B1"], "/v1/me/webhook", json={"url": receiver.url})
        assert put.status_code == 200, put.text
        receiver.secret = put.json()["secret"]
        bad = call(
            client, "PUT", keys["B1"], "/v1/me/webhook", json={"url": "http://example.org/x"}
        )
        assert bad.status_code == 400 and "https" in bad.json()["detail"]
        assert (
            call(
                client, "PUT", keys["S1"], "/v1/me/webhook", json={"url": receiver.url}
            ).status_code
            == 403
        )

        created = evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW).created
        assert len(created) == 4
        first = deliver_due(engine, NOW, today=TODAY)  # the receiver fails the first of them
        assert (first.sent, first.failed) == (3, 1)
        assert (
            deliver_due(engine, NOW + timedelta(seconds=10), today=TODAY).failed == 0
        )  # backing off
        later = deliver_due(engine, NOW + timedelta(seconds=31), today=TODAY)
        assert (later.sent, later.failed) == (1, 0)
        assert (
            deliver_due(engine, NOW + timedelta(hours=1), today=TODAY) == type(later)()
        )  # nothing due

        assert len(receiver.received) == 5 and all(valid for _, valid, _ in receiver.received)
        ids = [alert_id for _, _, alert_id in receiver.received]
        assert sorted(set(ids)) == sorted(created) and len(ids) == 5
        retried = ids[0]
        assert ids.count(retried) == 2
        body = receiver.received[0][0]
        assert body["type"] == "quality_alert" and body["alert"]["alert_id"] == retried
        assert body["alert"]["buyer_id"] == "B1" and body["alert"]["message"]

        listed = call(client, "GET", keys["B1"], "/v1/alerts").json()["alerts"]
        assert {a["status"] for a in listed} == {AlertStatus.SENT.value}
        log = call(client, "GET", keys["B1"], f"/v1/alerts/{retried}/deliveries").json()
        attempts = [(d["attempt"], d["status_code"], d["delivered"]) for d in log["deliveries"]]
        assert attempts == [(1, 500, False), (2, 200, True)]
        assert (
            call(client, "GET", keys["B2"], f"/v1/alerts/{retried}/deliveries").status_code == 404
        )
    finally:
        receiver.close()


def test_the_dagster_alerts_job_records_them(programme: Any, db_url: str, tmp_path: Path) -> None:
    from orchestration.run import run_alerts

    engine, _, _ = programme
    settings = load_settings(database_url=db_url, state_dir=str(tmp_path / "state"))
    figures = run_alerts(settings, today=TODAY)
    assert (figures["findings"], figures["new_alerts"]) == (4, 4)
    assert len(alerts_in(engine)) == 4
    assert run_alerts(settings, today=TODAY)["new_alerts"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1",
        "http://127.0.0.1:abc/h",
        "https://example.org:99999/h",
        "https://exa mple.org/h",
        "https://example.org/\u0000",
        "ftp://example.org/h",
        "http://example.org/h",
        "",
    ],
)
def test_a_webhook_url_that_cannot_be_posted_to_is_refused(programme: Any, url: str) -> None:
    _, client, keys = programme
    put = call(client, "PUT", keys["B1"], "/v1/me/webhook", json={"url": url})
    assert put.status_code == 400, put.text
    assert "url" in put.json()["detail"].lower()


def test_nul_in_a_body_is_refused_and_one_broken_webhook_blocks_no_other(programme: Any) -> None:
    engine, client, keys = programme
    nul = call(client, "POST", keys["S1"], "/v1/me/alerts", json={"message": "x\u0000y"})
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
    # A URL stored by hand that httpx cannot even parse: its alerts fail and are retried,
    # the other buyer's are delivered.
    receiver = Receiver()
    try:
        from governance.alerts import set_webhook, webhook

        with engine.begin() as conn:
            set_webhook(conn, "B1", "http://127.0.0.1:1/h", NOW)
            conn.execute(
                update(webhook)
                .where(webhook.c.buyer_id == "B1")
                .values(url="http://127.0.0.1:abc/h")
            )
            receiver.secret = set_webhook(conn, "B2", receiver.url, NOW)
        # B2 reads S1's quality data again: a second sponsorship, its default agreement
        add_sponsorship(engine, "B2", "S1", "Bores 3", TODAY - timedelta(days=30))
        raised = call(client, "POST", keys["S1"], "/v1/me/alerts", json={"message": "Recall"})
        assert raised.status_code == 200, raised.text
        done = deliver_due(engine, today=TODAY)  # raised just now (the API's clock)
        assert done.failed >= 1 and len(receiver.received) == 1  # B2's got through (a 500)
        a = alert.c
        with engine.connect() as conn:
            b1 = conn.execute(select(a.attempts, a.next_attempt_at).where(a.buyer_id == "B1")).all()
        assert b1 and all(n == 1 and due is not None for n, due in b1)
    finally:
        receiver.close()


# -- property: the alerts reach exactly the buyers a naive reading of the rules allows --

RULE_VIEWS = {
    "ppm_above_threshold": "quality_daily",
    "cpk_below_1.33": "capability_weekly",
    "otif_below_target": "delivery_weekly",
    "final_fail_after_shipment": "lot_trace",
}
SHIPPED = {("B1", "X"), ("B2", "Y")}  # the programme's shipments: part X to B1, Y to B2
PPM = {"X": 5_000.0, "Y": 3_000.0}  # the programme's final inspections

# Weighted towards agreements in force for quality, where the rules have most to get wrong.
agreement_draw = st.tuples(
    st.sampled_from(["B1", "B2"]),
    st.sets(st.sampled_from(sorted(RULE_VIEWS.values())), min_size=1),
    st.sampled_from([{"quality"}, {"quality"}, {"quality", "delivery"}, {"delivery"}, set()]),
    st.none() | st.sets(st.sampled_from(["X", "Y"])),  # None: the parts shipped
    st.sampled_from(["current", "open", "current", "expired", "future"]),
    st.sampled_from([False, False, True]),  # revoked
)


def _in_force(kind: str, revoked: bool) -> bool:
    return kind in ("current", "open") and not revoked


def oracle(
    agreements: list[tuple[str, set[str], set[str], set[str] | None, str, bool]],
    limits: dict[str, float],
) -> set[tuple[str, str, str]]:
    """(rule, buyer, part) the rules should alert, read straight from their statement."""

    def allowed(buyer: str, view: str, part: str) -> bool:
        return (buyer, part) in SHIPPED and any(
            b == buyer
            and _in_force(kind, revoked)
            and view in views
            and "quality" in purposes
            and (listed is None or part in listed)
            for b, views, purposes, listed, kind, revoked in agreements
        )

    hits = [("ppm_above_threshold", p) for p in ("X", "Y") if PPM[p] > limits[p]]
    hits += [("cpk_below_1.33", "X"), ("otif_below_target", "X"), ("otif_below_target", "Y")]
    hits += [("final_fail_after_shipment", "X")]
    return {
        (rule, buyer, part)
        for rule, part in hits
        for buyer in ("B1", "B2")
        if allowed(buyer, RULE_VIEWS[rule], part)
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    agreements=st.lists(agreement_draw, max_size=4),
    limits=st.fixed_dictionaries(
        {p: st.sampled_from([500.0, 4_000.0, 10_000.0]) for p in ("X", "Y")}
    ),
)
def test_alerts_reach_exactly_the_buyers_the_rules_allow(
    programme: Any,
    agreements: list[tuple[str, set[str], set[str], set[str] | None, str, bool]],
    limits: dict[str, float],
) -> None:
    engine, _, _ = programme
    spans = {
        "current": (TODAY - timedelta(days=10), TODAY + timedelta(days=10)),
        "expired": (TODAY - timedelta(days=30), TODAY - timedelta(days=1)),
        "future": (TODAY + timedelta(days=1), None),
        "open": (TODAY, None),
    }
    with engine.begin() as conn:
        conn.execute(delete(alert))
        for table in (AgreementView, AgreementPurpose, AgreementPart, SharingAgreement):
            conn.execute(delete(table.__table__))
        conn.execute(delete(PartThreshold.__table__))
        conn.execute(
            PartThreshold.__table__.insert(),
            [{"supplier_id": "S1", "part_number": p, "max_ppm": m} for p, m in limits.items()],
        )
        for n, (buyer, views, purposes, listed, kind, revoked) in enumerate(agreements):
            start, end = spans[kind]
            add_agreement(
                conn,
                Agreement(
                    f"AG{n}",
                    "S1",
                    buyer,
                    None,
                    frozenset(views),
                    frozenset(purposes),
                    PartScope.SHIPPED if listed is None else PartScope.LISTED,
                    frozenset(listed or ()),
                    start,
                    end,
                    AgreementStatus.REVOKED if revoked else AgreementStatus.ACTIVE,
                ),
            )
    note(f"agreements={agreements!r} limits={limits!r}")
    evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW)
    a = alert.c
    with engine.connect() as conn:
        got = {
            (r.rule, r.buyer_id, r.part_number)
            for r in conn.execute(select(a.rule, a.buyer_id, a.part_number, a.supplier_id))
            if r.supplier_id == "S1"
        }
    assert got == oracle(agreements, limits)


def test_two_evaluations_racing_record_each_alert_once(programme: Any) -> None:
    engine, _, _ = programme
    results: list[list[str]] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW).created)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 2 and sum(len(r) for r in results) == 4
    assert len(alerts_in(engine)) == 4


def test_the_delivery_sensor_asks_for_a_run_when_one_is_due_and_none_is_on_its_way(
    programme: Any, db_url: str
) -> None:
    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.defs.ingest.definitions import resources

    engine, _, _ = programme
    settings = load_settings(database_url=db_url)
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("alert_deliveries_due")
    with dg.instance_for_test() as instance:

        def ask() -> Any:
            with dg.build_sensor_context(instance=instance, resources=resources(settings)) as c:
                return sensor(c)

        assert "no webhook delivery is due" in ask().skip_message
        from governance.alerts import set_webhook

        with engine.begin() as conn:
            set_webhook(conn, "B1", "http://127.0.0.1:1/h", NOW)
        evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW)
        assert isinstance(ask(), dg.RunRequest)
        job = defs.resolve_job_def("alerts")
        queued = instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED)
        assert "on its way" in ask().skip_message
        instance.delete_run(queued.run_id)
        assert isinstance(ask(), dg.RunRequest)


def test_no_webhook_goes_out_once_the_quality_agreement_ended(programme: Any) -> None:
    engine, _, _ = programme
    receiver = Receiver()
    try:
        from governance.alerts import set_webhook

        with engine.begin() as conn:
            receiver.secret = set_webhook(conn, "B1", receiver.url, NOW)
        assert len(evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW).created) == 4
        with engine.begin() as conn:
            t = SharingAgreement.__table__
            conn.execute(
                update(t)
                .where(t.c.buyer_id == "B1", t.c.supplier_id == "S1")
                .values(valid_to=TODAY - timedelta(days=1))
            )
        done = deliver_due(engine, NOW, today=TODAY)
        assert (done.sent, done.failed) == (0, 0) and receiver.received == []
        a = alert.c
        with engine.connect() as conn:
            assert conn.scalar(select(a.alert_id).where(a.next_attempt_at.is_not(None))) is None
    finally:
        receiver.close()


class DrippingReceiver:
    """An endpoint that answers its status line and then one header byte every 0.1 s
    for up to 30 s: each read is quick, the answer never whole in time."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/alerts"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65_536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for _ in range(300):
                    if self.stop.wait(0.1):
                        return
                    try:
                        conn.sendall(b"X")
                    except OSError:
                        break
                else:
                    conn.sendall(b": y\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_a_receiver_dripping_its_headers_cannot_hold_the_delivery(
    programme: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import serving.webhooks

    engine, _, _ = programme
    monkeypatch.setattr(serving.webhooks, "TIMEOUT_S", 1.0)  # reads may take 0.2 s each
    receiver = DrippingReceiver()
    try:
        from governance.alerts import set_webhook

        with engine.begin() as conn:
            set_webhook(conn, "B1", receiver.url, NOW)
        created = evaluate(engine, TODAY - timedelta(days=14), TODAY, NOW).created
        assert len(created) >= 2  # one URL, several alerts: the pass stops trying it
        done = deliver_due(engine, NOW, today=TODAY)
        assert (done.sent, done.failed, done.deferred) == (0, 1, len(created) - 1)
        a = alert.c
        with engine.connect() as conn:
            errors = conn.scalars(select(AlertDelivery.__table__.c.error)).all()
            still_due = conn.scalar(
                select(func.count()).where(a.attempts == 0, a.next_attempt_at <= NOW)
            )
        assert errors == ["no whole answer within 1 s"]
        assert still_due == len(created) - 1  # not lost: the next pass tries them
        again = deliver_due(engine, NOW, today=TODAY)  # the first waits for its backoff
        assert (again.sent, again.failed, again.deferred) == (0, 1, len(created) - 2)
    finally:
        receiver.close()
