"""Bringing a supplier in: its topics on the broker, its record and gateway key, in one step.

`onboard` is idempotent: a supplier already known keeps its record and keys; missing
topics are created (auto topic creation is off on the broker). The record and the key
are written through `governance/`, the one home of the parties, so validation and the
gateway see the supplier as soon as this returns.
"""

from dataclasses import dataclass

from connectors.kafka.admin import ensure_topics
from governance.parties import Parties
from sangsaeng.errors import TerminalError
from schemas.topics import EventType, check_supplier_id, dlq_topic, supplier_topic


@dataclass(frozen=True)
class Onboarded:
    """What `onboard` did."""

    supplier_id: str
    created: bool
    topics_created: list[str]
    api_key: str | None  # shown once; None when the supplier already had a key


def supplier_topics(supplier_id: str, partitions: int) -> dict[str, int]:
    """The topics a supplier needs (its five and the shared dead-letter topics)."""
    topics = {supplier_topic(supplier_id, e): partitions for e in EventType}
    return topics | {dlq_topic(e): partitions for e in EventType}


def onboard(
    parties: Parties,
    bootstrap: str,
    supplier_id: str,
    name: str,
    sector: str,
    *,
    partitions: int,
    retention_days: int,
) -> Onboarded:
    """Create the supplier's topics and the dead-letter topics, record it, issue a key.

    Raises `TerminalError` for a supplier id unusable in topic names, and
    `TransientError` when the broker is unreachable (nothing is recorded then).
    """
    try:
        check_supplier_id(supplier_id)
    except ValueError as exc:
        raise TerminalError(str(exc)) from None
    created_topics = ensure_topics(
        bootstrap,
        supplier_topics(supplier_id, partitions),
        configs={"retention.ms": str(retention_days * 86_400_000)},
    )
    created = parties.add_supplier(supplier_id, name, sector)
    key = None if parties.has_key(supplier_id) else parties.issue_key(supplier_id)
    return Onboarded(supplier_id, created, sorted(created_topics), key)
