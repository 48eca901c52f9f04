"""Where the platform database stands and how it is brought to this release: upgrade,
status, and the check every service makes before it uses the database.

`upgrade` runs Alembic's revisions to head and then the landing columns generated
from the contracts (`contract_columns`), in ONE transaction holding the database's
write lock (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so two services
starting together on an empty database upgrade it once and a failure leaves it as it
was. `ensure` is what the registry, the gateway, the stack and ingest call: an empty
database is upgraded in place, one at this release's revision passes, anything else
is refused with one line naming `sangsaeng db upgrade`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

import governance.models  # noqa: F401 - every table on METADATA, as env.py loads them
import pipelines.views.catalog  # noqa: F401
import schemas.registry.models  # noqa: F401
from migrations.contract_columns import ColumnChange, apply_changes, contract_changes
from pipelines.landing.models import Contracts, default_contracts
from sangsaeng.db import METADATA, UPGRADE_HINT, SchemaMismatch, database_error

HERE = Path(__file__).parent
VERSION_TABLE = "alembic_version"
TABLES_BEFORE_MIGRATIONS = {"supplier", "gateway_api_key"}  # renamed since
ADVISORY_LOCK = 0x5A6E5A  # PostgreSQL advisory lock id held while upgrading


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def head_revision() -> str:
    """The revision this release's code expects."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands against this release."""

    url: str
    revision: str | None  # None: never migrated
    head: str
    pending: list[ColumnChange] = field(default_factory=list)
    tables: int = 0  # the platform's tables present
    known: bool = True  # False: a revision this release does not know (a newer one)

    @property
    def empty(self) -> bool:
        return self.revision is None and self.tables == 0

    @property
    def current(self) -> bool:
        return self.revision == self.head and not self.pending

    def explain(self) -> str:
        """One line: what is wrong and what to run."""
        if self.current:
            return f"the platform database at {self.url} is at revision {self.head} (current)"
        if not self.known:
            return (
                f"the platform database at {self.url} is at revision {self.revision}, which this "
                f"release (revision {self.head}) does not know: it was upgraded by a newer "
                "release; run that release, or restore a backup made before its upgrade"
            )
        if self.revision is None and self.tables:
            return (
                f"the platform database at {self.url} has {self.tables} tables but no migration "
                "revision: it was made by a release before migrations; wipe the local stack's "
                "data (`sangsaeng stack down --wipe`) or point SANGSAENG_DATABASE_URL at a new "
                "database"
            )
        if self.revision == self.head:
            more = ", ..." if len(self.pending) > 4 else ""
            changes = ", ".join(map(str, self.pending[:4])) + more
            return (
                f"the platform database at {self.url} lacks what this release's contracts "
                f"need ({changes}): {UPGRADE_HINT}"
            )
        where = "empty" if self.revision is None else f"at revision {self.revision}"
        return (
            f"the platform database at {self.url} is {where}, this release needs revision "
            f"{self.head}: {UPGRADE_HINT}"
        )


def known_revisions() -> set[str]:
    """Every revision this release's migrations know."""
    return {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}


def _status(conn: Connection, url: str, contracts: Contracts) -> SchemaStatus:
    revision = MigrationContext.configure(conn).get_current_revision()
    # Only our own tables count (and those of releases before migrations): a database
    # may hold others (PostGIS's, another application's).
    ours = [
        n
        for n in inspect(conn).get_table_names()
        if n in METADATA.tables or n in TABLES_BEFORE_MIGRATIONS
    ]
    known = revision is None or revision in known_revisions()
    pending = contract_changes(conn, contracts) if revision is not None and known else []
    return SchemaStatus(url, revision, head_revision(), pending, len(ours), known)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def status(engine: Engine, contracts: Contracts | None = None) -> SchemaStatus:
    """Where `engine`'s database stands; `TransientError` when it cannot be reached."""
    try:
        with engine.connect() as conn:
            return _status(conn, _url(engine), contracts or default_contracts())
    except DBAPIError as exc:
        raise database_error(exc, "reading the schema revision") from exc


@dataclass(frozen=True)
class UpgradeOutcome:
    """What `upgrade` did."""

    before: str | None
    after: str
    changes: list[ColumnChange]

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.changes)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # pysqlite opens no transaction before DDL by itself; without this every CREATE
        # would commit on its own and two upgraders could interleave.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK})


def upgrade(engine: Engine, contracts: Contracts | None = None) -> UpgradeOutcome:
    """Bring the database to this release: revisions to head, then the contract columns.

    Idempotent. Raises `SchemaMismatch` for a database made before migrations, a
    `TerminalError` for a contract change that needs a written revision, and
    `TransientError` when the database cannot be reached (nothing changed).
    """
    contracts = contracts or default_contracts()
    try:
        with engine.connect() as conn:
            _lock(conn)
            before = _status(conn, _url(engine), contracts)
            if (before.revision is None and before.tables) or not before.known:
                raise SchemaMismatch(before.explain())
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            changes = contract_changes(conn, contracts)
            apply_changes(conn, changes)
            conn.commit()
    except DBAPIError as exc:
        raise database_error(exc, "upgrading the database") from exc
    return UpgradeOutcome(before.revision, head_revision(), changes)


def ensure(engine: Engine, contracts: Contracts | None = None) -> SchemaStatus:
    """Pass when the database is at this release; upgrade it when it is empty.

    Raises `SchemaMismatch` (one line naming `sangsaeng db upgrade`) otherwise.
    """
    found = status(engine, contracts)
    if found.current:
        return found
    if found.empty:
        upgrade(engine, contracts)
        return status(engine, contracts)
    raise SchemaMismatch(found.explain())
