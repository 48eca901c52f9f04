"""The parties' tables: one organisation record per supplier, buyer or operator, its
sites, lines and parts, and the API keys issued to it (stored hashed)."""

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, Double, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sangsaeng.db import PlatformBase


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    """What an organisation is to the programme."""

    SUPPLIER = "supplier"
    BUYER = "buyer"
    OPERATOR = "operator"
    MINISTRY = "ministry"


class Organisation(PlatformBase):
    """A supplier (SME), a buyer (sponsor), the programme operator or the ministry."""

    __tablename__ = "organisation"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    sector: Mapped[str | None] = mapped_column(String(100))
    sponsor_id: Mapped[str | None] = mapped_column(String(64))
    go_live: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Site(PlatformBase):
    """A plant of a supplier (ISA-95 site)."""

    __tablename__ = "site"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")


class Line(PlatformBase):
    """A production line of a site; line ids are unique within their site only."""

    __tablename__ = "line"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    machines: Mapped[list[str]] = mapped_column(JSON, default=list)
    meter_id: Mapped[str | None] = mapped_column(String(64))


class Part(PlatformBase):
    """A part number a supplier makes."""

    __tablename__ = "part"

    supplier_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_number: Mapped[str] = mapped_column(String(100), primary_key=True)


class IdealCycleTime(PlatformBase):
    """The ideal cycle time of a part on a line (ISO 22400-2 "planned run time per item"):
    the seconds one unit takes at the line's rated speed, for OEE's effectiveness."""

    __tablename__ = "ideal_cycle_time"
    __table_args__ = (CheckConstraint("ideal_cycle_seconds > 0", name="positive"),)

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_number: Mapped[str] = mapped_column(String(100), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    ideal_cycle_seconds: Mapped[float] = mapped_column(Double)


class ApiKey(PlatformBase):
    """An API key of an organisation (a supplier's gateway key), stored as a SHA-256 hash."""

    __tablename__ = "api_key"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
