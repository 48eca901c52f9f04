"""The landing tables' columns against the contracts: what `db upgrade` must change.

Contracts evolve under BACKWARD_TRANSITIVE: a new version may add a field with a
default, or drop one. The columns that follow are not written as revisions by hand;
they are generated here from the diff between the landing tables the contracts
describe (`pipelines.landing.models.landing_tables`) and the tables in the database:
a field the database lacks becomes a new column (nullable, or with the field's default
so rows landed before it read as that default), and a NOT NULL column whose field the
contracts dropped becomes nullable so new rows can omit it. Anything else (a field
changing type) is not guessed at: it needs a revision written by a developer.
"""

from dataclasses import dataclass
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, inspect
from sqlalchemy.engine import Connection

from pipelines.landing.models import Contracts, landing_tables
from sangsaeng.errors import TerminalError


@dataclass(frozen=True)
class ColumnChange:
    """One change to a landing table: `add` a column or `relax` it to nullable."""

    table: str
    column: str
    action: str  # "add" | "relax"
    column_def: Column[Any] | None = None

    def __str__(self) -> str:
        verb = "add column" if self.action == "add" else "make nullable"
        return f"{verb} {self.table}.{self.column}"


def _kind(type_: Any) -> str:
    try:
        return type_.python_type.__name__
    except NotImplementedError:
        return type(type_).__name__


def _detached(column: Column[Any]) -> Column[Any]:
    default = column.server_default
    return Column(
        column.name,
        column.type,
        nullable=column.nullable,
        server_default=getattr(default, "arg", None),
        comment=column.comment,
    )


def contract_changes(conn: Connection, contracts: Contracts) -> list[ColumnChange]:
    """The changes that bring the landing tables in line with `contracts`.

    Raises `TerminalError` for a difference no generated change can make (a type).
    """
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    changes: list[ColumnChange] = []
    for table in landing_tables(contracts).values():
        if table.name not in present:
            continue  # created by the revisions; nothing to compare before they ran
        existing = {c["name"]: c for c in inspector.get_columns(table.name)}
        for column in table.columns:
            found = existing.get(column.name)
            if found is None:
                changes.append(ColumnChange(table.name, column.name, "add", _detached(column)))
            elif _kind(found["type"]) != _kind(column.type):
                raise TerminalError(
                    f"{table.name}.{column.name} is {found['type']} in the database but the "
                    f"contract now makes it {column.type}: a change of type needs an Alembic "
                    "revision written for it (see migrations/alembic.ini)"
                )
            elif column.nullable and not found["nullable"] and not column.primary_key:
                changes.append(ColumnChange(table.name, column.name, "relax"))
        for name, found in existing.items():
            if name not in table.columns and not found["nullable"] and found["default"] is None:
                changes.append(ColumnChange(table.name, name, "relax"))
    return changes


def apply_changes(conn: Connection, changes: list[ColumnChange]) -> None:
    """Make `changes` on `conn` (inside the caller's transaction)."""
    op = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
    for change in changes:
        if change.action == "add":
            column = change.column_def
            assert column is not None
            if not column.nullable and column.server_default is None:
                # Rows landed before the field existed have no value to give it.
                column.nullable = True
            op.add_column(change.table, column)
        else:
            existing = next(
                c for c in inspect(conn).get_columns(change.table) if c["name"] == change.column
            )
            with op.batch_alter_table(change.table) as batch:
                batch.alter_column(change.column, existing_type=existing["type"], nullable=True)
