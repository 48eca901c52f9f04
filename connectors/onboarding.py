"""Bringing a supplier in: its record, its topics, its gateway API key, in one step.

`onboard` is idempotent: a supplier already known keeps its record and keys; missing
topics are created (auto topic creation is off on the broker). An API key is shown
once and stored only as a SHA-256 hash: keys are 256 random bits, so a fast hash is
as safe as a slow one and keeps every gateway request cheap.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from connectors.kafka.admin import ensure_topics
from sangsaeng.db import new_metadata
from sangsaeng.errors import TerminalError
from schemas.topics import EventType, check_supplier_id, dlq_topic, supplier_topic

KEY_PREFIX = "ssk_"


def _now() -> datetime:
    return datetime.now(UTC)


class OnboardingBase(DeclarativeBase):
    metadata = new_metadata()


class SupplierRow(OnboardingBase):
    """A supplier (SME) the platform accepts events from."""

    __tablename__ = "supplier"

    supplier_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(100))
    onboarded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ApiKeyRow(OnboardingBase):
    """A gateway API key of a supplier, stored hashed."""

    __tablename__ = "gateway_api_key"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("supplier.supplier_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Onboarded:
    """What `onboard` did."""

    supplier_id: str
    created: bool
    topics_created: list[str]
    api_key: str | None  # shown once; None when the supplier already had a key


class Suppliers:
    """The supplier records and gateway keys in the platform database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        OnboardingBase.metadata.create_all(engine)
        self._key_cache: dict[str, str] = {}

    def onboard(
        self,
        bootstrap: str,
        supplier_id: str,
        name: str,
        sector: str,
        *,
        partitions: int,
        retention_days: int,
    ) -> Onboarded:
        """Record the supplier, create its topics and the dead-letter topics, issue a key.

        Raises `TerminalError` for a supplier id unusable in topic names, and
        `TransientError` when the broker is unreachable.
        """
        try:
            check_supplier_id(supplier_id)
        except ValueError as exc:
            raise TerminalError(str(exc)) from None
        topics = {supplier_topic(supplier_id, e): partitions for e in EventType}
        topics |= {dlq_topic(e): partitions for e in EventType}
        created_topics = ensure_topics(
            bootstrap, topics, configs={"retention.ms": str(retention_days * 86_400_000)}
        )
        with Session(self.engine) as session, session.begin():
            created = session.get(SupplierRow, supplier_id) is None
            if created:
                session.add(SupplierRow(supplier_id=supplier_id, name=name, sector=sector))
            has_key = session.scalar(
                select(ApiKeyRow.key_hash)
                .where(ApiKeyRow.supplier_id == supplier_id, ApiKeyRow.revoked_at.is_(None))
                .limit(1)
            )
        key = None if has_key else self.issue_key(supplier_id)
        return Onboarded(supplier_id, created, sorted(created_topics), key)

    def issue_key(self, supplier_id: str) -> str:
        """A new gateway API key for a known supplier (returned once, stored hashed)."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with Session(self.engine) as session, session.begin():
            if session.get(SupplierRow, supplier_id) is None:
                raise TerminalError(
                    f"supplier {supplier_id!r} is not onboarded: run "
                    f"`sangsaeng suppliers add {supplier_id} --name ... --sector ...` first"
                )
            session.add(ApiKeyRow(key_hash=hash_key(key), supplier_id=supplier_id))
        return key

    def supplier_for_key(self, key: str | None) -> str | None:
        """The supplier a valid, unrevoked key belongs to; None otherwise."""
        if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = hash_key(key)
        if digest not in self._key_cache:
            with Session(self.engine) as session:
                row = session.get(ApiKeyRow, digest)
            if row is None or row.revoked_at is not None:
                return None
            self._key_cache[digest] = row.supplier_id
        return self._key_cache[digest]

    def all(self) -> list[SupplierRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(SupplierRow).order_by(SupplierRow.supplier_id)))
