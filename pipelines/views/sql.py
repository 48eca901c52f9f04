"""SQL expressions the views need that SQLite and PostgreSQL spell differently.

Each compiles per dialect to the same value, so a view computes identical numbers on
both: dates stay dates ('YYYY-MM-DD' on SQLite), durations are whole milliseconds
(SQLite's julianday arithmetic is rounded to the millisecond, PostgreSQL's epoch
difference is exact to the microsecond and rounded the same way). JSON arrays stored in
landing columns unnest with `json_array_elements` and `json_field`.
"""

import re
from typing import Any

from sqlalchemy import BigInteger, Date, Double, String, Table, cast, literal_column, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import TableValuedAlias

# Execution options for an INSERT ... SELECT whose rowcount is wanted: SQLAlchemy keeps
# it only for UPDATE and DELETE unless asked, and psycopg's then reads as -1.
KEEP_ROWCOUNT = {"preserve_rowcount": True}


class week_start(FunctionElement[Any]):
    """The Monday of a date's ISO week."""

    type = Date()
    inherit_cache = True


@compiles(week_start, "sqlite")
def _week_start_sqlite(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    # 'weekday 0' moves to the Sunday on or after the date; six days back is its Monday.
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(week_start, "postgresql")
def _week_start_pg(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(date_trunc('week', {compiler.process(element.clauses, **kw)}) AS DATE)"


class month_start(FunctionElement[Any]):
    """The first day of a date's month."""

    type = Date()
    inherit_cache = True


@compiles(month_start, "sqlite")
def _month_start_sqlite(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@compiles(month_start, "postgresql")
def _month_start_pg(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


class epoch_ms(FunctionElement[Any]):
    """A timestamp as whole milliseconds since 1970-01-01 UTC."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_ms, "sqlite")
def _epoch_ms_sqlite(element: epoch_ms, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"CAST(ROUND((julianday({value}) - 2440587.5) * 86400000.0) AS INTEGER)"


@compiles(epoch_ms, "postgresql")
def _epoch_ms_pg(element: epoch_ms, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM {value}) * 1000) AS BIGINT)"


class day_number(FunctionElement[Any]):
    """A date as a whole number of days (differences of two are days between them)."""

    type = BigInteger()
    inherit_cache = True


@compiles(day_number, "sqlite")
def _day_number_sqlite(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(day_number, "postgresql")
def _day_number_pg(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    # days since 2000-01-01; only differences are used
    return f"(CAST({compiler.process(element.clauses, **kw)} AS DATE) - DATE '2000-01-01')"


def duration_ms(start: Any, end: Any) -> ColumnElement[Any]:
    """Whole milliseconds from `start` to `end`."""
    return epoch_ms(end) - epoch_ms(start)


def real(value: Any) -> ColumnElement[Any]:
    """`value` as a double (PostgreSQL sums of BIGINT are NUMERIC; ratios must not be)."""
    return cast(value, Double)


def ratio(numerator: Any, denominator: Any) -> ColumnElement[Any]:
    """numerator / denominator as a double, NULL when the denominator is NULL or 0."""
    from sqlalchemy import case

    return case((denominator > 0, real(numerator) / real(denominator)), else_=None)


class _json_array(FunctionElement[Any]):
    """A JSON array's elements as rows (one column, `value`); nothing for a non-array."""

    inherit_cache = True


@compiles(_json_array, "sqlite")
def _json_array_sqlite(element: _json_array, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    # json_each walks an object's members or yields a scalar itself: keep arrays only
    return f"json_each(CASE WHEN json_type({value}) = 'array' THEN {value} ELSE '[]' END)"


@compiles(_json_array, "postgresql")
def _json_array_pg(element: _json_array, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    # json_array_elements raises on a scalar or object (e.g. a JSON null): keep arrays only
    return (
        f"json_array_elements(CASE WHEN json_typeof({value}) = 'array' "
        f"THEN {value} ELSE CAST('[]' AS JSON) END)"
    )


def json_array_elements(array: Any, name: str) -> TableValuedAlias:
    """The elements of the JSON array column `array`, as a table named `name` with one
    column, `value` (each element, as JSON); no rows for an empty array, a JSON null or
    anything that is not an array.

    Join it to the table that holds `array` with `join(..., true())`: a table function in
    FROM may refer to the tables before it on both databases (PostgreSQL's implicit
    LATERAL, SQLite's table-valued functions). Read the elements' fields with
    `json_field`. SQLite: `json_each`; PostgreSQL: `json_array_elements` (on JSON, which
    is how SQLAlchemy's JSON type is stored there).
    """
    return _json_array(array).table_valued("value", name=name)


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class json_field(FunctionElement[Any]):
    """Field `key` of a JSON object (as `json_array_elements` yields them), as SQL text
    or number (SQLite) / text (PostgreSQL); SQL NULL when absent or JSON null. Cast it
    (`cast(..., BigInteger)`, `real(...)`) for arithmetic, which both then agree on."""

    inherit_cache = True

    def __init__(self, element: Any, key: str) -> None:
        if not _FIELD.fullmatch(key):
            raise ValueError(f"a JSON field name must be an identifier, not {key!r}")
        # the key goes in as a clause, so that it is part of the statement's cache key
        super().__init__(element, literal_column(key))

    def parts(self, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
        element, key = self.clauses.clauses
        return compiler.process(element, **kw), str(key.name)


@compiles(json_field, "sqlite")
def _json_field_sqlite(element: json_field, compiler: SQLCompiler, **kw: Any) -> str:
    # The key is inlined (checked to be an identifier), not bound: PostgreSQL would not
    # see `value ->> $1` in SELECT and `value ->> $2` in GROUP BY as the same expression.
    value, key = element.parts(compiler, **kw)
    return f"json_extract({value}, '$.{key}')"


@compiles(json_field, "postgresql")
def _json_field_pg(element: json_field, compiler: SQLCompiler, **kw: Any) -> str:
    value, key = element.parts(compiler, **kw)
    return f"({value} ->> '{key}')"


class _json_array_strings(FunctionElement[Any]):
    inherit_cache = True


@compiles(_json_array_strings, "sqlite")
def _json_array_strings_sqlite(
    element: _json_array_strings, compiler: SQLCompiler, **kw: Any
) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


@compiles(_json_array_strings, "postgresql")
def _json_array_strings_pg(element: _json_array_strings, compiler: SQLCompiler, **kw: Any) -> str:
    # The landing tables' JSON columns are `json` (not `jsonb`) on PostgreSQL.
    return f"json_array_elements_text({compiler.process(element.clauses, **kw)})"


def json_strings(array: Any, name: str = "element") -> TableValuedAlias:
    """The strings of a JSON array of strings (e.g. a shipment's `lot_ids`), one row per
    element in column `value`: a table-valued function named `name` to JOIN (ON true)
    after the table holding `array`, which it reads row by row (SQLite `json_each`,
    PostgreSQL `json_array_elements_text`, implicitly lateral). An empty array or a SQL
    NULL gives no rows."""
    return _json_array_strings(array).table_valued("value", name=name)


class comma_list(FunctionElement[Any]):
    """The values joined with ',' (SQLite `group_concat`, PostgreSQL `string_agg`).

    SQLite before 3.44 cannot order an aggregate's input, so use it as a window function
    ordered by the value over the whole partition, which both databases accumulate in
    that order: `comma_list(x).over(partition_by=..., order_by=x, rows=(None, None))`,
    over distinct values."""

    type = String()
    inherit_cache = True


@compiles(comma_list, "sqlite")
def _comma_list_sqlite(element: comma_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(comma_list, "postgresql")
def _comma_list_pg(element: comma_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


class plus_days(FunctionElement[Any]):
    """A date `days` (a whole number, inlined) days later: bounds a range on a date index."""

    type = Date()
    inherit_cache = True

    def __init__(self, value: Any, days: int) -> None:
        self.days = int(days)
        super().__init__(value, literal_column(str(self.days)))


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses.clauses[0], **kw)
    return f"date({value}, '{element.days:+d} days')"


@compiles(plus_days, "postgresql")
def _plus_days_pg(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses.clauses[0], **kw)
    return f"CAST(CAST({value} AS DATE) + {element.days:d} AS DATE)"


def analyze(conn: Connection, table: Table) -> None:
    """Refresh PostgreSQL's statistics of a work table this transaction just filled
    (oee_day_end). Its rows come and go with each refresh, so the statistics autovacuum
    last took are of none, and the planner, taking one row for hundreds, repeated a scan
    of a landing table once per row (measured: 0.9 s for 30 suppliers' day ends).
    ANALYZE counts the transaction's own uncommitted rows and the table is small, so it
    costs a millisecond. SQLite plans these joins from its indexes without statistics."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {conn.dialect.identifier_preparer.quote(table.name)}"))
