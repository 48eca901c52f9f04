"""The platform database: its one `MetaData`, the engine factory, and what its errors mean.

Every table of the platform database (registry, governance, landing, quarantine,
offsets, ...) is declared on `METADATA`, whose one owner is the Alembic migrations in
`migrations/`: nothing else creates tables. SQLite (the embedded default) gets WAL mode
and a busy timeout so the registry, the gateway and ingestion can share one file; a
bare `postgresql://` URL is read as psycopg 3, the driver the platform ships with.
`database_error` turns a driver error into a `TransientError` (a lost connection, a
lock held too long: retry) or a `TerminalError` (the schema does not match, a
constraint or a value was refused: retrying changes nothing).
"""

from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.orm import DeclarativeBase

from sangsaeng.errors import PlatformError, TerminalError, TransientError
from sangsaeng.files import private_sqlite

# Named constraints, so migrations and error messages can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A `MetaData` with the platform's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


METADATA = new_metadata()


class PlatformBase(DeclarativeBase):
    """Declarative base of every ORM table of the platform database (on `METADATA`)."""

    metadata = METADATA


def normalise_url(url: str | URL) -> URL:
    """`url` with `postgresql://` mapped to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, sqlite_timeout_s: float = 30.0, **kwargs: Any) -> Engine:
    """An engine for `url`; a SQLite file is made private to its user before SQLite opens
    it (`sangsaeng.files.private_sqlite`: the file 0600, a missing folder 0700).

    `sqlite_timeout_s`: how long a SQLite writer waits for another one's lock.
    """
    parsed = normalise_url(url)
    # Errors never carry the statement's values (a password hash, a supplier's payload).
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        if not parsed.database.startswith("file:"):  # a URI (uri=true) names its own modes
            private_sqlite(Path(parsed.database))
    else:  # an in-memory database gets a pool of its own kind, which takes no sizes
        kwargs.pop("pool_size", None)
        kwargs.pop("max_overflow", None)
    engine = create_engine(parsed, connect_args={"timeout": sqlite_timeout_s}, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


# SQLite reports a schema that does not match as an OperationalError, like a lock.
_SQLITE_SCHEMA_MISMATCH = ("no such table", "no such column", "has no column named")
UPGRADE_HINT = "run `sangsaeng db upgrade`"


class SchemaMismatch(TerminalError):
    """The database's tables are not what this release expects: it needs an upgrade."""


class DataRefused(TerminalError):
    """The database refused a value or a row (a constraint, a type, a NUL byte)."""


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line only."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# PostgreSQL SQLSTATE classes and codes (psycopg puts them on `orig.sqlstate`).
_PG_SCHEMA_MISMATCH = {"42P01", "42703", "42704", "42883"}  # undefined table/column/object
_PG_TRANSIENT_PREFIXES = ("08", "40", "53", "57P")  # connection, rollback, resources, shutdown
_PG_TRANSIENT = {"25006"}  # read-only transaction (a failover in progress)
_PG_ACCESS_PREFIXES = ("28", "42501")  # credentials refused, insufficient privilege


def _schema_mismatch(detail: str, doing: str) -> SchemaMismatch:
    return SchemaMismatch(
        f"the platform database does not match this release while {doing} ({detail}): "
        f"{UPGRADE_HINT}"
    )


def _unavailable(detail: str, doing: str) -> TransientError:
    return TransientError(
        f"database unavailable while {doing} ({detail}); nothing of it was written: "
        "try again once the database is back"
    )


def database_error(exc: DBAPIError, doing: str) -> PlatformError:
    """What `exc`, raised while `doing` (e.g. "landing a batch"), means for the caller.

    Lost connections, held locks and a database shutting down are transient; a missing
    table or column is a `SchemaMismatch` naming `sangsaeng db upgrade`; refused data
    is `DataRefused`; refused credentials or privileges are terminal and say so.
    """
    detail = first_line(exc)
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    by_code = _unavailable(detail, doing) if exc.connection_invalidated else None
    by_code = by_code or _by_sqlstate(sqlstate, detail, doing)
    if by_code is not None:
        return by_code
    if isinstance(exc, OperationalError) and any(
        marker in detail for marker in _SQLITE_SCHEMA_MISMATCH
    ):
        return _schema_mismatch(detail, doing)
    if isinstance(exc, IntegrityError | DataError):
        return DataRefused(f"the database refused the data while {doing}: {detail}")
    if isinstance(exc, OperationalError | InterfaceError):
        return _unavailable(detail, doing)
    if isinstance(exc, ProgrammingError) and not sqlstate:
        return _schema_mismatch(detail, doing)
    return TerminalError(f"database error while {doing}: {detail}")


def _by_sqlstate(sqlstate: str, detail: str, doing: str) -> PlatformError | None:
    """PostgreSQL's own word on what went wrong (None: no code, or none we sort by)."""
    if sqlstate in _PG_SCHEMA_MISMATCH:
        return _schema_mismatch(detail, doing)
    if sqlstate in _PG_TRANSIENT or sqlstate.startswith(_PG_TRANSIENT_PREFIXES):
        return _unavailable(detail, doing)
    if sqlstate.startswith(_PG_ACCESS_PREFIXES):
        return TerminalError(
            f"the database refused access while {doing} ({detail}): check the user, "
            "password and grants in SANGSAENG_DATABASE_URL"
        )
    return None
