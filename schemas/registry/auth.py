"""Who may write to the registry: users with hashed passwords, checked by HTTP basic auth.

Reads stay open (the registry listens on 127.0.0.1 by default). On first start with
no user at all, an `admin` user is created with a random password written to
`<state_dir>/registry-credentials` (mode 0600) for the local CLI and SDK to use.
"""

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sangsaeng.errors import ConfigError
from sangsaeng.files import private_file, write_private
from sangsaeng.settings import Settings
from schemas.registry.models import CredentialRow

ITERATIONS = 200_000
CREDENTIALS_FILE = "registry-credentials"


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


class Credentials:
    """The registry's users, with successful checks remembered (hashing is slow on purpose)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._verified: dict[str, str] = {}

    def add_user(self, username: str, password: str | None = None) -> str:
        """Create or reset `username`; returns the (new) password."""
        if not username or ":" in username or len(username) > 64:
            raise ConfigError("a registry user name is 1-64 characters without ':'")
        password = password or secrets.token_urlsafe(24)
        with Session(self.engine) as session, session.begin():
            row = session.get(CredentialRow, username)
            if row is None:
                session.add(CredentialRow(username=username, password_hash=hash_password(password)))
            else:
                row.password_hash = hash_password(password)
        self._verified.clear()
        return password

    def any_user(self) -> bool:
        with Session(self.engine) as session:
            return session.scalar(select(CredentialRow.username).limit(1)) is not None

    def check_basic(self, authorization: str | None) -> str | None:
        """The user name if the `Authorization: Basic ...` header is valid, else None."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        token = authorization[6:].strip()
        key = hashlib.sha256(token.encode()).hexdigest()
        if key in self._verified:
            return self._verified[key]
        try:
            username, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        with Session(self.engine) as session:
            row = session.get(CredentialRow, username)
        if row is None or not verify_password(password, row.password_hash):
            return None
        self._verified[key] = username
        return username

    def bootstrap_admin(self, state_dir: Path) -> Path | None:
        """Create `admin` with a random password when there is no user; returns the file
        holding `admin:<password>`, or None when users already existed."""
        if self.any_user():
            return None
        password = self.add_user("admin")
        return write_private(state_dir / CREDENTIALS_FILE, f"admin:{password}\n")


def client_credentials(settings: Settings) -> tuple[str, str] | None:
    """(user, password) for writing to the registry: `SANGSAENG_REGISTRY_AUTH`, else the
    local stack's credentials file, else None."""
    text = settings.registry_auth
    if text is None:
        path = settings.state_dir / CREDENTIALS_FILE
        text = private_file(path).read_text().strip() if path.exists() else None
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep:
        raise ConfigError("SANGSAENG_REGISTRY_AUTH must be user:password")
    return user, password
