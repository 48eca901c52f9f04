"""The parties' tables: one organisation record per supplier, buyer or operator, its
sites, lines and parts, the API keys issued to it (stored hashed), the sponsorships and
sharing agreements between buyers and suppliers, and the audit trail of reads."""

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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


class Purpose(StrEnum):
    """What a reader says it reads for (`X-Purpose`); an agreement lists those it allows."""

    QUALITY = "quality"
    DELIVERY = "delivery"
    PRODUCTION = "production"
    CARBON = "carbon"
    PROGRAMME = "programme"


class PartScope(StrEnum):
    """Which of a supplier's parts an agreement covers."""

    SHIPPED = "shipped"  # every part the supplier shipped to that buyer
    LISTED = "listed"  # those of them listed in agreement_part


class AgreementStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


# The programme's default cost split (government / buyer / SME, per cent).
DEFAULT_SPLIT = (30, 30, 40)
MAX_SME_SHARE = 40


class Sponsorship(PlatformBase):
    """A buyer co-funding a supplier's smart factory (many to many: a supplier may have
    several sponsors), with the project's cost split."""

    __tablename__ = "sponsorship"
    __table_args__ = (
        CheckConstraint(
            "government_share + buyer_share + sme_share = 100", name="shares_sum_to_100"
        ),
        CheckConstraint(f"sme_share <= {MAX_SME_SHARE}", name=f"sme_share_at_most_{MAX_SME_SHARE}"),
        CheckConstraint(
            "government_share >= 0 AND buyer_share >= 0 AND sme_share >= 0",
            name="shares_not_negative",
        ),
        UniqueConstraint("buyer_id", "supplier_id", "project", name="one_per_project"),
    )

    sponsorship_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), index=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), index=True)
    project: Mapped[str] = mapped_column(String(200))
    go_live: Mapped[date | None] = mapped_column(Date)
    government_share: Mapped[int] = mapped_column(Integer, default=DEFAULT_SPLIT[0])
    buyer_share: Mapped[int] = mapped_column(Integer, default=DEFAULT_SPLIT[1])
    sme_share: Mapped[int] = mapped_column(Integer, default=DEFAULT_SPLIT[2])
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BuyerPart(PlatformBase):
    """A buyer's part number for a supplier's part (what the buyer's ERP calls it)."""

    __tablename__ = "buyer_part"

    buyer_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), primary_key=True)
    buyer_part_number: Mapped[str] = mapped_column(String(100), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    part_number: Mapped[str] = mapped_column(String(100))


class SharingAgreement(PlatformBase):
    """What a supplier lets one buyer read: which views, for which purposes, which parts,
    from when to when. A sponsorship creates the default one; the supplier narrows,
    widens or revokes it."""

    __tablename__ = "sharing_agreement"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
    )

    agreement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), index=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), index=True)
    sponsorship_id: Mapped[str | None] = mapped_column(ForeignKey("sponsorship.sponsorship_id"))
    part_scope: Mapped[str] = mapped_column(String(16), default=PartScope.SHIPPED)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # inclusive; None: open-ended
    status: Mapped[str] = mapped_column(String(16), default=AgreementStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AgreementView(PlatformBase):
    """A view an agreement shares."""

    __tablename__ = "agreement_view"

    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("sharing_agreement.agreement_id", ondelete="CASCADE"), primary_key=True
    )
    view: Mapped[str] = mapped_column(String(64), primary_key=True)


class AgreementPurpose(PlatformBase):
    """A purpose an agreement allows."""

    __tablename__ = "agreement_purpose"

    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("sharing_agreement.agreement_id", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)


class AgreementPart(PlatformBase):
    """A supplier part number a `listed` agreement covers."""

    __tablename__ = "agreement_part"

    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("sharing_agreement.agreement_id", ondelete="CASCADE"), primary_key=True
    )
    part_number: Mapped[str] = mapped_column(String(100), primary_key=True)


class AuditEntry(PlatformBase):
    """One request to the buyer API or the dashboard, allowed or denied. Append-only:
    each row carries the SHA-256 of the previous row's hash and its own content, so a
    changed or deleted row breaks the chain (`sangsaeng audit verify`)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    org_id: Mapped[str | None] = mapped_column(String(64), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    purpose: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(8))
    endpoint: Mapped[str] = mapped_column(Text)
    view: Mapped[str | None] = mapped_column(String(64))
    filters: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # rows returned per supplier: what "who saw my data" shows each supplier
    suppliers: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditSupplier(PlatformBase):
    """Which suppliers' rows an audited read returned: the index of "who saw my data"."""

    __tablename__ = "audit_supplier"

    supplier_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(ForeignKey("audit_log.seq"), primary_key=True)
    rows: Mapped[int] = mapped_column(Integer)  # of the read's rows, this supplier's


# -- quality alerts (the lifecycle of Catena-X CX-0125 quality notifications) ---------


class AlertStatus(StrEnum):
    """CREATED (recorded) -> SENT (the buyer's webhook took it) -> ACKNOWLEDGED (by the
    buyer) -> CLOSED (by either party). An alert without a webhook stays CREATED until
    the buyer reads and acknowledges it."""

    CREATED = "CREATED"
    SENT = "SENT"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    CLOSED = "CLOSED"


class AlertRule(StrEnum):
    """What raised an alert."""

    PPM = "ppm_above_threshold"
    CPK = "cpk_below_1.33"
    OTIF = "otif_below_target"
    SHIPPED_FAIL = "final_fail_after_shipment"
    RAISED = "raised_by_supplier"


class QualityAlert(PlatformBase):
    """One alert to one buyer about one supplier's subject (a part's week, a lot, ...);
    a rule raises it once per buyer and subject however often it is evaluated."""

    __tablename__ = "quality_alert"
    __table_args__ = (
        UniqueConstraint("rule", "supplier_id", "buyer_id", "subject_key", name="once_per_subject"),
    )

    alert_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    supplier_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), index=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), index=True)
    subject: Mapped[str] = mapped_column(Text)
    # SHA-256 of the subject: what "once" compares (a subject holds a lot id of any length)
    subject_key: Mapped[str] = mapped_column(String(64))
    part_number: Mapped[str | None] = mapped_column(Text)
    lot_id: Mapped[str | None] = mapped_column(Text)
    period: Mapped[date | None] = mapped_column(Date)  # the day or week's Monday it is about
    value: Mapped[float | None] = mapped_column(Double)
    threshold: Mapped[float | None] = mapped_column(Double)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.CREATED, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # webhook deliveries tried
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class PartThreshold(PlatformBase):
    """A part's ppm limit for the ppm rule (parts without one use the default)."""

    __tablename__ = "part_threshold"

    supplier_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), primary_key=True)
    part_number: Mapped[str] = mapped_column(String(100), primary_key=True)
    max_ppm: Mapped[float] = mapped_column(Double)


class AlertWebhook(PlatformBase):
    """Where a buyer takes its alerts: an HTTPS (or, on 127.0.0.1, HTTP) URL and the
    shared secret their HMAC-SHA256 signatures use (kept, not hashed: it signs)."""

    __tablename__ = "alert_webhook"

    buyer_id: Mapped[str] = mapped_column(ForeignKey("organisation.org_id"), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertDelivery(PlatformBase):
    """One webhook delivery attempt: the delivery log."""

    __tablename__ = "alert_delivery"

    delivery_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    alert_id: Mapped[str] = mapped_column(ForeignKey("quality_alert.alert_id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    url: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[bool] = mapped_column(default=False)
