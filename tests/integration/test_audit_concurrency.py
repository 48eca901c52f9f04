"""Appends racing for the audit trail keep one unbroken chain: threads of one process
(which queue on the process's lock) and engines of their own (standing for other
processes, which queue on the database's lock), on SQLite and PostgreSQL; and whatever
text a request carries, the hash the database computes (PostgreSQL appends in one
statement) is the one `verify` recomputes in Python."""

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from governance import audit
from governance.models import AuditEntry, AuditSupplier
from sangsaeng.db import make_engine

pytestmark = pytest.mark.integration
THREADS = 6
EACH = 25


def test_racing_appends_make_one_unbroken_chain(db_url: str) -> None:
    shared = make_engine(db_url)
    own = [make_engine(db_url) for _ in range(THREADS // 2)]
    engines = [shared] * (THREADS - len(own)) + own
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def appender(n: int, engine: Engine) -> None:
        try:
            start.wait()
            for i in range(EACH):
                read = audit.Read(
                    f"B{n}",
                    "buyer",
                    "quality",
                    "GET",
                    f"/v1/views/oee_daily?{i}",
                    200,
                    "oee_daily",
                    {"supplier": f"S{n}"},
                    {f"S{n}": i + 1},
                    i + 1,
                )
                audit.record(engine, read)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=appender, args=(n, e)) for n, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    found = audit.verify(shared)
    assert found.intact, found.problem
    assert found.rows == THREADS * EACH
    with shared.connect() as conn:
        seqs = conn.scalars(select(AuditEntry.__table__.c.seq).order_by("seq")).all()
        per_supplier = dict(
            conn.execute(
                select(AuditSupplier.__table__.c.supplier_id, func.count()).group_by(
                    AuditSupplier.__table__.c.supplier_id
                )
            ).all()
        )
    assert seqs == list(range(1, THREADS * EACH + 1))  # no gap, none twice
    assert per_supplier == {f"S{n}": EACH for n in range(THREADS)}
    for engine in {*engines}:
        engine.dispose()


def test_a_read_that_wrote_and_a_plain_read_append_without_waiting_on_each_other(
    db_url: str,
) -> None:
    """A request that writes (acknowledging an alert) holds SQLite's write lock when it
    appends; a plain read appending meanwhile waits for that lock, not the other way."""
    from governance.models import Organisation

    engine = make_engine(db_url, sqlite_timeout_s=5)
    wrote = threading.Event()
    done: list[str] = []
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with engine.connect() as conn, conn.begin() as transaction:
                conn.execute(
                    Organisation.__table__.insert().values(org_id="W1", name="W", role="buyer")
                )
                wrote.set()
                time.sleep(0.5)  # the plain read takes the process's lock meanwhile
                audit.append_and_commit(conn, transaction, _read("W1"))
                done.append("writer")
        except BaseException as exc:
            failures.append(exc)

    def reader() -> None:
        try:
            wrote.wait(5)
            audit.record(engine, _read("R1"))
            done.append("reader")
        except BaseException as exc:
            failures.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not failures, failures
    assert sorted(done) == ["reader", "writer"]
    assert time.monotonic() - started < 4  # no wait for a lock timeout
    assert audit.verify(engine).intact
    engine.dispose()


def _read(org: str) -> audit.Read:
    return audit.Read(org, "buyer", "quality", "POST", "/v1/alerts/x/close", 200)


# any text but NUL (the gate strips it; PostgreSQL refuses it) and lone surrogates
# (no UTF-8 for them: the request could not have carried one)
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.tuples(TEXT, TEXT, TEXT, st.one_of(st.none(), TEXT)),
    filters=st.dictionaries(TEXT, TEXT, max_size=4),
    suppliers=st.dictionaries(TEXT.filter(bool), st.integers(0, 10**6), max_size=4),
)
def test_the_database_and_verify_hash_the_same_bytes(
    db_url: str,
    texts: tuple[str, str, str, str | None],
    filters: dict[str, str],
    suppliers: dict[str, int],
) -> None:
    endpoint, purpose, view, reason = texts
    engine = _engines.setdefault(db_url, make_engine(db_url))
    read = audit.Read(
        "B1",
        "buyer",
        purpose[:32],
        "GET",
        endpoint,
        403,
        view[:64],
        filters,
        suppliers,
        sum(suppliers.values()),
        reason,
    )
    seq = audit.record(engine, read)
    found = audit.verify(engine)
    assert found.intact, found.problem
    with engine.connect() as conn:
        row = conn.execute(select(AuditEntry.__table__).where(AuditEntry.seq == seq)).one()
        readers = dict(
            conn.execute(
                select(AuditSupplier.supplier_id, AuditSupplier.rows).where(
                    AuditSupplier.seq == seq
                )
            ).all()
        )
    assert (row.endpoint, row.filters, row.suppliers, row.reason) == (
        endpoint,
        filters,
        suppliers,
        reason,
    )
    assert readers == suppliers  # "who saw my data" indexes every supplier


_engines: dict[str, Engine] = {}


@pytest.mark.parametrize(
    "empty_db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_connection_lost_at_the_append_raises_as_sqlalchemy_does_and_adds_nothing(
    db_url: str,
) -> None:
    """PostgreSQL appends and commits in one message sent past SQLAlchemy: its failure
    must still be a DBAPIError (the gate answers 503 for those), and leave the chain as
    it was."""
    engine = make_engine(db_url)
    audit.record(engine, _read("R0"))
    with engine.connect() as conn:
        transaction = conn.begin()
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError):
            audit.append_and_commit(conn, transaction, _read("R1"))
    assert audit.record(engine, _read("R2")) == 2  # the pool hands out a live connection
    verdict = audit.verify(engine)
    assert verdict.intact and verdict.rows == 2
