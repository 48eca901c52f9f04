"""Alembic's environment: the one place the platform database's schema is migrated from.

Run through `sangsaeng db upgrade` (which hands over an open connection in
`config.attributes["connection"]`), or by Alembic's own command for developers writing
a revision: `.venv/bin/alembic -c migrations/alembic.ini revision --autogenerate -m "..."`
against the database of SANGSAENG_DATABASE_URL.
"""

from alembic import context

import governance.models  # noqa: F401 - registers the parties' tables on METADATA
import pipelines.landing.models
import pipelines.views.catalog  # noqa: F401 - the views and their touched keys
import schemas.registry.models  # noqa: F401 - the registry's tables
from sangsaeng.db import METADATA, make_engine
from sangsaeng.settings import load_settings

config = context.config


def run() -> None:
    """Migrate over the connection we were given, or one to the configured database."""
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(load_settings().database_url)
        with engine.begin() as own:
            _migrate(own)
        engine.dispose()
    else:
        _migrate(connection)


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit(
        "offline (SQL script) migrations are not supported: run `sangsaeng db upgrade`"
    )
run()
