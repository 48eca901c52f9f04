"""Who may use the registry: users with roles and hashed passwords, checked by HTTP basic auth.

Roles are ordered `read` < `write` < `admin`: `read` looks schemas up (and tests
compatibility), `write` also registers them, `admin` also deletes, configures
compatibility. Users are managed by whoever reaches the registry's database (the CLI:
`sangsaeng registry add-user|remove-user|reset-admin`), which keeps at least one admin.
Once the registry has a user, every request
but the health check `/` and the docs needs one. On first start with no user at
all, an `admin` user is created with a random password written to
`<state_dir>/registry-credentials` (mode 0600) for the local CLI and SDK to use.

A failed login costs the same PBKDF2 time whether the user exists or not (unknown
users are checked against a dummy hash), and failures are throttled per user and per
client address (`throttle.py`). Verified credentials are remembered for `CACHE_S`
seconds at most, so a password reset, a role change or a removal made by any process
on the database takes effect in every registry within that.
"""

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cachetools import TTLCache
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sangsaeng.errors import ConfigError, PlatformError
from sangsaeng.files import private_file, write_private
from sangsaeng.settings import Settings
from schemas.registry.models import CredentialRow
from schemas.registry.throttle import FailureThrottle

ITERATIONS = 200_000
CREDENTIALS_FILE = "registry-credentials"
ADMIN = "admin"  # the user the registry bootstraps and `reset-admin` repairs
CACHE_S = 3.0  # how long a verified password (and its role) is trusted without the database
CACHE_SIZE = 10_000


class Role(StrEnum):
    """What a registry user may do; each role may do what the roles before it may."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: "Role") -> bool:
        """True when this role may do what `needed` may."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class User:
    """A registry user whose password was verified."""

    name: str
    role: Role


class LoginThrottled(PlatformError):
    """Too many failed logins for this user or from this address; retry after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins: retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`pbkdf2_sha256$<iterations>$<salt>$<hash>` of `password`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return f"pbkdf2_sha256${ITERATIONS}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches a hash made by `hash_password`."""
    try:
        _, iterations, salt, digest = stored.split("$")
        candidate = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), bytes.fromhex(salt), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def _check_name(username: str) -> None:
    if not username or ":" in username or len(username) > 64:
        raise ConfigError("a registry user name is 1-64 characters without ':'")


class Credentials:
    """The registry's users, with successful checks remembered for `cache_s` seconds."""

    def __init__(
        self,
        engine: Engine,
        *,
        cache_s: float = CACHE_S,
        throttle: FailureThrottle | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.throttle = throttle or FailureThrottle(clock=clock)
        self._verified: TTLCache[str, User] = TTLCache(CACHE_SIZE, cache_s, timer=clock)
        self._has_users: TTLCache[str, bool] = TTLCache(1, cache_s, timer=clock)
        self._lock = threading.Lock()  # the caches are read and written by request threads
        # What an unknown user's password is checked against: the same PBKDF2 cost.
        self._dummy_hash = hash_password(secrets.token_urlsafe(24))

    # -- managing users (the CLI, straight in the database) ------------------------------

    def add_user(
        self, username: str, password: str | None = None, *, role: Role | None = None
    ) -> str:
        """Create `username` (role `read` unless given) or reset its password (keeping its
        role unless given); returns the (new) password. Raises `ConfigError` for a bad
        name or when the change would leave the registry without an admin."""
        _check_name(username)
        password = password or secrets.token_urlsafe(24)
        with Session(self.engine) as session, session.begin():
            row = session.get(CredentialRow, username, with_for_update=True)
            if row is None:
                role = role or Role.READ
                session.add(
                    CredentialRow(
                        username=username, password_hash=hash_password(password), role=role
                    )
                )
            else:
                if role is not None and role != row.role:
                    if row.role == Role.ADMIN:
                        self._keep_an_admin(session, username, "demote")
                    row.role = role
                row.password_hash = hash_password(password)
        self._forget()
        return password

    def remove_user(self, username: str) -> None:
        """Delete `username`. Raises `ConfigError` if there is no such user, or it is the
        last admin."""
        with Session(self.engine) as session, session.begin():
            row = session.get(CredentialRow, username, with_for_update=True)
            if row is None:
                raise ConfigError(f"there is no registry user {username!r}")
            if row.role == Role.ADMIN:
                self._keep_an_admin(session, username, "remove")
            session.delete(row)
        self._forget()

    def _forget(self) -> None:
        """Drop what this process remembers (other processes forget within `cache_s`)."""
        with self._lock:
            self._verified.clear()
            self._has_users.clear()

    @staticmethod
    def _keep_an_admin(session: Session, username: str, verb: str) -> None:
        others = session.scalar(
            select(func.count())
            .select_from(CredentialRow)
            .where(CredentialRow.role == Role.ADMIN, CredentialRow.username != username)
        )
        if not others:
            raise ConfigError(
                f"refusing to {verb} {username!r}: it is the registry's last admin; make "
                f"another admin first (`sangsaeng registry add-user NAME --role admin`)"
            )

    def users(self) -> list[tuple[str, Role]]:
        """Every user with its role, by name."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(CredentialRow.username, CredentialRow.role).order_by(CredentialRow.username)
            )
            return [(name, Role(role)) for name, role in rows]

    def any_user(self) -> bool:
        with Session(self.engine) as session:
            return session.scalar(select(CredentialRow.username).limit(1)) is not None

    def has_users(self) -> bool:
        """`any_user`, remembered for the cache lifetime (asked by every anonymous read)."""
        with self._lock:
            known = self._has_users.get("any")
        if known is None:
            known = self.any_user()
            with self._lock:
                self._has_users["any"] = known
        return known

    # -- checking requests -----------------------------------------------------------------

    def authenticate(self, authorization: str | None, client: str = "") -> User | None:
        """The user an `Authorization: Basic ...` header proves, else None (no or a bad
        header, an unknown user, a wrong password). Raises `LoginThrottled` when the user
        or the `client` address failed too often: before any password is checked."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        token = authorization[6:].strip()
        try:
            username, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            username, password = "", None
        keys = [f"address:{client}", f"user:{username}"]
        wait = self.throttle.retry_after(keys)
        if wait is not None:
            raise LoginThrottled(wait)
        if password is None:
            self.throttle.failed(keys[:1])
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            found = self._verified.get(key)
        if found is not None:
            return found
        with Session(self.engine) as session:
            row = session.get(CredentialRow, username)
            stored = (row.username, row.password_hash, row.role) if row is not None else None
        # An unknown user costs the same PBKDF2 time as a wrong password.
        matches = verify_password(password, stored[1] if stored else self._dummy_hash)
        if stored is None or not matches:
            self.throttle.failed(keys)
            return None
        user = User(stored[0], Role(stored[2]))
        with self._lock:
            self._verified[key] = user
        return user

    # -- the local stack's admin -----------------------------------------------------------

    def bootstrap_admin(self, state_dir: Path) -> Path | None:
        """Create `admin` with a random password when there is no user; returns the file
        holding `admin:<password>`, or None when users already existed.

        Race-safe: of registries starting together on an empty database, the one whose
        insert commits writes the file; the others find the key taken and leave it alone.
        """
        if self.any_user():
            return None
        password = secrets.token_urlsafe(24)
        try:
            with Session(self.engine) as session, session.begin():
                session.add(
                    CredentialRow(
                        username=ADMIN, password_hash=hash_password(password), role=Role.ADMIN
                    )
                )
        except IntegrityError:
            return None  # another registry made it first: its password is in the file
        self._forget()
        return write_private(state_dir / CREDENTIALS_FILE, f"{ADMIN}:{password}\n")

    def reset_admin(self, state_dir: Path) -> Path:
        """Give `admin` (made if missing, role admin) a new password and write it to the
        state dir's credentials file; returns the file."""
        password = self.add_user(ADMIN, role=Role.ADMIN)
        return write_private(state_dir / CREDENTIALS_FILE, f"{ADMIN}:{password}\n")


def client_credentials(settings: Settings) -> tuple[str, str] | None:
    """(user, password) for the registry: `SANGSAENG_REGISTRY_AUTH`, else the local
    stack's credentials file, else None. Raises `ConfigError` for a malformed value."""
    return read_credentials(settings.registry_auth, settings.state_dir)


def read_credentials(auth: str | None, state_dir: Path) -> tuple[str, str] | None:
    """(user, password) from `auth` ("user:password"), else from `state_dir`'s
    credentials file, else None."""
    text = auth
    if text is None:
        path = state_dir / CREDENTIALS_FILE
        text = private_file(path).read_text().strip() if path.exists() else None
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep:
        raise ConfigError("SANGSAENG_REGISTRY_AUTH must be user:password")
    return user, password
