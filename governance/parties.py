"""The organisations of the programme and their API keys: add, look up, issue, list.

One record per party, whoever writes it (`sangsaeng suppliers add`, `sangsaeng reference
load`): validation and the gateway read the same rows. An API key is shown once and
stored only as a SHA-256 hash: keys are 256 random bits, so a fast hash is as safe as a
slow one and keeps every request cheap.

The gateway (`supplier_for_key`) and the buyer API's gate keep the keys they found valid
for `KEY_CACHE_SECONDS` (`KnownKeys`, at most `KEY_CACHE_SIZE`): a key revoked
(`sangsaeng gateway revoke-key`) is refused by every running service within that time.
"""

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from cachetools import TTLCache
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from governance.models import ApiKey, Organisation, Role, utcnow
from sangsaeng.errors import TerminalError

KEY_PREFIX = "ssk_"
# How long a service trusts a key it looked up (seconds): the longest a revoked key
# still works on a running gateway or API. Short: a look-up is one primary-key read, but
# under load it was a tenth of the buyer API's cost beyond its read.
KEY_CACHE_SECONDS = 5.0
# Keys a service keeps at most (the least recently used go first): memory stays bounded.
KEY_CACHE_SIZE = 10_000

Found = TypeVar("Found")


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


class KnownKeys(Generic[Found]):
    """What keys found valid belong to, trusted for `seconds`, at most `size` of them (the
    least recently used go first), kept by the keys' hashes. An unknown or revoked key is
    never kept: a new key works at once, and unknown ones cannot fill it. Thread-safe
    (services ask from their request threads).

    A look-up runs outside the lock (it reads the database). One that started before a
    `forget` may have read the key before its revocation committed: what it found is
    answered to its own request but not kept, else the revoked key would be trusted
    for `seconds` more. A generation counter, bumped by every `forget`, tells: kept only
    when no forget happened while it ran (one counter for all keys: a look-up that
    overlaps another key's revocation just is not kept, read again next time)."""

    def __init__(
        self,
        seconds: float = KEY_CACHE_SECONDS,
        size: int = KEY_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._found: TTLCache[str, Found] = TTLCache(size, seconds, timer=clock)
        self._lock = threading.Lock()
        self._generation = 0  # how many forgets so far

    def get(self, key: str, lookup: Callable[[], Found | None]) -> Found | None:
        """What `key` belongs to: kept from the last `seconds`, else `lookup()`."""
        digest = hash_key(key)
        with self._lock:
            found = self._found.get(digest)
            started = self._generation
        if found is None:
            found = lookup()
            if found is not None:
                with self._lock:
                    if self._generation == started:  # no revocation since it began
                        self._found[digest] = found
        return found

    def forget(self, digest: str) -> None:
        """Drop the key of this hash (revoked here: refused at once in this process), and
        keep nothing a look-up in flight found."""
        with self._lock:
            self._generation += 1
            self._found.pop(digest, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._found)


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

    def __init__(
        self,
        engine: Engine,
        *,
        key_cache_seconds: float = KEY_CACHE_SECONDS,
        key_cache_size: int = KEY_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.key_cache_seconds = key_cache_seconds
        self._key_cache: KnownKeys[str] = KnownKeys(key_cache_seconds, key_cache_size, clock)

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
        """The supplier a valid, unrevoked key belongs to; None otherwise.

        A key found valid is trusted for `key_cache_seconds` (`KEY_CACHE_SECONDS`), so a
        revoked one is refused within that time; an unknown or revoked key is looked up
        again on every call (a new key works at once)."""
        if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None

        def lookup() -> str | None:
            with Session(self.engine) as session:
                row = session.get(ApiKey, hash_key(key))
            return None if row is None or row.revoked_at is not None else row.org_id

        return self._key_cache.get(key, lookup)

    def revoke_key(self, supplier_id: str, key: str, now: datetime | None = None) -> bool:
        """Revoke one key of `supplier_id`: True when it was in force, False when it was
        already revoked (it keeps the time it was revoked). Running gateways refuse it
        and running APIs within `KEY_CACHE_SECONDS`.

        Raises `NotOnboarded` for an unknown supplier, `TerminalError` for a key that is
        not one of its keys (nothing is revoked).
        """
        digest = hash_key(key.strip())
        with Session(self.engine) as session, session.begin():
            self._supplier_or_fail(session, supplier_id)
            row = session.get(ApiKey, digest, with_for_update=True)
            if row is None or row.org_id != supplier_id:
                raise TerminalError(
                    f"that key is not one of supplier {supplier_id!r}'s keys; nothing was "
                    "revoked: check the key, or revoke every key of the supplier with --all"
                )
            if row.revoked_at is not None:
                return False
            row.revoked_at = now or utcnow()
        self._forget(digest)
        return True

    def revoke_all_keys(self, supplier_id: str, now: datetime | None = None) -> int:
        """Revoke every key of `supplier_id` in force; returns how many (0: none was).
        Raises `NotOnboarded` for an unknown supplier."""
        with Session(self.engine) as session, session.begin():
            self._supplier_or_fail(session, supplier_id)
            done = session.execute(
                update(ApiKey)
                .where(ApiKey.org_id == supplier_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=now or utcnow())
                .returning(ApiKey.key_hash)
            ).all()
        for (digest,) in done:
            self._forget(digest)
        return len(done)

    @staticmethod
    def _supplier_or_fail(session: Session, supplier_id: str) -> None:
        row = session.get(Organisation, supplier_id)
        if row is None or row.role != Role.SUPPLIER:
            raise not_onboarded(supplier_id)

    def _forget(self, digest: str) -> None:
        """Drop a key from this process's cache (other processes' expire on their own)."""
        self._key_cache.forget(digest)

    def org_for_key(self, key: str | None) -> tuple[str, Role] | None:
        """The organisation (id, role) of a valid, unrevoked key; None otherwise. Looked up
        on every call (the API's gate keeps what it found in a `KnownKeys`)."""
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
