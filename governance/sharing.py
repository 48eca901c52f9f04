"""Sponsorships and sharing agreements: create, narrow, widen, revoke, list.

A sponsorship (a buyer co-funding a supplier's smart factory) creates its default
agreement at once, with no negotiation step: every shareable view, every purpose, the
parts the supplier ships to that buyer, from the sponsorship's day on, open-ended (a
part list narrows that to the listed parts among them: an agreement never reaches a part
the buyer was not shipped). The
supplier may then narrow it (fewer views, purposes or parts, an end date) or revoke it
at any time; widening is the supplier's own call too (`widen`), never the buyer's. What a
reader then sees is decided in SQL by `serving/` from these rows, by the rules written
down in `in_force` and `covers` (which a naive oracle in the tests mirrors).
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from governance.models import (
    DEFAULT_SPLIT,
    MAX_SME_SHARE,
    AgreementPart,
    AgreementPurpose,
    AgreementStatus,
    AgreementView,
    Organisation,
    PartScope,
    Purpose,
    Role,
    SharingAgreement,
    Sponsorship,
)
from sangsaeng.errors import TerminalError

# The views an agreement can share, by name (governance imports no stage: the serving
# layer checks these against the views' catalogue). The programme roll-ups are not here:
# the operator and the ministry read those, never a supplier's rows.
SHAREABLE_VIEWS: tuple[str, ...] = (
    "production_daily",
    "quality_daily",
    "quality_defects",
    "capability_weekly",
    "oee_daily",
    "delivery_weekly",
    "lot_trace",
    "carbon_monthly",
    "data_readiness",
    "supplier_maturity",
    "programme_impact",
)


class SharingError(TerminalError):
    """A sponsorship or agreement change the rules refuse (the message says which rule)."""


class AgreementNotFound(SharingError):
    """No such agreement (or, for a supplier, none of its own by that id)."""


@dataclass(frozen=True)
class Agreement:
    """An agreement as listings, the API and the oracle see it."""

    agreement_id: str
    supplier_id: str
    buyer_id: str
    sponsorship_id: str | None
    views: frozenset[str]
    purposes: frozenset[str]
    part_scope: str
    parts: frozenset[str] = field(default_factory=frozenset)
    valid_from: date = date.min
    valid_to: date | None = None
    status: str = AgreementStatus.ACTIVE

    def in_force(self, today: date) -> bool:
        """Active, and today within [valid_from, valid_to] (both inclusive)."""
        return (
            self.status == AgreementStatus.ACTIVE
            and self.valid_from <= today
            and (self.valid_to is None or today <= self.valid_to)
        )

    def allows(self, view: str, purpose: str, today: date) -> bool:
        """In force, sharing `view`, for `purpose`."""
        return self.in_force(today) and view in self.views and purpose in self.purposes

    def as_row(self) -> dict[str, object]:
        return {
            "agreement": self.agreement_id,
            "supplier": self.supplier_id,
            "buyer": self.buyer_id,
            "sponsorship": self.sponsorship_id,
            "views": ", ".join(sorted(self.views)),
            "purposes": ", ".join(sorted(self.purposes)),
            "parts": "shipped to the buyer"
            if self.part_scope == PartScope.SHIPPED
            else ", ".join(sorted(self.parts)),
            "valid from": self.valid_from.isoformat(),
            "valid to": self.valid_to.isoformat() if self.valid_to else "open",
            "status": self.status,
        }


@dataclass(frozen=True)
class Split:
    """A sponsorship's cost split in per cent: government / buyer / SME."""

    government: int = DEFAULT_SPLIT[0]
    buyer: int = DEFAULT_SPLIT[1]
    sme: int = DEFAULT_SPLIT[2]

    def check(self) -> None:
        shares = (self.government, self.buyer, self.sme)
        if any(s < 0 for s in shares):
            raise SharingError(f"cost split {self}: a share is negative")
        if sum(shares) != 100:
            raise SharingError(
                f"cost split {self.government}/{self.buyer}/{self.sme} sums to "
                f"{sum(shares)}, not 100: give government/buyer/SME shares that add up"
            )
        if self.sme > MAX_SME_SHARE:
            raise SharingError(
                f"the SME's share is {self.sme} %: the programme caps it at {MAX_SME_SHARE} %"
            )


def _role_of(conn: Connection, org_id: str) -> str | None:
    return conn.scalar(select(Organisation.role).where(Organisation.org_id == org_id))


def _require(conn: Connection, org_id: str, role: Role) -> None:
    found = _role_of(conn, org_id)
    if found is None:
        raise SharingError(
            f"{org_id!r} is not an organisation of the platform: add it first "
            f"(`sangsaeng orgs add {org_id} --role {role.value} --name ...`)"
        )
    if found != role:
        raise SharingError(f"{org_id!r} is a {found}, not a {role.value}")


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _write_lists(
    conn: Connection,
    agreement_id: str,
    views: Iterable[str],
    purposes: Iterable[str],
    parts: Iterable[str],
) -> None:
    for table in (AgreementView, AgreementPurpose, AgreementPart):
        conn.execute(delete(table).where(table.agreement_id == agreement_id))
    for table, column, values in (
        (AgreementView, "view", views),
        (AgreementPurpose, "purpose", purposes),
        (AgreementPart, "part_number", parts),
    ):
        rows = [{"agreement_id": agreement_id, column: v} for v in sorted(set(values))]
        if rows:
            conn.execute(insert(table), rows)


def add_sponsorship(
    engine: Engine,
    buyer_id: str,
    supplier_id: str,
    project: str,
    today: date,
    *,
    go_live: date | None = None,
    split: Split | None = None,
) -> tuple[str, str]:
    """Record a sponsorship and its default agreement; returns (sponsorship id,
    agreement id). Raises `SharingError` naming the rule broken."""
    split = split or Split()
    split.check()
    with engine.begin() as conn:
        _require(conn, buyer_id, Role.BUYER)
        _require(conn, supplier_id, Role.SUPPLIER)
        sponsorship_id = _new_id("SP")
        try:
            conn.execute(
                insert(Sponsorship),
                {
                    "sponsorship_id": sponsorship_id,
                    "buyer_id": buyer_id,
                    "supplier_id": supplier_id,
                    "project": project,
                    "go_live": go_live,
                    "government_share": split.government,
                    "buyer_share": split.buyer,
                    "sme_share": split.sme,
                },
            )
        except IntegrityError as exc:
            raise SharingError(
                f"{buyer_id} already sponsors {supplier_id} in project {project!r}"
            ) from exc
        agreement_id = _new_id("AG")
        conn.execute(
            insert(SharingAgreement),
            {
                "agreement_id": agreement_id,
                "supplier_id": supplier_id,
                "buyer_id": buyer_id,
                "sponsorship_id": sponsorship_id,
                "part_scope": PartScope.SHIPPED.value,
                "valid_from": today,
                "valid_to": None,
                "status": AgreementStatus.ACTIVE.value,
            },
        )
        _write_lists(conn, agreement_id, SHAREABLE_VIEWS, [p.value for p in Purpose], [])
    return sponsorship_id, agreement_id


def add_agreement(conn: Connection, agreement: Agreement) -> None:
    """Write an agreement as given (the simulator's and the tests' worlds)."""
    conn.execute(
        insert(SharingAgreement),
        {
            "agreement_id": agreement.agreement_id,
            "supplier_id": agreement.supplier_id,
            "buyer_id": agreement.buyer_id,
            "sponsorship_id": agreement.sponsorship_id,
            "part_scope": agreement.part_scope,
            "valid_from": agreement.valid_from,
            "valid_to": agreement.valid_to,
            "status": agreement.status,
        },
    )
    _write_lists(conn, agreement.agreement_id, agreement.views, agreement.purposes, agreement.parts)


def read_agreements(
    conn: Connection,
    *,
    supplier_id: str | None = None,
    buyer_id: str | None = None,
    agreement_id: str | None = None,
) -> list[Agreement]:
    """The agreements (of a supplier, of a buyer, by id), by id."""
    a = SharingAgreement.__table__.c
    query = select(SharingAgreement.__table__).order_by(a.agreement_id)
    if agreement_id is not None:
        query = query.where(a.agreement_id == agreement_id)
    if supplier_id is not None:
        query = query.where(a.supplier_id == supplier_id)
    if buyer_id is not None:
        query = query.where(a.buyer_id == buyer_id)
    found = conn.execute(query).all()
    ids = [r.agreement_id for r in found]
    lists: dict[str, dict[str, set[str]]] = {i: {"v": set(), "p": set(), "n": set()} for i in ids}
    for table, column, key in (
        (AgreementView, "view", "v"),
        (AgreementPurpose, "purpose", "p"),
        (AgreementPart, "part_number", "n"),
    ):
        t = table.__table__.c
        # a join, not an IN list of ids: a listing may hold more agreements than a
        # statement takes parameters
        listed = select(t.agreement_id, t[column]).join(
            SharingAgreement.__table__, a.agreement_id == t.agreement_id
        )
        if query.whereclause is not None:
            listed = listed.where(query.whereclause)
        for agreement_id_, value in conn.execute(listed):
            if agreement_id_ in lists:
                lists[agreement_id_][key].add(value)
    return [
        Agreement(
            r.agreement_id,
            r.supplier_id,
            r.buyer_id,
            r.sponsorship_id,
            frozenset(lists[r.agreement_id]["v"]),
            frozenset(lists[r.agreement_id]["p"]),
            r.part_scope,
            frozenset(lists[r.agreement_id]["n"]),
            r.valid_from,
            r.valid_to,
            r.status,
        )
        for r in found
    ]


def _own(
    conn: Connection, agreement_id: str, supplier_id: str | None, *, lock: bool = False
) -> Agreement:
    """The agreement (the supplier's own when `supplier_id` is given); `lock`: held
    against concurrent changes until the commit (a second narrow waits, then sees the
    first's lists)."""
    a = SharingAgreement.__table__.c
    if lock:
        if conn.dialect.name == "postgresql":
            conn.execute(
                select(a.agreement_id).where(a.agreement_id == agreement_id).with_for_update()
            )
        elif not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite: the write lock first
    found = read_agreements(conn, agreement_id=agreement_id)
    if not found or (supplier_id is not None and found[0].supplier_id != supplier_id):
        # the same message as an unknown id: a supplier learns nothing of others' agreements
        raise AgreementNotFound(
            f"no agreement {agreement_id!r}: `sangsaeng agreements list` shows them"
        )
    return found[0]


@dataclass(frozen=True)
class Change:
    """A change to an agreement's lists and end date (None: leave as it is)."""

    views: Sequence[str] | None = None
    purposes: Sequence[str] | None = None
    parts: Sequence[str] | None = None  # a list: scope `listed`; () is no part at all
    valid_to: date | None = None


def _check_names(change: Change) -> None:
    unknown = sorted(set(change.views or ()) - set(SHAREABLE_VIEWS))
    if unknown:
        raise SharingError(
            f"not a shareable view: {', '.join(unknown)} (shareable: {', '.join(SHAREABLE_VIEWS)})"
        )
    long = [p for p in change.parts or () if not 0 < len(p) <= 100 or "\x00" in p]
    if long:
        raise SharingError("a part number is 1 to 100 characters, without NUL")
    purposes = {p.value for p in Purpose}
    unknown = sorted(set(change.purposes or ()) - purposes)
    if unknown:
        raise SharingError(
            f"not a purpose: {', '.join(unknown)} (purposes: {', '.join(sorted(purposes))})"
        )


def _apply(conn: Connection, agreement: Agreement, change: Change, now: datetime) -> Agreement:
    views = agreement.views if change.views is None else frozenset(change.views)
    purposes = agreement.purposes if change.purposes is None else frozenset(change.purposes)
    if change.parts is None:
        scope, parts = agreement.part_scope, agreement.parts
    else:
        scope, parts = PartScope.LISTED.value, frozenset(change.parts)
    valid_to = agreement.valid_to if change.valid_to is None else change.valid_to
    if valid_to is not None and valid_to < agreement.valid_from:
        raise SharingError(
            f"end date {valid_to} lies before the agreement's start {agreement.valid_from}"
        )
    a = SharingAgreement.__table__.c
    conn.execute(
        SharingAgreement.__table__.update()
        .where(a.agreement_id == agreement.agreement_id)
        .values(part_scope=scope, valid_to=valid_to, changed_at=now)
    )
    _write_lists(conn, agreement.agreement_id, views, purposes, parts)
    return Agreement(
        agreement.agreement_id,
        agreement.supplier_id,
        agreement.buyer_id,
        agreement.sponsorship_id,
        views,
        purposes,
        scope,
        parts,
        agreement.valid_from,
        valid_to,
        agreement.status,
    )


def narrow(
    conn: Connection, agreement_id: str, supplier_id: str, change: Change, now: datetime
) -> Agreement:
    """The supplier narrows its agreement: fewer views or purposes, a list of parts
    within what it covered, an earlier end. Anything wider is refused (use `widen`)."""
    _check_names(change)
    agreement = _own(conn, agreement_id, supplier_id, lock=True)
    if agreement.status != AgreementStatus.ACTIVE:
        raise SharingError(f"agreement {agreement_id} is revoked: nothing to narrow")
    wider = []
    if change.views is not None and not set(change.views) <= agreement.views:
        wider.append(f"views {', '.join(sorted(set(change.views) - agreement.views))}")
    if change.purposes is not None and not set(change.purposes) <= agreement.purposes:
        wider.append(f"purposes {', '.join(sorted(set(change.purposes) - agreement.purposes))}")
    if (
        change.parts is not None
        and agreement.part_scope == PartScope.LISTED
        and not set(change.parts) <= agreement.parts
    ):
        wider.append(f"parts {', '.join(sorted(set(change.parts) - agreement.parts))}")
    ends_later = agreement.valid_to is not None and change.valid_to is not None
    if ends_later and change.valid_to > agreement.valid_to:  # type: ignore[operator]
        wider.append(f"an end after {agreement.valid_to}")
    if wider:
        raise SharingError(
            f"narrowing cannot add {'; '.join(wider)}: that widens the agreement, which "
            "only the supplier's own widen call does"
        )
    return _apply(conn, agreement, change, now)


def widen(
    conn: Connection,
    agreement_id: str,
    supplier_id: str,
    change: Change,
    now: datetime,
    *,
    all_shipped_parts: bool = False,
) -> Agreement:
    """The supplier's own call to share more: the lists given replace the agreement's
    (so they may add), `all_shipped_parts` goes back to every part shipped to the buyer,
    `valid_to` may move the end later."""
    _check_names(change)
    agreement = _own(conn, agreement_id, supplier_id, lock=True)
    if agreement.status != AgreementStatus.ACTIVE:
        raise SharingError(
            f"agreement {agreement_id} is revoked: a revoked agreement stays revoked; a new "
            "sponsorship creates a new one"
        )
    done = _apply(conn, agreement, change, now)
    if all_shipped_parts:
        a = SharingAgreement.__table__.c
        conn.execute(
            SharingAgreement.__table__.update()
            .where(a.agreement_id == agreement_id)
            .values(part_scope=PartScope.SHIPPED.value)
        )
        _write_lists(conn, agreement_id, done.views, done.purposes, [])
        done = _own(conn, agreement_id, supplier_id)
    return done


def revoke(
    conn: Connection, agreement_id: str, now: datetime, *, supplier_id: str | None = None
) -> Agreement:
    """Revoke an agreement (the supplier's own, or any for an operator: `supplier_id`
    None). Takes effect with the commit: the next read no longer sees its rows. Revoking
    a revoked agreement changes nothing (it keeps the time it was revoked)."""
    if _own(conn, agreement_id, supplier_id, lock=True).status == AgreementStatus.REVOKED:
        return _own(conn, agreement_id, supplier_id)
    a = SharingAgreement.__table__.c
    conn.execute(
        SharingAgreement.__table__.update()
        .where(a.agreement_id == agreement_id)
        .values(status=AgreementStatus.REVOKED.value, revoked_at=now, changed_at=now)
    )
    return _own(conn, agreement_id, supplier_id)
