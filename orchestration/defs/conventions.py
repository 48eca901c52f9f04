"""What every asset of the platform carries, in one place: owners, kinds, the column
schema as table metadata, sample rows of a failed check, and the retry of transient
failures.

Retries: one mechanism, `transient_errors_retried`. A `TransientError` (a lost
connection, a held lock, a broker away) asks Dagster for another attempt, with a growing
wait, up to `TRANSIENT_RETRIES` times; a terminal error (a schema to upgrade, refused
credentials, a bug) fails the step at once, since retrying changes nothing. A
`dg.RetryPolicy` is deliberately not declared as well: it retries every exception,
terminal ones included, and even turns Ctrl-C during `sangsaeng ingest` into a retry.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
from sqlalchemy import Table
from sqlalchemy.engine import make_url

from sangsaeng.errors import TransientError

OWNERS = ["team:data-platform"]
PIPELINE_TAG = "sangsaeng/pipeline"  # run tag; the instance's run queue limits runs per value
# Dagster's standard table metadata keys (its `TableMetadataSet`, not exported here).
TABLE_NAME, COLUMN_SCHEMA, ROW_COUNT = (
    "dagster/table_name",
    "dagster/column_schema",
    "dagster/row_count",
)
TRANSIENT_RETRIES = 3
FIRST_RETRY_WAIT_S = 1.0  # then 2 s, 4 s


def database_kind(database_url: str) -> str:
    """The kind (UI icon) of the platform database: `sqlite` or `postgres`."""
    backend = make_url(database_url).get_backend_name()
    return "postgres" if backend == "postgresql" else backend


def table_schema(table: Table, docs: Mapping[str, str] | None = None) -> dg.TableSchema:
    """`table`'s columns as Dagster's column schema: SQL type, nullability, and the
    description from `docs` (e.g. the contract's) or else the column's comment."""
    docs = docs or {}
    primary = {c.name for c in table.primary_key.columns}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=str(c.type),
                description=docs.get(c.name) or c.comment,
                constraints=dg.TableColumnConstraints(
                    nullable=bool(c.nullable), unique=primary == {c.name}
                ),
            )
            for c in table.columns
        ],
        constraints=dg.TableConstraints(
            other=[f"primary key ({', '.join(sorted(primary))})"] if primary else []
        ),
    )


def table_metadata(table: Table, docs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The definition metadata of an asset that is `table`: its name and column schema."""
    return {
        TABLE_NAME: table.name,
        COLUMN_SCHEMA: table_schema(table, docs),
        **({"comment": table.comment} if table.comment else {}),
    }


def samples(rows: Sequence[Mapping[str, Any]]) -> dg.MetadataValue:
    """A few offending rows of a failed check, as a table the UI shows as such."""
    if not rows:
        return dg.MetadataValue.json([])
    names = list(dict.fromkeys(k for row in rows for k in row))
    kinds = {bool: "bool", int: "int", float: "float"}

    def kind(name: str) -> str:
        types = {type(r.get(name)) for r in rows if r.get(name) is not None}
        return kinds.get(types.pop(), "string") if len(types) == 1 else "string"

    def cell(value: Any) -> Any:
        return value if value is None or isinstance(value, bool | int | float | str) else str(value)

    return dg.MetadataValue.table(
        records=[dg.TableRecord({n: cell(r.get(n)) for n in names}) for r in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(n, kind(n)) for n in names]),
    )


@contextmanager
def transient_errors_retried(context: dg.OpExecutionContext) -> Iterator[None]:
    """Around an asset's body: a `TransientError` becomes another attempt (see the
    module's docstring); every other error goes through unchanged and fails the step."""
    try:
        yield
    except TransientError as exc:
        context.log.warning(f"will retry: {exc}")
        wait = FIRST_RETRY_WAIT_S * 2 ** min(context.retry_number, TRANSIENT_RETRIES)
        raise dg.RetryRequested(max_retries=TRANSIENT_RETRIES, seconds_to_wait=wait) from exc
