"""The organisations of the programme and their API keys: add, look up, issue, list.

One record per party, whoever writes it (`sangsaeng suppliers add`, `sangsaeng reference
load`): validation and the gateway read the same rows. An API key is shown once and
stored only as a SHA-256 hash: keys are 256 random bits, so a fast hash is as safe as a
slow one and keeps every request cheap.
"""

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from governance.models import ApiKey, Organisation, Role
from sangsaeng.errors import TerminalError

KEY_PREFIX = "ssk_"


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


_ORG_OF_KEY = (
    select(Organisation.org_id, Organisation.role)
    .join(ApiKey, ApiKey.org_id == Organisation.org_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


def org_of_key(conn: Connection, key: str | None) -> tuple[str, Role] | None:
    """The organisation (id, role) of a valid, unrevoked key, read on `conn` (the
    request's own transaction); None otherwise."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = conn.execute(_ORG_OF_KEY, {"key_hash": hash_key(key)}).first()
    return (row.org_id, Role(row.role)) if row else None


class NotOnboarded(TerminalError):
    """An organisation the command needs is not in the platform database."""


def not_onboarded(supplier_id: str) -> NotOnboarded:
    """The error for a supplier nobody onboarded, naming the command that does it."""
    return NotOnboarded(
        f"supplier {supplier_id!r} is not onboarded: run "
        f"`sangsaeng suppliers add {supplier_id} --name ... --sector ...` first"
    )


@dataclass(frozen=True)
class OrganisationView:
    """An organisation as listings show it (detached from any session)."""

    org_id: str
    name: str
    role: str
    sector: str | None
    created_at: str


class Parties:
    """The organisation records and API keys in the platform database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._key_cache: dict[str, str] = {}

    def add_supplier(self, supplier_id: str, name: str, sector: str) -> bool:
        """Record a supplier; True if it was new. A known supplier keeps its record.

        Raises `TerminalError` when the id belongs to an organisation of another role.
        """
        return self.add_organisation(supplier_id, name, Role.SUPPLIER, sector)

    def is_supplier(self, supplier_id: str) -> bool:
        """True when `supplier_id` is an onboarded supplier."""
        with Session(self.engine) as session:
            row = session.get(Organisation, supplier_id)
        return row is not None and row.role == Role.SUPPLIER

    def has_key(self, org_id: str) -> bool:
        """True when the organisation holds an unrevoked key."""
        with Session(self.engine) as session:
            return (
                session.scalar(
                    select(ApiKey.key_hash)
                    .where(ApiKey.org_id == org_id, ApiKey.revoked_at.is_(None))
                    .limit(1)
                )
                is not None
            )

    def issue_key(self, supplier_id: str) -> str:
        """A new API key for an onboarded supplier (returned once, stored hashed).

        Raises `NotOnboarded` naming `sangsaeng suppliers add`.
        """
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with Session(self.engine) as session, session.begin():
            row = session.get(Organisation, supplier_id)
            if row is None or row.role != Role.SUPPLIER:
                raise not_onboarded(supplier_id)
            session.add(ApiKey(key_hash=hash_key(key), org_id=supplier_id))
        return key

    def supplier_for_key(self, key: str | None) -> str | None:
        """The supplier a valid, unrevoked key belongs to; None otherwise."""
        if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = hash_key(key)
        if digest not in self._key_cache:
            with Session(self.engine) as session:
                row = session.get(ApiKey, digest)
            if row is None or row.revoked_at is not None:
                return None
            self._key_cache[digest] = row.org_id
        return self._key_cache[digest]

    def org_for_key(self, key: str | None) -> tuple[str, Role] | None:
        """The organisation (id, role) of a valid, unrevoked key; None otherwise. Looked up
        on every call (no cache), so a revoked key stops at the next request."""
        with self.engine.connect() as conn:
            return org_of_key(conn, key)

    def add_organisation(
        self, org_id: str, name: str, role: Role, sector: str | None = None
    ) -> bool:
        """Record an organisation of any role; True if it was new. A known one keeps its
        record; `TerminalError` when the id belongs to an organisation of another role."""
        with Session(self.engine) as session, session.begin():
            row = session.get(Organisation, org_id)
            if row is None:
                session.add(Organisation(org_id=org_id, name=name, role=role, sector=sector))
                return True
            if row.role != role:
                raise TerminalError(
                    f"{org_id!r} is already recorded as a {row.role}, not a {role.value}: "
                    "choose another id"
                )
            return False

    def issue_org_key(self, org_id: str) -> str:
        """A new API key for any recorded organisation (returned once, stored hashed)."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with Session(self.engine) as session, session.begin():
            if session.get(Organisation, org_id) is None:
                raise NotOnboarded(
                    f"no organisation {org_id!r}: add it first with "
                    f"`sangsaeng orgs add {org_id} --role ... --name ...`"
                )
            session.add(ApiKey(key_hash=hash_key(key), org_id=org_id))
        return key

    def organisations(self, role: Role | None = None) -> list[OrganisationView]:
        """Every organisation (of `role`), by id."""
        query = select(Organisation).order_by(Organisation.org_id)
        if role is not None:
            query = query.where(Organisation.role == role)
        with Session(self.engine) as session:
            return [
                OrganisationView(
                    o.org_id,
                    o.name,
                    o.role,
                    o.sector,
                    o.created_at.strftime("%Y-%m-%d %H:%M") if o.created_at else "",
                )
                for o in session.scalars(query)
            ]
