"""The CLI's way into the platform: the settings, and databases at this release.

Commands that use the platform database get their engine from `engine()`, the registry
commands theirs from `registry_engine()`; both upgrade an empty database in place and
refuse one at another revision with a line naming `sangsaeng db upgrade`
(`migrations.schema.ensure`). Heavy imports stay inside the functions so `--help` is
instant.
"""

from typing import TYPE_CHECKING, Any

from sangsaeng.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def settings() -> Settings:
    """The process-wide settings (`ConfigError` naming the variable when invalid)."""
    return get_settings()


def _checked(made: "Engine", ensure: bool) -> "Engine":
    from migrations.schema import ensure as ensure_schema

    if ensure:
        ensure_schema(made)
    return made


def engine(*, ensure: bool = True, **pool: Any) -> "Engine":
    """An engine on the platform database, checked (or upgraded when empty) unless told
    not; `pool`: the connection pool's sizes, for a server."""
    from sangsaeng.db import make_engine

    return _checked(make_engine(settings().database_url, **pool), ensure)


def registry_engine(*, ensure: bool = True) -> "Engine":
    """An engine on the schema registry's database (its own SQLite file by default)."""
    from schemas.registry.server import registry_engine as made

    return _checked(made(settings()), ensure)


def databases() -> dict[str, str]:
    """The databases this platform keeps, by role: the platform's and, when it is another
    one, the registry's (the same migrations own both)."""
    current = settings()
    found = {"platform": current.database_url}
    if current.registry_database_url != current.database_url:
        found["registry"] = current.registry_database_url
    return found
