"""Who a process is at the Kafka broker: SCRAM-SHA-512 logins and the client settings
that carry them.

The local broker admits no client without a login and lets each user do only what its
ACLs allow (`connectors/kafka/acls.py`). The platform's own users (`admin`, the super
user; `gateway`; `ingest`) get random passwords kept in `<state_dir>/kafka-credentials`
(`user:password` lines, mode 0600), written by `sangsaeng stack up`. A supplier's login
is made by `sangsaeng suppliers add` and shown once.

A process logs in as SANGSAENG_KAFKA_USERNAME / _PASSWORD when they are set (a supplier's
MES, a deployment's services); unset, each component takes the platform user its job
needs from the state dir's file.
"""

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sangsaeng.errors import ConfigError
from sangsaeng.files import private_file, write_private
from sangsaeng.settings import Settings

MECHANISM = "SCRAM-SHA-512"
ADMIN, GATEWAY, INGEST = "admin", "gateway", "ingest"
PLATFORM_USERS = (ADMIN, GATEWAY, INGEST)
CREDENTIALS_FILE = "kafka-credentials"
TLS_DIR = "tls"  # `stack up --tls`: the broker's keystore and the CA clients trust
KAFKA_LOGIN_VARS = ("SANGSAENG_KAFKA_USERNAME", "SANGSAENG_KAFKA_PASSWORD")


@dataclass(frozen=True)
class KafkaLogin:
    """A SCRAM user and its password (kept out of reprs and logs)."""

    username: str
    password: str = field(repr=False)


def new_password() -> str:
    return secrets.token_urlsafe(24)


def credentials_path(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FILE


def tls_dir(state_dir: Path) -> Path:
    return state_dir / TLS_DIR


def local_ca(state_dir: Path) -> Path:
    return tls_dir(state_dir) / "ca.pem"


def security_protocol(settings: Settings) -> str:
    """The protocol set, else SASL_SSL when the local stack made a TLS CA, else
    SASL_PLAINTEXT."""
    if settings.kafka_security_protocol:
        return settings.kafka_security_protocol
    return "SASL_SSL" if local_ca(settings.state_dir).exists() else "SASL_PLAINTEXT"


def read_logins(path: Path) -> dict[str, KafkaLogin]:
    """The logins in a `user:password` file; empty when there is none."""
    if not path.exists():
        return {}
    logins = {}
    for line in private_file(path).read_text().splitlines():
        user, sep, password = line.strip().partition(":")
        if sep and user and password:
            logins[user] = KafkaLogin(user, password)
    return logins


def ensure_platform_logins(state_dir: Path) -> dict[str, KafkaLogin]:
    """The platform users' logins, a random password made for each one missing."""
    path = credentials_path(state_dir)
    logins = read_logins(path)
    missing = [user for user in PLATFORM_USERS if user not in logins]
    if missing:
        logins.update({user: KafkaLogin(user, new_password()) for user in missing})
        write_private(path, "".join(f"{lg.username}:{lg.password}\n" for lg in logins.values()))
    return logins


def login_for(settings: Settings, user: str | None) -> KafkaLogin | None:
    """SANGSAENG_KAFKA_USERNAME / _PASSWORD when set, else platform `user`'s local login."""
    if settings.kafka_username:
        if settings.kafka_password is None:
            raise ConfigError("SANGSAENG_KAFKA_USERNAME is set: set SANGSAENG_KAFKA_PASSWORD too")
        return KafkaLogin(settings.kafka_username, settings.kafka_password.get_secret_value())
    if user is None:
        return None
    return read_logins(credentials_path(settings.state_dir)).get(user)


def client_security(
    settings: Settings, user: str | None = ADMIN, *, login: KafkaLogin | None = None
) -> dict[str, Any]:
    """kafka-python's security settings for a client logging in as `login`, else as
    `login_for(settings, user)`. Raises `ConfigError` saying where a login comes from
    when there is none."""
    protocol = security_protocol(settings)
    if protocol == "PLAINTEXT":
        return {"security_protocol": "PLAINTEXT"}
    login = login or login_for(settings, user)
    if login is None:
        if user is None:
            raise ConfigError(
                "no Kafka login: set SANGSAENG_KAFKA_USERNAME and SANGSAENG_KAFKA_PASSWORD to "
                "the supplier's (printed once by `sangsaeng suppliers add`)"
            )
        raise ConfigError(
            f"no Kafka login for the platform user {user!r}: start the local stack "
            f"(`sangsaeng stack up` writes {credentials_path(settings.state_dir)}) or set "
            f"SANGSAENG_KAFKA_USERNAME and SANGSAENG_KAFKA_PASSWORD"
        )
    found: dict[str, Any] = {
        "security_protocol": protocol,
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": login.username,
        "sasl_plain_password": login.password,
    }
    if protocol == "SASL_SSL":
        ca = settings.kafka_ssl_cafile or local_ca(settings.state_dir)
        if not ca.exists():
            raise ConfigError(
                f"SASL_SSL needs the CA that signed the broker's certificate: {ca} does not "
                f"exist (set SANGSAENG_KAFKA_SSL_CAFILE)"
            )
        found["ssl_cafile"] = str(ca)
    return found
