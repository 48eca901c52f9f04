"""Runs the simulator: onboards its suppliers, writes the reference data, sends events.

Suppliers are onboarded with the operator's own code path (`connectors.onboarding.onboard`); events
go through the supplier SDK or the HTTP gateway, exactly as a real MES would send them,
so refused events are refused by the platform, not by the simulator.
"""

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml

from connectors.onboarding import onboard
from connectors.sdk import SupplierClient
from connectors.simulator.events import SimEvent
from connectors.simulator.world import World
from governance.parties import Parties
from sangsaeng.errors import TransientError
from sangsaeng.files import write_private
from sangsaeng.kafka_access import client_security
from sangsaeng.settings import Settings
from schemas.topics import supplier_topic

BATCH = 500
Via = Literal["sdk", "gateway", "mixed"]


def to_json(value: Any) -> Any:
    """JSON-ready copy: datetimes and dates as ISO-8601 text."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def write_reference(world: World, path: Path) -> None:
    """The world's reference data as YAML at `path` (the state dir's `reference.yaml`), 0600.

    Missing folders up to it are created 0700; a state dir already there is left as it is:
    only `stack up` tightens an existing one (README), and a user may have chosen it."""
    text = yaml.safe_dump(world.reference(), sort_keys=False, allow_unicode=True)
    write_private(path, text)


def write_events(events: Iterable[SimEvent], path: Path) -> int:
    """All events as JSON Lines (byte-identical for the same seed and arguments)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w") as out:
        for e in events:
            out.write(
                json.dumps(
                    {
                        "supplier_id": e.supplier_id,
                        "event_type": e.event_type,
                        "flaw": e.flaw,
                        "record": to_json(e.record),
                    },
                    sort_keys=True,
                )
                + "\n"
            )
            count += 1
    return count


@dataclass
class SendReport:
    """What the platform made of the simulated stream."""

    generated: int = 0
    accepted: Counter[str] = field(default_factory=Counter)  # by topic
    refused: Counter[str] = field(default_factory=Counter)  # by reason
    flawed: Counter[str] = field(default_factory=Counter)  # by flaw, as generated
    via: dict[str, str] = field(default_factory=dict)  # supplier -> path
    still_spooled: int = 0


class Paced:
    """Holds a stream to `rate` events per second (0: as fast as it goes)."""

    def __init__(self, rate: float) -> None:
        self.rate, self.start, self.sent = rate, time.monotonic(), 0

    def __call__(self, n: int) -> None:
        self.sent += n
        if self.rate > 0:
            ahead = self.sent / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                time.sleep(ahead)  # pacing is the point here, not waiting on a condition


def send(
    world: World,
    events: Iterator[SimEvent],
    settings: Settings,
    *,
    via: Via = "sdk",
    rate: float = 0.0,
    progress: Callable[[int], None] = lambda _: None,
) -> SendReport:
    """Onboard the world's suppliers and send `events` through the SDK and/or gateway."""
    from sangsaeng.db import make_engine

    report = SendReport()
    engine = make_engine(settings.database_url)
    parties = Parties(engine)
    logins = {}
    for s in world.suppliers:
        done = onboard(
            parties,
            settings.kafka_bootstrap,
            s.supplier_id,
            s.name,
            s.sector,
            partitions=settings.topic_partitions,
            retention_days=settings.topic_retention_days,
            max_message_bytes=settings.topic_max_message_bytes,
            new_kafka_login=True,
        )
        logins[s.supplier_id] = done.kafka_login
    for i, s in enumerate(world.suppliers):
        report.via[s.supplier_id] = via if via != "mixed" else ("sdk", "gateway")[i % 2]
    clients = {  # each supplier's SDK logs in as that supplier, as its MES would
        sid: SupplierClient.from_settings(
            sid, settings, security=client_security(settings, None, login=logins[sid])
        )
        for sid, path in report.via.items()
        if path == "sdk"
    }
    keys = {sid: parties.issue_key(sid) for sid, path in report.via.items() if path == "gateway"}
    http = httpx.Client(base_url=settings.gateway_url, timeout=60)
    pace = Paced(rate)
    buffers: dict[tuple[str, str], list[SimEvent]] = {}

    def ship(supplier_id: str, event_type: str, batch: list[SimEvent]) -> None:
        records = [e.record for e in batch]
        topic = supplier_topic(supplier_id, event_type)
        if supplier_id in clients:
            ids, refused = clients[supplier_id].send_batch(event_type, records)
            report.accepted[topic] += len(ids)
            report.refused.update(f"{exc.field or '-'}: refused at the SDK" for _, exc in refused)
        else:
            answer = _post(http, keys[supplier_id], supplier_id, event_type, records)
            for item in answer:
                report.refused[f"{item.get('field') or '-'}: refused at the gateway"] += 1
            report.accepted[topic] += len(records) - len(answer)
        pace(len(batch))
        progress(len(batch))

    try:
        for event in events:
            report.generated += 1
            if event.flaw:
                report.flawed[event.flaw] += 1
            buffer = buffers.setdefault((event.supplier_id, event.event_type), [])
            buffer.append(event)
            if len(buffer) >= BATCH:
                ship(event.supplier_id, event.event_type, buffer)
                buffers[(event.supplier_id, event.event_type)] = []
        for (supplier_id, event_type), buffer in buffers.items():
            if buffer:
                ship(supplier_id, event_type, buffer)
        for client in clients.values():
            with contextlib.suppress(TransientError):  # stays spooled; the report says so
                client.flush()
            report.still_spooled += client.pending()
    finally:
        for client in clients.values():
            client.close()
        http.close()
        engine.dispose()
    return report


def _post(
    http: httpx.Client,
    key: str,
    supplier_id: str,
    event_type: str,
    records: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """POST one batch (split if refused for size); the rejections the gateway named."""
    for _attempt in range(20):
        try:
            answer = http.post(
                f"/v1/events/{event_type}", json=to_json(records), headers={"X-API-Key": key}
            )
        except httpx.TransportError as exc:
            raise TransientError(
                f"no ingest gateway answers at {http.base_url} ({type(exc).__name__}): start it "
                f"with `sangsaeng stack up`, or point SANGSAENG_GATEWAY_URL at yours"
            ) from None
        if answer.status_code == 429:
            time.sleep(float(answer.headers.get("Retry-After", "1")))
            continue
        if answer.status_code == 403:  # a spoofed record refuses the whole request
            good = [r for r in records if r.get("supplier_id") in (None, supplier_id)]
            bad = len(records) - len(good)
            return [{"field": "supplier_id"}] * bad + (
                _post(http, key, supplier_id, event_type, good) if good else []
            )
        if answer.status_code in (202, 422):
            return list(answer.json()["rejected"])
        raise TransientError(f"the gateway answered {answer.status_code}: {answer.text[:200]}")
    raise TransientError("the gateway kept answering 429 (rate limit)")
