"""What a database error means: real SQLite errors (files in tmp_path) sorted into
transient (retry) and terminal (schema or data: retrying changes nothing)."""

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sangsaeng.db import DataRefused, SchemaMismatch, database_error, make_engine
from sangsaeng.errors import TerminalError, TransientError

pytestmark = pytest.mark.unit


def _raised(engine, statement: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(statement))
    return caught.value


@pytest.fixture
def engine(tmp_path: Path):
    made = make_engine(f"sqlite:///{tmp_path / 'p.db'}", sqlite_timeout_s=0.2)
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    yield made
    made.dispose()


@pytest.mark.parametrize(
    "statement",
    ["INSERT INTO t (id, v, w) VALUES (1, 'a', 2)", "SELECT * FROM no_such_table"],
)
def test_a_schema_that_does_not_match_is_terminal_and_names_the_upgrade(engine, statement):
    error = database_error(_raised(engine, statement), "landing a batch")
    assert isinstance(error, SchemaMismatch) and isinstance(error, TerminalError)
    assert "sangsaeng db upgrade" in str(error) and "landing a batch" in str(error)


def test_a_refused_value_is_terminal(engine):
    error = database_error(_raised(engine, "INSERT INTO t (id, v) VALUES (1, NULL)"), "landing")
    assert isinstance(error, DataRefused) and "NOT NULL" in str(error)


def test_a_lock_held_too_long_is_transient(engine, tmp_path):
    holder = sqlite3.connect(tmp_path / "p.db")
    holder.execute("BEGIN IMMEDIATE")
    try:
        error = database_error(_raised(engine, "INSERT INTO t (id, v) VALUES (2, 'b')"), "x")
    finally:
        holder.rollback()
        holder.close()
    assert isinstance(error, TransientError) and "database is locked" in str(error)


@pytest.mark.parametrize(
    ("error", "expected", "says"),
    [
        ("UndefinedColumn", SchemaMismatch, "sangsaeng db upgrade"),
        ("UndefinedTable", SchemaMismatch, "sangsaeng db upgrade"),
        ("AdminShutdown", TransientError, "try again"),
        ("ReadOnlySqlTransaction", TransientError, "try again"),
        ("SerializationFailure", TransientError, "try again"),
        ("InvalidPassword", TerminalError, "check the user, password"),
        ("InsufficientPrivilege", TerminalError, "grants"),
        ("UntranslatableCharacter", DataRefused, "refused the data"),
        ("UniqueViolation", DataRefused, "refused the data"),
    ],
)
def test_postgresql_errors_are_sorted_by_their_sqlstate(error, expected, says):
    import psycopg

    orig = getattr(psycopg.errors, error)("the server's message")
    wrapped = DBAPIError.instance("SELECT 1", None, orig, psycopg.Error)
    found = database_error(wrapped, "landing a batch")
    assert type(found) is expected or (expected is TerminalError and type(found) is TerminalError)
    assert says in str(found) and "the server's message" in str(found)
