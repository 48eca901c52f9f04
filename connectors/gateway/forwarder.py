"""The gateway's clients, one spool-backed `SupplierClient` per supplier, and the thread
that forwards their spools to Kafka whenever there is something to send."""

import logging
import threading
from collections.abc import Callable

from connectors.sdk import SupplierClient
from sangsaeng.errors import PlatformError

log = logging.getLogger(__name__)


class ClientPool:
    """Lazily made clients per supplier, and a forwarder thread draining their spools.

    Requests only write to the spool (durable, fast); the forwarder sends. A broker
    outage makes the forwarder back off, never a request fail.
    """

    def __init__(
        self,
        make_client: Callable[[str], SupplierClient],
        idle_wait_s: float = 0.5,
        retry_wait_s: float = 2.0,
    ) -> None:
        self._make = make_client
        self._clients: dict[str, SupplierClient] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.idle_wait_s, self.retry_wait_s = idle_wait_s, retry_wait_s
        self._thread = threading.Thread(target=self._run, name="gateway-forwarder", daemon=True)

    def client(self, supplier_id: str) -> SupplierClient:
        with self._lock:
            if supplier_id not in self._clients:
                self._clients[supplier_id] = self._make(supplier_id)
            return self._clients[supplier_id]

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

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.idle_wait_s)
            self._wake.clear()
            with self._lock:
                clients = list(self._clients.values())
            failed = False
            for client in clients:
                if self._stop.is_set():
                    return
                try:
                    if client.pending():
                        client.flush()
                except PlatformError as exc:
                    failed = True
                    log.warning("forwarding for %s paused: %s", client.supplier_id, exc)
            if failed:
                self._stop.wait(self.retry_wait_s)
