"""The audit trail: one row per read of the buyer API or the dashboard, allowed or denied,
appended in the same transaction as the read, each row chained to the one before.

A row's hash is SHA-256 over the previous row's hash and the row's own content (its
canonical JSON), so changing, deleting or inserting a row anywhere breaks every link
after it; `verify` walks the chain and reports the first broken link. Appends are
serialised so two requests cannot both chain to the same predecessor: on PostgreSQL an
advisory lock, then one statement that reads the last link, hashes and adds the row (the
database computing the SHA-256 that `verify` recomputes in Python); on SQLite the write
lock its first write takes. Reads run side by side, but from its append to its commit a
request holds the chain, the price of a single chain. The chain proves the trail was not
edited inside the database; it does not stop someone who can rewrite the whole table, or
cut rows from its end, from going unnoticed (a deployment ships the latest hash elsewhere
for that).
"""

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection, Engine, RootTransaction
from sqlalchemy.exc import DBAPIError

from governance.models import AuditEntry, AuditSupplier

GENESIS = "0" * 64  # the previous hash of the first row
audit_log = AuditEntry.__table__
audit_supplier = AuditSupplier.__table__
AUDIT_LOCK = 0x5A6E_A0D1  # the PostgreSQL advisory lock id held while appending
# This process's appenders queue here before the database's own lock: a thread waiting on
# a Python lock wakes the moment it is free, one waiting on SQLite's write lock sleeps in
# steps of milliseconds.
_APPENDING = threading.Lock()


@dataclass(frozen=True)
class Read:
    """What one request did, as the audit trail records it."""

    org_id: str | None
    role: str | None
    purpose: str | None
    method: str
    endpoint: str
    status: int
    view: str | None = None
    filters: Mapping[str, str] | None = None
    suppliers: Mapping[str, int] | None = None  # rows returned per supplier
    rows: int = 0
    reason: str | None = None


def _content(seq: int, at: datetime, read: Read) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "org_id": read.org_id,
        "role": read.role,
        "purpose": read.purpose,
        "method": read.method,
        "endpoint": read.endpoint,
        "view": read.view,
        "filters": dict(sorted((read.filters or {}).items())),
        "suppliers": dict(sorted((read.suppliers or {}).items())),
        "rows": read.rows,
        "status": read.status,
        "reason": read.reason,
    }


def _canonical(content: Mapping[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{_canonical(content)}".encode()).hexdigest()


def _around_seq(content: Mapping[str, Any]) -> tuple[str, str]:
    """The canonical JSON of `content` cut where its seq goes: (before, after). The top
    level is written key by key exactly as `_canonical` writes it, so the database can
    put the seq it assigns in between and hash the same bytes."""
    parts = [f"{json.dumps(k)}:{_canonical(content[k])}" for k in sorted(content)]
    at = sorted(content).index("seq")
    before = "{" + ",".join(parts[:at]) + ("," if at else "") + '"seq":'
    after = ("," if at < len(parts) - 1 else "") + ",".join(parts[at + 1 :]) + "}"
    return before, after


# PostgreSQL appends in one statement once it holds the advisory lock (a statement of its
# own: under READ COMMITTED the next statement's snapshot then sees the last holder's
# row), the database hashing what Python would: SHA-256 of "<previous hash>\n<canonical
# JSON>", the JSON's seq being the last row's plus one.
_PG_HASH = (
    "encode(sha256(convert_to({prev} || chr(10) || CAST(:before AS TEXT) || CAST({seq} AS TEXT) "
    "|| CAST(:after AS TEXT), "
    "'UTF8')), 'hex')"
)
_PG_LOCK = "SELECT pg_advisory_xact_lock(%(audit_lock)s)"
_PG_APPEND = text(
    f"""
    WITH last AS (
        SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1
    ), next AS (
        SELECT coalesce((SELECT seq FROM last), 0) + 1 AS seq,
               coalesce((SELECT hash FROM last), CAST(:genesis AS TEXT)) AS prev_hash
    ), link AS (
        SELECT seq, prev_hash, {_PG_HASH.format(prev="prev_hash", seq="seq")} AS hash
        FROM next
    ), entry AS (
        INSERT INTO audit_log (seq, at, org_id, role, purpose, method, endpoint, view,
                               filters, suppliers, rows, status, reason, prev_hash, hash)
        SELECT seq, :at, :org_id, :role, :purpose, :method, :endpoint, :view,
               CAST(:filters AS JSON), CAST(:suppliers AS JSON), :rows, :status, :reason,
               prev_hash, hash
        FROM link
        RETURNING seq
    ), readers AS (
        INSERT INTO audit_supplier (supplier_id, seq, rows)
        SELECT s.key, entry.seq, CAST(s.value AS INTEGER)
        FROM entry, json_each_text(CAST(:suppliers AS JSON)) AS s
    )
    SELECT seq FROM entry
    """
)


def _pg_values(read: Read, at: datetime) -> dict[str, Any]:
    content = _content(0, at, read)
    before, after = _around_seq(content)
    return {
        **content,
        "at": at,
        "filters": _canonical(content["filters"]),
        "suppliers": _canonical(content["suppliers"]),
        "genesis": GENESIS,
        "before": before,
        "after": after,
    }


def append(conn: Connection, read: Read, at: datetime | None = None) -> int:
    """Append `read` to the trail inside the caller's transaction; returns its seq."""
    at = at or datetime.now(UTC)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK})
        return int(conn.execute(_PG_APPEND, _pg_values(read, at)).scalar_one())
    content = _content(0, at, read)
    if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        # pysqlite opens a transaction only at the first write: take the write lock
        # before reading the last row, or two appends could chain to the same one
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    last = conn.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    content["seq"] = seq
    link = {"seq": seq, "prev_hash": prev, "hash": chain_hash(prev, content)}
    conn.execute(insert(audit_log), {**content, **link, "at": at})
    if content["suppliers"]:
        conn.execute(
            insert(audit_supplier),
            [{"supplier_id": s, "seq": seq, "rows": n} for s, n in content["suppliers"].items()],
        )
    return seq


def _pg_append_and_commit(conn: Connection, transaction: RootTransaction, read: Read) -> int:
    """The advisory lock, the append and the commit in one simple-query message (the
    values bound on the client), so the server runs them back to back and the chain is
    held for the server's time alone. Sent one by one, each step waited for its thread
    to get Python's GIL back from the API's other request threads while every other
    appender waited on the lock. The price: the append is parsed and planned at every
    request (a prepared statement cannot share a message with others)."""
    compiled = _PG_APPEND.compile(dialect=conn.dialect)
    values = compiled.construct_params(_pg_values(read, datetime.now(UTC)))
    values["audit_lock"] = AUDIT_LOCK
    statement = f"{_PG_LOCK}; {compiled.string}; COMMIT"
    raw = conn.connection.dbapi_connection
    try:
        with psycopg.ClientCursor(raw) as cursor:  # type: ignore[arg-type]
            cursor.execute(statement, values)
            cursor.nextset()  # past the lock's result to the append's
            row = cursor.fetchone()
    except psycopg.Error as exc:
        if raw.broken:  # type: ignore[union-attr]
            conn.invalidate()  # as SQLAlchemy does for its own statements: not back to the pool
        # raised as SQLAlchemy's own statements raise it: the gate answers 503
        raise DBAPIError.instance(statement, values, exc, psycopg.Error) from exc
    # the server has committed: this ends SQLAlchemy's side (psycopg sends nothing)
    transaction.commit()
    assert row is not None
    return int(row[0])


def append_and_commit(conn: Connection, transaction: RootTransaction, read: Read) -> int:
    """Append `read` in `transaction` (the read's own, on `conn`) and commit it; returns
    the row's seq. The chain is held from the append to the commit."""
    if conn.dialect.name == "postgresql":
        return _pg_append_and_commit(conn, transaction, read)
    # On SQLite, a read that wrote (acknowledging an alert, narrowing an agreement)
    # holds the database's write lock already: it must not then wait for the process's
    # lock, whose holder may be waiting for that write lock.
    queue = not conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
    with _APPENDING if queue else contextlib.nullcontext():
        seq = append(conn, read)
        transaction.commit()
    return seq


def record(engine: Engine, read: Read) -> int:
    """Append `read` in a transaction of its own (a denied request reads nothing)."""
    with engine.connect() as conn, conn.begin() as transaction:
        return append_and_commit(conn, transaction, read)


def _rows(conn: Connection, batch: int = 5_000) -> Iterator[Any]:
    after = 0
    while True:
        found = conn.execute(
            select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(batch)
        ).all()
        if not found:
            return
        yield from found
        after = found[-1].seq


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: rows checked, and the first broken link (None: intact)."""

    rows: int
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_seq is None


def _read_of(row: Any) -> Read:
    return Read(
        row.org_id,
        row.role,
        row.purpose,
        row.method,
        row.endpoint,
        row.status,
        row.view,
        row.filters,
        row.suppliers,
        row.rows,
        row.reason,
    )


def verify(engine: Engine) -> Verdict:
    """Walk the chain from the first row; stop at the first broken link."""
    checked, prev, expected_seq = 0, GENESIS, 1
    with engine.connect() as conn:
        for row in _rows(conn):
            if row.seq != expected_seq:
                return Verdict(
                    checked, expected_seq, f"row {expected_seq} is missing (next is {row.seq})"
                )
            if row.prev_hash != prev:
                return Verdict(checked, row.seq, "its previous hash is not the row before's hash")
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
            if chain_hash(prev, _content(row.seq, at, _read_of(row))) != row.hash:
                return Verdict(checked, row.seq, "its content does not match its hash (edited)")
            checked, prev, expected_seq = checked + 1, row.hash, row.seq + 1
    return Verdict(checked)


def entries_for_supplier(
    conn: Connection, supplier_id: str, *, limit: int = 100, before_seq: int | None = None
) -> list[Any]:
    """The reads that returned rows of `supplier_id` ("who saw my data"), newest first,
    each with `supplier_rows`: how many of the rows were this supplier's (the request's
    total would tell it about the others')."""
    c, k = audit_log.c, audit_supplier.c
    query = (
        select(audit_log, k.rows.label("supplier_rows"))
        .join(audit_supplier, k.seq == c.seq)
        .where(k.supplier_id == supplier_id)
        .order_by(c.seq.desc())
        .limit(limit)
    )
    if before_seq is not None:
        query = query.where(c.seq < before_seq)
    return list(conn.execute(query).all())
