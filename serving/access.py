"""Who may read which rows of which view: the sharing rules as SQL.

Every read of a view goes through `view_rows`, which builds one SELECT whose WHERE holds
the rules, so a row outside them is never fetched (there is no filter over fetched rows
to forget). For a caller of role

- **supplier**: its own rows (`supplier_id` = the caller), every view, any purpose;
- **buyer**: the rows of a supplier with which it holds an agreement in force today
  (active, valid_from <= today <= valid_to, an open end never ends) that shares this
  view for the purpose the request names, and, where the row is about a part, a part
  the supplier shipped to this buyer (a `delivery_weekly` row of supplier, buyer and
  part) and, for a `listed` agreement, one of its parts. A row that carries a buyer
  (production for an order, a shipment) must carry this buyer or none. lot_trace,
  which has no part column, is visible through the lot's shipments to this buyer (parts
  in scope), and its columns naming other buyers' shipments are left out;
- **operator, ministry**: no view rows at all (the programme roll-ups are theirs).

`Denied` carries the status and the reason the API returns.
"""

import base64
import functools
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from governance.models import (
    AgreementPart,
    AgreementPurpose,
    AgreementStatus,
    AgreementView,
    BuyerPart,
    PartScope,
    Purpose,
    Role,
    SharingAgreement,
)
from governance.sharing import SHAREABLE_VIEWS
from pipelines.views.catalog import BY_NAME
from pipelines.views.delivery import delivery_weekly
from pipelines.views.lots import lot_shipments

agreement = SharingAgreement.__table__
agreement_view = AgreementView.__table__
agreement_purpose = AgreementPurpose.__table__
agreement_part = AgreementPart.__table__
buyer_part = BuyerPart.__table__

# Each view's key, in the order pages follow (a total order: no two rows share it).
KEYS: dict[str, tuple[str, ...]] = {
    "production_daily": ("supplier_id", "day", "site_id", "line_id", "part_number", "buyer_id"),
    "quality_daily": (
        "supplier_id",
        "day",
        "site_id",
        "line_id",
        "part_number",
        "inspection_stage",
    ),
    "quality_defects": ("supplier_id", "week", "part_number", "code", "severity"),
    "capability_weekly": ("supplier_id", "week", "part_number", "characteristic"),
    "oee_daily": ("supplier_id", "day", "site_id", "line_id"),
    "delivery_weekly": ("supplier_id", "week", "buyer_id", "part_number"),
    "lot_trace": ("supplier_id", "lot_id"),
    "carbon_monthly": ("supplier_id", "month", "site_id"),
    "data_readiness": ("supplier_id", "day", "event_type"),
    "supplier_maturity": ("supplier_id", "week"),
    "programme_impact": ("supplier_id", "metric"),
}
# Columns a buyer does not get: they describe other buyers' shipments (a lot's first and
# last day span its shipments to every buyer).
HIDDEN_FROM_BUYERS: dict[str, frozenset[str]] = {
    "lot_trace": frozenset({"shipments", "buyers", "first_day", "last_day"})
}
FILTERS = ("supplier", "site", "line", "part", "from", "to")
MAX_LIMIT = 1_000


class Denied(Exception):
    """A request the rules refuse: `status` (400, 403, 404) and the reason, for the API."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Caller:
    """An authenticated organisation."""

    org_id: str
    role: Role


def view_table(name: str) -> Table:
    """The main table of a view a caller may ask for; `Denied(404)` otherwise."""
    if name not in KEYS or name not in SHAREABLE_VIEWS or name not in BY_NAME:
        raise Denied(404, f"no view {name!r}: the views are {', '.join(SHAREABLE_VIEWS)}")
    return BY_NAME[name].table


def parse_purpose(value: str | None) -> Purpose:
    """The request's purpose (`X-Purpose`); `Denied(400)` when missing or unknown."""
    names = ", ".join(p.value for p in Purpose)
    if not value:
        raise Denied(400, f"name the purpose of the read in the X-Purpose header ({names})")
    try:
        return Purpose(value.strip().lower())
    except ValueError:
        raise Denied(400, f"unknown purpose {value!r}: one of {names}") from None


# The rules of a buyer's read, built once per view with these parameters in place of
# the buyer, the purpose and the day (building them is most of a request's Python time);
# `view_query` binds them for the request.
RULE_BUYER = bindparam("rule_buyer", type_=String())
RULE_PURPOSE = bindparam("rule_purpose", type_=String())
RULE_TODAY = bindparam("rule_today", type_=Date())


def agreements_in_force(buyer_id: Any, view: str, purpose: Any, today: Any) -> Select[Any]:
    """The caller's agreements in force today that share `view` for `purpose` (each a
    value, or a bound parameter for a statement built once)."""
    a = agreement.c
    return (
        select(a.agreement_id, a.supplier_id, a.part_scope)
        .join(
            agreement_view,
            and_(agreement_view.c.agreement_id == a.agreement_id, agreement_view.c.view == view),
        )
        .join(
            agreement_purpose,
            and_(
                agreement_purpose.c.agreement_id == a.agreement_id,
                agreement_purpose.c.purpose
                == (purpose.value if isinstance(purpose, Purpose) else purpose),
            ),
        )
        .where(
            a.buyer_id == buyer_id,
            a.status == AgreementStatus.ACTIVE.value,
            a.valid_from <= today,
            or_(a.valid_to.is_(None), a.valid_to >= today),
        )
    )


def _part_allowed(buyer_id: Any, supplier: Any, part: Any, grant: Any) -> ColumnElement[bool]:
    """`part` of `supplier` was shipped to the buyer and lies in the agreement's scope."""
    # An alias, so the rule holds when the view read is delivery_weekly itself; correlated
    # explicitly: nested two levels deep, SQLAlchemy would otherwise add the view's table
    # to the FROM of the inner EXISTS and ask "any row shipped?" (a leak the property
    # test found).
    shipped_to = delivery_weekly.alias("shipped")
    d = shipped_to.c
    shipped = (
        exists()
        .where(d.supplier_id == supplier, d.buyer_id == buyer_id, d.part_number == part)
        .correlate_except(shipped_to)
    )
    listed = (
        exists()
        .where(
            agreement_part.c.agreement_id == grant.c.agreement_id,
            agreement_part.c.part_number == part,
        )
        .correlate_except(agreement_part)
    )
    return and_(shipped, or_(grant.c.part_scope == PartScope.SHIPPED.value, listed))


@functools.cache
def shipments_condition() -> ColumnElement[bool]:
    """The lot_shipments rows a buyer may read: its own shipments, of a supplier whose
    agreement in force shares lot_trace for the purpose, of a part in its scope (over the
    RULE_ parameters: bind `rule_values` on the statement)."""
    grant = agreements_in_force(RULE_BUYER, "lot_trace", RULE_PURPOSE, RULE_TODAY).subquery("grant")
    s = lot_shipments.c
    return and_(
        s.buyer_id == RULE_BUYER,
        exists(
            select(grant.c.agreement_id)
            .where(
                grant.c.supplier_id == s.supplier_id,
                _part_allowed(RULE_BUYER, s.supplier_id, s.part_number, grant),
            )
            .correlate_except(grant)
        ),
    )


def buyer_condition(
    view: str, table: Table, buyer_id: Any, purpose: Any, today: Any
) -> ColumnElement[bool]:
    """The rows of `table` a buyer may read (see the module's docstring)."""
    grant = agreements_in_force(buyer_id, view, purpose, today).subquery("grant")
    same_supplier = grant.c.supplier_id == table.c.supplier_id
    if view == "lot_trace":
        s = lot_shipments.c
        reached = (
            exists()
            .where(
                s.supplier_id == table.c.supplier_id,
                s.lot_id == table.c.lot_id,
                s.buyer_id == buyer_id,
                _part_allowed(buyer_id, s.supplier_id, s.part_number, grant),
            )
            .correlate_except(lot_shipments)
        )
        return exists(
            select(grant.c.agreement_id).where(same_supplier, reached).correlate_except(grant)
        )
    rules = [same_supplier]
    if "part_number" in table.c:
        rules.append(_part_allowed(buyer_id, table.c.supplier_id, table.c.part_number, grant))
    condition = exists(select(grant.c.agreement_id).where(*rules).correlate_except(grant))
    if "buyer_id" in table.c:
        condition = and_(condition, or_(table.c.buyer_id.is_(None), table.c.buyer_id == buyer_id))
    return condition


def access_condition(
    caller: Caller, view: str, table: Table, purpose: Purpose, today: date
) -> ColumnElement[bool]:
    """What `caller` may read of `table`, as a WHERE condition."""
    match caller.role:
        case Role.SUPPLIER:
            return table.c.supplier_id == caller.org_id
        case Role.BUYER:
            return _buyer_rules(view)
        case _:
            raise Denied(
                403,
                f"a {caller.role.value} reads the programme roll-ups (/v1/programme/...), "
                "not a supplier's rows",
            )


@functools.cache
def _buyer_rules(view: str) -> ColumnElement[bool]:
    """`buyer_condition` for `view` over the RULE_ parameters (see `rule_values`)."""
    return buyer_condition(view, view_table(view), RULE_BUYER, RULE_PURPOSE, RULE_TODAY)


def rule_values(caller: Caller, purpose: Purpose, today: date) -> dict[str, Any]:
    """The values of the RULE_ parameters for this caller's request."""
    return {"rule_buyer": caller.org_id, "rule_purpose": purpose.value, "rule_today": today}


def request_filters(
    *,
    supplier: str | None,
    site: str | None,
    line: str | None,
    part: str | None,
    from_: date | None,
    to: date | None,
) -> dict[str, str]:
    """A request's filter parameters as `filter_conditions` takes them (those given)."""
    given = {
        "supplier": supplier,
        "site": site,
        "line": line,
        "part": part,
        "from": from_.isoformat() if from_ else None,
        "to": to.isoformat() if to else None,
    }
    return {k: v for k, v in given.items() if v is not None}


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Denied(400, f"filter {name}={value!r} is not a date (YYYY-MM-DD)") from None


def filter_conditions(
    view: str, table: Table, filters: Mapping[str, str], caller: Caller
) -> list[ColumnElement[bool]]:
    """The request's filters as conditions; `Denied(400)` for one the view cannot take."""
    out: list[ColumnElement[bool]] = []
    day_column = BY_NAME[view].day_column
    for name, value in filters.items():
        if name not in FILTERS:
            raise Denied(400, f"unknown filter {name!r}: filters are {', '.join(FILTERS)}")
        column = {
            "supplier": "supplier_id",
            "site": "site_id",
            "line": "line_id",
            "part": "part_number",
        }.get(name, day_column)
        hidden = HIDDEN_FROM_BUYERS.get(view, frozenset()) if caller.role == Role.BUYER else ()
        if column not in table.c or column in hidden:
            raise Denied(400, f"view {view} has no {name} to filter by")
        if name == "part" and caller.role == Role.BUYER:
            # the buyer's own part number reads as the supplier's it is mapped to
            b = buyer_part.c
            mapped = select(b.part_number).where(
                b.buyer_id == caller.org_id,
                b.buyer_part_number == value,
                b.supplier_id == table.c.supplier_id,
            )
            out.append(or_(table.c.part_number == value, table.c.part_number.in_(mapped)))
        elif name == "from":
            out.append(table.c[column] >= _day(value, name))
        elif name == "to":
            out.append(table.c[column] <= _day(value, name))
        else:
            out.append(table.c[column] == value)
    return out


# -- pages ---------------------------------------------------------------------------


def _sortable(table: Table, column: str) -> Any:
    """A key column for ordering and comparing: NULL as '' (text) so tuples compare."""
    c = table.c[column]
    if c.nullable and not isinstance(c.type, Date):
        return func.coalesce(c, literal(""))
    return c


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, date) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, table: Table, keys: Sequence[str]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError
        if not all(isinstance(v, str) and len(v) <= 200 and "\x00" not in v for v in values):
            raise ValueError  # every key is text or a date: what this API writes
        return [
            _day(v, "cursor") if isinstance(table.c[k].type, Date) else v
            for k, v in zip(keys, values, strict=True)
        ]
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError, Denied):
        raise Denied(400, "the cursor is not one this API gave: start again without it") from None


@dataclass(frozen=True)
class Page:
    """One page of a view: its columns, rows, and the cursor of the next (None: last)."""

    columns: list[str]
    rows: list[dict[str, Any]]
    next_cursor: str | None
    suppliers: dict[str, int]  # rows per supplier


def view_query(
    caller: Caller,
    view: str,
    purpose: Purpose,
    today: date,
    filters: Mapping[str, str],
    *,
    limit: int,
    cursor: str | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> tuple[Select[Any], list[str]]:
    """The SELECT of one page (limit + 1 rows, to know whether another follows) and the
    key columns; `where`: further conditions (the lot asked for); `Denied` for what the
    rules or the filters refuse."""
    table = view_table(view)
    conditions = [
        access_condition(caller, view, table, purpose, today),
        *filter_conditions(view, table, filters, caller),
        *where,
    ]
    query, keys = page_query(caller, view, conditions, limit=limit, cursor=cursor)
    if caller.role == Role.BUYER:
        query = query.params(rule_values(caller, purpose, today))
    return query, keys


def page_query(
    caller: Caller,
    view: str,
    conditions: Sequence[ColumnElement[bool]],
    *,
    limit: int,
    cursor: str | None = None,
) -> tuple[Select[Any], list[str]]:
    """One page of `view` under `conditions`, in key order, the columns `caller`'s role
    gets (`view_query` adds the sharing rules)."""
    table = view_table(view)
    keys = KEYS[view]
    hidden = HIDDEN_FROM_BUYERS.get(view, frozenset()) if caller.role == Role.BUYER else ()
    columns = [c for c in table.c if c.name not in hidden]
    order = [_sortable(table, k) for k in keys]
    query = select(*columns).where(*conditions).order_by(*order).limit(limit + 1)
    if cursor:
        after = _decode_cursor(cursor, table, keys)
        query = query.where(tuple_(*order) > tuple_(*[literal(v) for v in after]))
    return query, list(keys)


def out_value(value: Any) -> Any:
    """A value as the API returns it: times in UTC with their offset (SQLite gives them
    back without one)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def page_of(query: Select[Any], rows: Sequence[Any], keys: Sequence[str], limit: int) -> Page:
    """Rows fetched by `view_query` as a page (`query` names the columns of an empty one)."""
    more = len(rows) > limit
    shown = [{k: out_value(v) for k, v in r._mapping.items()} for r in rows[:limit]]
    columns = [c.name for c in query.selected_columns]
    next_cursor = None
    if more and shown:
        last = shown[-1]
        next_cursor = encode_cursor(["" if last[k] is None else last[k] for k in keys])
    return Page(columns, shown, next_cursor, dict(Counter(r["supplier_id"] for r in shown)))
