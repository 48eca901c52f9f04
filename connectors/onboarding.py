"""Bringing a supplier in: its topics on the broker, its record and gateway key, in one step.

`onboard` is idempotent: a supplier already known keeps its record and keys; missing
topics are created (auto topic creation is off on the broker), with their retention and
an explicit `max.message.bytes` (SANGSAENG_TOPIC_MAX_MESSAGE_BYTES), the size the edge
measures every event against. Dead-letter topics take twice that: a dead letter is the
refused record plus its reasons in headers. The record and the key
are written through `governance/`, the one home of the parties, so validation and the
gateway see the supplier as soon as this returns. The supplier's Kafka login and ACLs
(`connectors/kafka/acls.py`) are made here too; `offboard` takes them away.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.kafka.acls import add_supplier_login, remove_supplier_login
from connectors.kafka.admin import default_security, ensure_topics
from governance.parties import Parties
from sangsaeng.errors import TerminalError
from sangsaeng.kafka_access import ADMIN, KafkaLogin
from sangsaeng.settings import Settings
from schemas.topics import EventType, check_supplier_id, dlq_topic, supplier_topic


@dataclass(frozen=True)
class Onboarded:
    """What `onboard` did."""

    supplier_id: str
    created: bool
    topics_created: list[str]
    api_key: str | None  # shown once; None when the supplier already had a key
    kafka_login: KafkaLogin | None = None  # shown once; None when it already had one
    kafka_logins: bool = True  # False: the broker takes no logins (PLAINTEXT)


DEFAULT_MAX_MESSAGE_BYTES: int = Settings.model_fields["topic_max_message_bytes"].default


def supplier_topics(supplier_id: str, partitions: int) -> dict[str, int]:
    """The topics a supplier needs (its five and the shared dead-letter topics)."""
    topics = {supplier_topic(supplier_id, e): partitions for e in EventType}
    return topics | {dlq_topic(e): partitions for e in EventType}


def topic_configs(
    retention_days: int, max_message_bytes: int, *, dead_letters: bool = False
) -> dict[str, str]:
    """The broker configs of a supplier topic (or of a dead-letter topic)."""
    return {
        "retention.ms": str(retention_days * 86_400_000),
        "max.message.bytes": str(max_message_bytes * (2 if dead_letters else 1)),
    }


def onboard(
    parties: Parties,
    bootstrap: str,
    supplier_id: str,
    name: str,
    sector: str,
    *,
    partitions: int,
    retention_days: int,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    security: Mapping[str, Any] | None = None,
    new_kafka_login: bool = False,
) -> Onboarded:
    """Create the supplier's topics and the dead-letter topics, record it, issue a key.

    Topics that exist already are left as they are (their configs too). `security`:
    the admin's login settings (default: the process's login, else the local admin).
    `new_kafka_login`: give a known supplier a new Kafka password too (the simulator,
    which plays its suppliers, needs theirs on every run).

    Raises `TerminalError` for a supplier id unusable in topic names, and
    `TransientError` when the broker is unreachable (nothing is recorded then).
    """
    try:
        check_supplier_id(supplier_id)
    except ValueError as exc:
        raise TerminalError(str(exc)) from None
    security = default_security(security, ADMIN)
    created_topics = ensure_topics(
        bootstrap,
        {supplier_topic(supplier_id, e): partitions for e in EventType},
        configs=topic_configs(retention_days, max_message_bytes),
        security=security,
    ) + ensure_topics(
        bootstrap,
        {dlq_topic(e): partitions for e in EventType},
        configs=topic_configs(retention_days, max_message_bytes, dead_letters=True),
        security=security,
    )
    # a broker of one's own without logins (PLAINTEXT) has no users nor ACLs to make
    logins = security.get("security_protocol") != "PLAINTEXT"
    login = (
        add_supplier_login(bootstrap, supplier_id, security, reset=new_kafka_login)
        if logins
        else None
    )
    created = parties.add_supplier(supplier_id, name, sector)
    key = None if parties.has_key(supplier_id) else parties.issue_key(supplier_id)
    return Onboarded(supplier_id, created, sorted(created_topics), key, login, logins)


def offboard(bootstrap: str, supplier_id: str, *, security: Mapping[str, Any] | None = None) -> int:
    """Take the supplier's Kafka login and ACLs away (its topics and rows stay);
    returns the ACLs removed. Its open connections are refused from their next request."""
    try:
        check_supplier_id(supplier_id)
    except ValueError as exc:
        raise TerminalError(str(exc)) from None
    security = default_security(security, ADMIN)
    if security.get("security_protocol") == "PLAINTEXT":
        raise TerminalError(
            "this broker takes no logins (SANGSAENG_KAFKA_SECURITY_PROTOCOL=PLAINTEXT): there "
            "is no access to take away; the local stack's broker has logins and ACLs"
        )
    return remove_supplier_login(bootstrap, supplier_id, security)
