"""The SDK's store-and-forward spool: a SQLite file (WAL) of events not yet acknowledged.

An accepted event is committed here before `send` returns, and deleted only after the
broker acknowledged it, so a network outage or a crash loses nothing. Rows keep their
acceptance order (`seq`), which is the order they are forwarded in.

An event the broker refuses for good (too large for the topic, say) moves to the same
file's dead letters (`spool_dead`) with the broker's reason, so it cannot hold up the
events behind it; an operator lists, retries (back to the tail) or drops them
(`sangsaeng spool`). Every accepted event is thus in Kafka, in the spool, or in its
dead letters.
"""

import sqlite3
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sangsaeng.errors import TerminalError
from sangsaeng.files import private_sqlite
from schemas.topics import SUPPLIER_ID

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
);
CREATE TABLE IF NOT EXISTS spool_dead (
    seq         INTEGER PRIMARY KEY,
    event_type  TEXT NOT NULL,
    topic       TEXT NOT NULL,
    key         BLOB NOT NULL,
    event_id    TEXT NOT NULL,
    body        BLOB NOT NULL,
    accepted_at REAL NOT NULL,
    refused_at  REAL NOT NULL,
    reason      TEXT NOT NULL
)
"""
_COLUMNS = "event_type, topic, key, event_id, body, accepted_at"


@dataclass(frozen=True)
class SpooledEvent:
    """One accepted event: Avro body without the Confluent frame (added when forwarding)."""

    seq: int
    event_type: str
    topic: str
    key: bytes
    event_id: str
    body: bytes


@dataclass(frozen=True)
class DeadLetter:
    """An accepted event the broker refused for good, kept aside with its reason."""

    seq: int  # its place in the spool when it was refused
    event_type: str
    topic: str
    event_id: str
    size: int  # bytes of its Avro body
    accepted_at: datetime
    refused_at: datetime
    reason: str


class Spool:
    """A durable FIFO of events for one supplier, safe across processes and restarts."""

    def __init__(self, path: Path) -> None:
        # Private to its user (0600, its folder 0700) before SQLite opens it: it holds
        # the supplier's events. SQLite gives the -wal and -shm files the same mode.
        private_sqlite(path)
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

    def empty(self) -> bool:
        """True when nothing waits to be forwarded (cheaper than `count() == 0`)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM spool LIMIT 1").fetchone() is None

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

    def set_cursor(self, name: str, position: int) -> None:
        """Record where the named reader (or marker) is, on its own."""
        with self._lock:
            self._db.execute(
                "INSERT INTO cursor (name, position) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (name, position),
            )

    def drop_cursor(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM cursor WHERE name = ?", (name,))

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

    # -- dead letters ------------------------------------------------------------------

    def dead_letter(self, seq: int, reason: str) -> bool:
        """Move the spooled event `seq` to the dead letters with the broker's `reason`.

        One transaction: the event is in exactly one of the two tables, whatever moment
        a crash picks. Returns False when `seq` is no longer spooled.
        """
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            moved = self._db.execute(
                f"INSERT INTO spool_dead (seq, {_COLUMNS}, refused_at, reason)"
                f" SELECT seq, {_COLUMNS}, ?, ? FROM spool WHERE seq = ?",
                (time.time(), reason, seq),
            ).rowcount
            self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))
        return moved == 1

    def dead_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool_dead").fetchone()[0])

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        """The dead letters, oldest refusal first (at most `limit`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_type, topic, event_id, length(body), accepted_at, refused_at,"
                " reason FROM spool_dead ORDER BY seq LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [
            DeadLetter(seq, kind, topic, event_id, size, _utc(accepted), _utc(refused), reason)
            for seq, kind, topic, event_id, size, accepted, refused, reason in rows
        ]

    def retry_dead(self, seqs: Collection[int] | None = None) -> int:
        """Move dead letters (`seqs`, default all) back to the tail of the spool, in their
        original order, to be forwarded again; returns how many moved.

        They keep their `event_id` and acceptance time and get new places at the tail
        (the spool's limit does not apply: they were accepted once already).
        """
        where, params = _seq_filter(seqs)
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                f"INSERT INTO spool ({_COLUMNS}) SELECT {_COLUMNS} FROM spool_dead{where}"
                " ORDER BY seq",
                params,
            )
            return self._db.execute(f"DELETE FROM spool_dead{where}", params).rowcount

    def drop_dead(self, seqs: Collection[int] | None = None) -> int:
        """Delete dead letters (`seqs`, default all) for good; returns how many."""
        where, params = _seq_filter(seqs)
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            return self._db.execute(f"DELETE FROM spool_dead{where}", params).rowcount


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _seq_filter(seqs: Collection[int] | None) -> tuple[str, tuple[int, ...]]:
    if seqs is None:
        return "", ()
    chosen = tuple(int(s) for s in seqs)
    return f" WHERE seq IN ({', '.join('?' * len(chosen))})" if chosen else " WHERE 0", chosen


# -- the spools of a state dir (the operator's view: `sangsaeng spool`) ------------------


@dataclass(frozen=True)
class SpoolStatus:
    """How one supplier's spool stands: events waiting, and events refused for good."""

    supplier_id: str
    path: Path
    pending: int
    dead_letters: int


def spool_folder(state_dir: Path) -> Path:
    """Where the spools of a state dir live: `<state_dir>/spool/<supplier_id>.db`."""
    return state_dir / "spool"


def spool_paths(folder: Path) -> dict[str, Path]:
    """The spools in `folder` (`<supplier_id>.db`, as `SupplierClient.from_settings`
    names them), by supplier id."""
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.db")) if SUPPLIER_ID.match(p.stem)}


def open_spool(folder: Path, supplier_id: str) -> Spool:
    """The existing spool of `supplier_id` in `folder`; `TerminalError` naming the spools
    there when it has none (a spool is never created by looking at it)."""
    path = spool_paths(folder).get(supplier_id)
    if path is None:
        known = ", ".join(spool_paths(folder)) or "none"
        raise TerminalError(
            f"no spool for supplier {supplier_id!r} in {folder} (spools there: {known}); "
            "check --supplier, or SANGSAENG_STATE_DIR"
        )
    return Spool(path)


def spool_statuses(folder: Path, supplier_id: str | None = None) -> list[SpoolStatus]:
    """Pending and dead-lettered counts of every spool in `folder` (or of one supplier's)."""
    suppliers = [supplier_id] if supplier_id else list(spool_paths(folder))
    statuses = []
    for supplier in suppliers:
        spool = open_spool(folder, supplier)
        try:
            statuses.append(SpoolStatus(supplier, spool.path, spool.count(), spool.dead_count()))
        finally:
            spool.close()
    return statuses


def dead_letters_in(folder: Path, supplier_id: str | None = None) -> list[tuple[str, DeadLetter]]:
    """(supplier_id, dead letter) for every spool in `folder` (or one supplier's)."""
    found = []
    for supplier in [supplier_id] if supplier_id else list(spool_paths(folder)):
        spool = open_spool(folder, supplier)
        try:
            found.extend((supplier, dead) for dead in spool.dead_letters())
        finally:
            spool.close()
    return found


def retry_dead_letters(
    folder: Path, supplier_id: str, seqs: Collection[int] | None = None
) -> tuple[int, int]:
    """Move a supplier's dead letters (`seqs`, default all) back to its spool's tail.

    Returns (moved, now pending). Whoever forwards that spool next sends them: the
    gateway's forwarder within a second, or the SDK's next `flush`.
    """
    spool = open_spool(folder, supplier_id)
    try:
        return spool.retry_dead(seqs), spool.count()
    finally:
        spool.close()


def drop_dead_letters(folder: Path, supplier_id: str, seqs: Collection[int] | None = None) -> int:
    """Delete a supplier's dead letters (`seqs`, default all) for good; returns how many."""
    spool = open_spool(folder, supplier_id)
    try:
        return spool.drop_dead(seqs)
    finally:
        spool.close()
