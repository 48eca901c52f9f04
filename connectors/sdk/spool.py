"""The SDK's store-and-forward spool: a SQLite file (WAL) of events not yet acknowledged.

An accepted event is committed here before `send` returns, and deleted only after the
broker acknowledged it, so a network outage or a crash loses nothing. Rows keep their
acceptance order (`seq`), which is the order they are forwarded in.
"""

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type  TEXT NOT NULL,
    topic       TEXT NOT NULL,
    key         BLOB NOT NULL,
    event_id    TEXT NOT NULL,
    body        BLOB NOT NULL,
    accepted_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursor (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class SpooledEvent:
    """One accepted event: Avro body without the Confluent frame (added when forwarding)."""

    seq: int
    event_type: str
    topic: str
    key: bytes
    event_id: str
    body: bytes


class Spool:
    """A durable FIFO of events for one supplier, safe across processes and restarts."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an accepted event survives power loss
        self._db.executescript(SCHEMA)
        # One connection serves request threads and a forwarder thread (the gateway);
        # a sqlite3 connection must not be used by two threads at once.
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def append(
        self,
        events: list[tuple[str, str, bytes, str, bytes]],
        *,
        limit: int,
        cursor: tuple[str, int] | None = None,
    ) -> int:
        """Add (event_type, topic, key, event_id, body) rows in one transaction.

        With `cursor=(name, position)`, that cursor moves in the same transaction, so a
        reader that records how far it got (the file connector) can never accept a row
        twice or skip one, whatever moment a crash picks. Returns how many were added;
        refuses (adds none, moves nothing, returns -1) past `limit` events.
        """
        now = time.time()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._size_upper_bound() + len(events) > limit and (
                self.count() + len(events) > limit
            ):
                return -1
            self._db.executemany(
                "INSERT INTO spool (event_type, topic, key, event_id, body, accepted_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(*e, now) for e in events],
            )
            if cursor is not None:
                self._db.execute(
                    "INSERT INTO cursor (name, position) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                    cursor,
                )
        return len(events)

    def cursor(self, name: str) -> int | None:
        """Where the named reader got to (None: never started)."""
        with self._lock:
            row = self._db.execute("SELECT position FROM cursor WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def _size_upper_bound(self) -> int:
        """At least the number of rows, read from the primary key's ends (no table scan,
        unlike count(*)); exact unless rows were removed out of order."""
        # Two subqueries: SQLite reads min/max off the index only for a lone min() or max().
        low, high = self._db.execute(
            "SELECT (SELECT min(seq) FROM spool), (SELECT max(seq) FROM spool)"
        ).fetchone()
        return 0 if low is None else high - low + 1

    def oldest(self, limit: int) -> list[SpooledEvent]:
        """Up to `limit` events in acceptance order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_type, topic, key, event_id, body FROM spool"
                " ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [SpooledEvent(*row) for row in rows]

    def remove(self, seqs: list[int]) -> None:
        """Forget events the broker acknowledged."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")  # one transaction, one fsync, for the batch
            self._db.executemany("DELETE FROM spool WHERE seq = ?", [(s,) for s in seqs])

    def topics(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT topic FROM spool")]

    def remove_event_ids(self, event_ids: set[str]) -> int:
        """Forget spooled events whose ids are already in Kafka (crash recovery)."""
        if not event_ids:
            return 0
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            before = self.count()
            self._db.executemany("DELETE FROM spool WHERE event_id = ?", [(e,) for e in event_ids])
            return before - self.count()
