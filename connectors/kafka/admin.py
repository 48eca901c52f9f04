"""Topic administration: create the topics a stage needs, idempotently; see what exists.

The broker runs with auto topic creation off, so every topic exists because someone
meant it to (onboarding a supplier, the demo), with its partitions and retention.
"""

import contextlib
import logging
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from sangsaeng.errors import TerminalError, TransientError
from sangsaeng.kafka_access import ADMIN, client_security
from sangsaeng.settings import load_settings

log = logging.getLogger(__name__)


# kafka-python reports a refused login as a broker it could not bootstrap from
LOGIN_HINT = (
    "a broker that runs may have refused the login (check SANGSAENG_KAFKA_USERNAME and "
    "_PASSWORD, or the state dir's kafka-credentials)"
)


def default_security(security: Mapping[str, Any] | None, user: str | None) -> dict[str, Any]:
    """`security` as given, else the login of this process for the platform `user`."""
    return dict(security) if security is not None else client_security(load_settings(), user)


@contextlib.contextmanager
def admin_client(
    bootstrap: str, *, timeout_s: float = 10.0, security: Mapping[str, Any] | None = None
) -> Iterator[KafkaAdminClient]:
    """A connected admin client, closed on exit, logged in with `security` (kafka-python's
    settings; default: the process's login, else the local `admin`).

    Raises `TransientError` when no broker answers at `bootstrap`.
    """
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
            client_id="sangsaeng-admin",
            **default_security(security, ADMIN),
        )
    except (KafkaError, OSError) as exc:
        raise TransientError(
            f"no Kafka broker answers at {bootstrap} ({type(exc).__name__}): start one with "
            f"`sangsaeng stack up`, or point SANGSAENG_KAFKA_BOOTSTRAP at yours; {LOGIN_HINT}"
        ) from None
    try:
        yield admin
    finally:
        admin.close()


def ensure_topics(
    bootstrap: str,
    partitions: Mapping[str, int],
    *,
    configs: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create each topic in `partitions` (name -> partition count) that does not exist.

    Returns the names it created (empty when all existed). Existing topics are left
    as they are. Raises `TransientError` if the broker is unreachable and
    `TerminalError` if it refuses a topic (the broker's reason included).
    """
    with admin_client(bootstrap, timeout_s=timeout_s, security=security) as admin:
        existing = set(admin.list_topics())
        missing = {name: n for name, n in partitions.items() if name not in existing}
        if not missing:
            return []
        request = {
            name: {"num_partitions": n, "replication_factor": 1, "configs": dict(configs or {})}
            for name, n in missing.items()
        }
        result = admin.create_topics(request, raise_errors=False, wait_for_metadata=True)
    created = []
    for topic in result["topics"]:
        error = for_code(topic["error_code"])
        if topic["error_code"] == 0:
            created.append(topic["name"])
        elif error is not TopicAlreadyExistsError:  # lost a race with another creator: fine
            raise TerminalError(
                f"the broker refused to create topic {topic['name']!r}: "
                f"{error.__name__}: {topic.get('error_message') or error.description}"
            )
    return created


def _any_listening(bootstrap: str, timeout_s: float) -> bool:
    """Whether a TCP connection to some bootstrap server opens: a refused port is known
    at once, where kafka-python would retry it until its bootstrap timeout."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def _metadata_consumer(
    bootstrap: str, timeout_s: float, security: Mapping[str, Any] | None
) -> KafkaConsumer:
    if not _any_listening(bootstrap, min(timeout_s, 2.0)):
        raise TransientError(
            f"no Kafka broker answers at {bootstrap} (connection refused): start one with "
            f"`sangsaeng stack up`, or point SANGSAENG_KAFKA_BOOTSTRAP at yours"
        )
    try:
        return KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            request_timeout_ms=int(max(timeout_s, 1) * 1000) + 1000,
            bootstrap_timeout_ms=int(timeout_s * 1000),
            client_id="sangsaeng-metadata",
            **default_security(security, ADMIN),
        )
    except (KafkaError, OSError) as exc:
        raise TransientError(
            f"no Kafka broker answers at {bootstrap} ({type(exc).__name__}): start one with "
            f"`sangsaeng stack up`, or point SANGSAENG_KAFKA_BOOTSTRAP at yours; {LOGIN_HINT}"
        ) from None


def missing_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    timeout_s: float = 5.0,
    security: Mapping[str, Any] | None = None,
) -> set[str]:
    """Which of `topics` the broker does not have (or does not show this login);
    `TransientError` when it is unreachable."""
    consumer = _metadata_consumer(bootstrap, timeout_s, security)
    try:
        existing = consumer.topics()
    except (KafkaError, OSError) as exc:
        raise TransientError(f"the broker at {bootstrap} did not answer ({exc})") from None
    finally:
        consumer.close()
    return set(topics) - set(existing)


def records_held(
    bootstrap: str,
    topics: Iterable[str],
    *,
    timeout_s: float = 10.0,
    security: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """The end offsets of each topic's partitions, summed (0 for a missing topic)."""
    consumer = _metadata_consumer(bootstrap, timeout_s, security)
    held: dict[str, int] = {}
    try:
        for topic in topics:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            held[topic] = sum(consumer.end_offsets(parts).values()) if parts else 0
    except (KafkaError, OSError) as exc:
        raise TransientError(f"the broker at {bootstrap} did not answer ({exc})") from None
    finally:
        consumer.close()
    return held
