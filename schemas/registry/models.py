"""The registry's tables in the platform database (created by the migrations).

Schema ids come from an auto-increment key that never hands out a number twice
(SQLite AUTOINCREMENT, a PostgreSQL identity), and schemas are never deleted, only
their subject versions: an id, once given, keeps meaning the same schema.
"""

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sangsaeng.db import PlatformBase


def _now() -> datetime:
    return datetime.now(UTC)


class SchemaRow(PlatformBase):
    """One distinct schema (by canonical form), shared by every subject that uses it."""

    __tablename__ = "registry_schema"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's shape

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    schema_type: Mapped[str] = mapped_column(String(16), default="AVRO")
    schema_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SubjectVersionRow(PlatformBase):
    """Version `version` of `subject` is schema `schema_id` (soft-deleted when `deleted`)."""

    __tablename__ = "registry_subject_version"

    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    schema_id: Mapped[int] = mapped_column(ForeignKey("registry_schema.id"), index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ConfigRow(PlatformBase):
    """Compatibility level of a subject; subject '' holds the global level."""

    __tablename__ = "registry_config"

    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    compatibility: Mapped[str] = mapped_column(String(32))


class CredentialRow(PlatformBase):
    """A registry user with its role (read, write or admin); password stored hashed."""

    __tablename__ = "registry_credential"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), server_default="read")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
