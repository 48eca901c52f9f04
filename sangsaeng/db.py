"""Engines for the platform database: one factory so every stage opens SQL the same way.

SQLite (the embedded default) gets WAL mode and a busy timeout so the registry, the
gateway and ingestion can share one file; a bare `postgresql://` URL is read as
psycopg 3, the driver the platform ships with.
"""

from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import URL, Engine, make_url

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


def normalise_url(url: str | URL) -> URL:
    """`url` with `postgresql://` mapped to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, sqlite_timeout_s: float = 30.0, **kwargs: Any) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created if missing.

    `sqlite_timeout_s`: how long a SQLite writer waits for another one's lock.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": sqlite_timeout_s}, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
