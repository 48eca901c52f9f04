"""The gateway's clients, one spool-backed `SupplierClient` per supplier, and the thread
that forwards their spools to Kafka: at start every spool found on disk, then all
pending spools every `idle_wait_s`, sooner when a request spooled something."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.sdk import SupplierClient
from connectors.sdk.client import ForwardProblem
from connectors.sdk.spool import spool_paths
from sangsaeng.errors import PlatformError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Forwarding:
    """How one supplier's events are getting on: what waits, what was refused, and the
    last thing that stopped a forward (kind away / refused / not_onboarded)."""

    supplier_id: str
    spooled: int
    dead_letters: int
    last_problem: ForwardProblem | None
    last_forwarded_at: datetime | None


class ClientPool:
    """Clients per supplier, and a forwarder thread draining their spools.

    Requests only write to the spool (durable, fast); the forwarder sends. A broker
    outage makes the forwarder back off, never a request fail. With `spool_dir`, the
    pool also takes on the spools already there (left by a crash or a stop) of every
    supplier `known` says is onboarded, at start and every `rescan_s`, so nothing
    waits for its supplier to send again.
    """

    def __init__(
        self,
        make_client: Callable[[str], SupplierClient],
        idle_wait_s: float = 0.5,
        retry_wait_s: float = 2.0,
        *,
        spool_dir: Path | None = None,
        known: Callable[[str], bool] = lambda _supplier_id: True,
        rescan_s: float = 30.0,
    ) -> None:
        self._make = make_client
        self._clients: dict[str, SupplierClient] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.idle_wait_s, self.retry_wait_s = idle_wait_s, retry_wait_s
        self.spool_dir, self._known, self.rescan_s = spool_dir, known, rescan_s
        self._strangers: set[str] = set()  # spools on disk of no onboarded supplier
        self._thread = threading.Thread(target=self._run, name="gateway-forwarder", daemon=True)

    def client(self, supplier_id: str) -> SupplierClient:
        with self._lock:
            if supplier_id not in self._clients:
                self._clients[supplier_id] = self._make(supplier_id)
            return self._clients[supplier_id]

    def discover(self) -> list[str]:
        """Take on the spools in `spool_dir` of onboarded suppliers that have no client
        yet; returns their supplier ids. A spool of an unknown supplier is left alone
        (said once in the log) and looked at again at the next scan."""
        if self.spool_dir is None:
            return []
        with self._lock:
            new = [s for s in spool_paths(self.spool_dir) if s not in self._clients]
        taken = []
        for supplier_id in new:
            if not self._known(supplier_id):
                if supplier_id not in self._strangers:
                    self._strangers.add(supplier_id)
                    log.warning(
                        "the spool of %r in %s belongs to no onboarded supplier: not "
                        "forwarded until it is onboarded",
                        supplier_id,
                        self.spool_dir,
                    )
                continue
            self.client(supplier_id)
            taken.append(supplier_id)
        if taken:
            log.info("forwarding the spools found on disk of %s", ", ".join(taken))
        return taken

    def forwarding(self) -> list[Forwarding]:
        """Each client's spooled and dead-lettered counts and last problem (`/metrics`)."""
        with self._lock:
            clients = sorted(self._clients.items())
        return [
            Forwarding(
                supplier_id,
                client.pending(),
                client.dead_letters(),
                client.last_problem,
                client.last_forwarded_at,
            )
            for supplier_id, client in clients
        ]

    def metrics(self) -> dict[str, Any]:
        """`forwarding()` as JSON: per supplier, totals over all."""
        rows = self.forwarding()
        return {
            "suppliers": {
                f.supplier_id: {
                    "spooled": f.spooled,
                    "dead_letters": f.dead_letters,
                    "last_forwarded_at": _iso(f.last_forwarded_at),
                    "last_error": None
                    if f.last_problem is None
                    else {
                        "kind": f.last_problem.kind.value,
                        "message": f.last_problem.message,
                        "at": _iso(f.last_problem.at),
                    },
                }
                for f in rows
            },
            "spooled": sum(f.spooled for f in rows),
            "dead_letters": sum(f.dead_letters for f in rows),
        }

    def notify(self) -> None:
        """Something was spooled: forward soon."""
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _rescan(self) -> None:
        try:
            self.discover()
        except Exception:  # the platform database away, say: try again at the next scan
            log.exception("could not take on the spools in %s", self.spool_dir)

    def _run(self) -> None:
        self._rescan()
        next_scan = time.monotonic() + self.rescan_s
        while not self._stop.is_set():
            if time.monotonic() >= next_scan:
                self._rescan()
                next_scan = time.monotonic() + self.rescan_s
            with self._lock:
                clients = list(self._clients.values())
            failed = False
            for client in clients:
                if self._stop.is_set():
                    return
                try:
                    if not client.spool.empty():
                        client.flush()
                except PlatformError as exc:
                    failed = True
                    log.warning("forwarding for %s paused: %s", client.supplier_id, exc)
                except Exception:  # never let one spool end the thread that drains them all
                    failed = True
                    log.exception("forwarding for %s failed", client.supplier_id)
            if failed:
                self._stop.wait(self.retry_wait_s)
            self._wake.wait(self.idle_wait_s)
            self._wake.clear()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
