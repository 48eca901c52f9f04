"""The CLI's way into the platform: the settings and a database at this release.

Commands that use the platform database get their engine from `engine()`, which
upgrades an empty database in place and refuses one at another revision with a line
naming `sangsaeng db upgrade` (`migrations.schema.ensure`). Heavy imports stay inside
the functions so `--help` is instant.
"""

from typing import TYPE_CHECKING

from sangsaeng.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def settings() -> Settings:
    """The process-wide settings (`ConfigError` naming the variable when invalid)."""
    return get_settings()


def engine(*, ensure: bool = True) -> "Engine":
    """An engine on the platform database, checked (or upgraded when empty) unless told not."""
    from migrations.schema import ensure as ensure_schema
    from sangsaeng.db import make_engine

    made = make_engine(settings().database_url)
    if ensure:
        ensure_schema(made)
    return made
