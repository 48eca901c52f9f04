"""Who may do what on the broker: the SCRAM users and the prefixed ACLs of each role.

The broker denies what no ACL allows (`allow.everyone.if.no.acl.found=false`):
- a supplier (user `supplier-<id>`): WRITE, DESCRIBE and READ on topics prefixed
  `sup.<id>.`: its own events, READ so the SDK can see which of its spooled events
  already reached the broker after a crash (store-and-forward's recovery);
- `gateway`: WRITE, DESCRIBE and READ on `sup.` (it forwards every supplier's events
  through the SDK's spools, whose recovery reads, as above);
- `ingest`: READ and DESCRIBE on `sup.`, WRITE and DESCRIBE on `dlq.`;
- `admin`: the super user (topics, users, ACLs).
Nobody else may create or delete topics, read dead letters or touch another prefix.
"""

from collections.abc import Mapping
from typing import Any

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaError

from connectors.kafka.admin import admin_client
from sangsaeng.errors import TerminalError
from sangsaeng.kafka_access import GATEWAY, INGEST, KafkaLogin, new_password
from schemas.topics import DLQ_TOPIC_PREFIX, SUPPLIER_TOPIC_PREFIX

_MECHANISM = ScramMechanism.SCRAM_SHA_512
_GRANTS: dict[str, tuple[tuple[str, tuple[ACLOperation, ...]], ...]] = {
    GATEWAY: (
        (SUPPLIER_TOPIC_PREFIX, (ACLOperation.WRITE, ACLOperation.DESCRIBE, ACLOperation.READ)),
    ),
    INGEST: (
        (SUPPLIER_TOPIC_PREFIX, (ACLOperation.READ, ACLOperation.DESCRIBE)),
        (DLQ_TOPIC_PREFIX, (ACLOperation.WRITE, ACLOperation.DESCRIBE)),
    ),
}


def supplier_user(supplier_id: str) -> str:
    """The supplier's SCRAM user: prefixed, so no supplier id can name a platform user."""
    return f"supplier-{supplier_id}"


def _topic_acls(user: str, prefix: str, operations: tuple[ACLOperation, ...]) -> list[ACL]:
    pattern = ResourcePattern(ResourceType.TOPIC, prefix, ACLResourcePatternType.PREFIXED)
    return [ACL(f"User:{user}", "*", op, ACLPermissionType.ALLOW, pattern) for op in operations]


def supplier_acls(supplier_id: str) -> list[ACL]:
    operations = (ACLOperation.WRITE, ACLOperation.DESCRIBE, ACLOperation.READ)
    return _topic_acls(
        supplier_user(supplier_id), f"{SUPPLIER_TOPIC_PREFIX}{supplier_id}.", operations
    )


def platform_acls(user: str) -> list[ACL]:
    return [acl for prefix, ops in _GRANTS[user] for acl in _topic_acls(user, prefix, ops)]


def _check(result: Mapping[str, Any], what: str) -> None:
    if result["failed"]:
        raise TerminalError(f"the broker refused {what}: {result['failed'][0]}")


def _upsert(admin: Any, login: KafkaLogin) -> None:
    said = admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(login.username, _MECHANISM, login.password)]
    )
    if said.get(login.username):
        raise TerminalError(
            f"the broker refused the login {login.username!r}: {said[login.username]}"
        )


def ensure_platform_users(
    bootstrap: str, logins: Mapping[str, KafkaLogin], security: Mapping[str, Any]
) -> None:
    """The gateway's and ingest's logins set to `logins`' passwords, and their ACLs."""
    with admin_client(bootstrap, security=security) as admin:
        for user in _GRANTS:
            _upsert(admin, logins[user])
            _check(admin.create_acls(platform_acls(user)), f"the ACLs of {user!r}")


def has_login(admin: Any, user: str) -> bool:
    try:
        found = admin.describe_user_scram_credentials([user])
    except KafkaError:  # the broker answers ResourceNotFound for a user without any
        return False
    entry = found.get(user) or {}
    return not entry.get("error") and bool(entry.get("credential_infos"))


def add_supplier_login(
    bootstrap: str, supplier_id: str, security: Mapping[str, Any], *, reset: bool = False
) -> KafkaLogin | None:
    """The supplier's login and ACLs; returns the new login (its password known only
    now), or None when the supplier already had one and `reset` is off."""
    user = supplier_user(supplier_id)
    with admin_client(bootstrap, security=security) as admin:
        login = None
        if reset or not has_login(admin, user):
            login = KafkaLogin(user, new_password())
            _upsert(admin, login)
        _check(admin.create_acls(supplier_acls(supplier_id)), f"the ACLs of {user!r}")
    return login


def remove_supplier_login(bootstrap: str, supplier_id: str, security: Mapping[str, Any]) -> int:
    """Delete the supplier's login and every ACL naming it; returns the ACLs removed.
    Connections it holds are refused at their next request (no ACL allows them)."""
    user = supplier_user(supplier_id)
    everything = ACLFilter(
        f"User:{user}",
        None,
        ACLOperation.ANY,
        ACLPermissionType.ANY,
        ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    with admin_client(bootstrap, security=security) as admin:
        removed = admin.delete_acls([everything])
        if has_login(admin, user):
            said = admin.alter_user_scram_credentials(
                [UserScramCredentialDeletion(user, _MECHANISM)]
            )
            if said.get(user):
                raise TerminalError(f"the broker refused to delete {user!r}: {said[user]}")
    return sum(len(matched) for _, matched, _ in removed)
