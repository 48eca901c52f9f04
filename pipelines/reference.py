"""Reference data validation checks against: organisations, sites, lines and parts.

Loaded from a YAML file (the simulator writes one: `<state_dir>/reference.yaml`) with
`sangsaeng reference load`. Loading is an upsert, so a corrected file can be loaded
again; nothing is deleted, because landed events keep pointing at what they named.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import JSON, Date, String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sangsaeng.db import new_metadata
from sangsaeng.errors import TerminalError


class ReferenceBase(DeclarativeBase):
    metadata = new_metadata()


class Organisation(ReferenceBase):
    """A supplier, a buyer (sponsor) or the programme operator."""

    __tablename__ = "organisation"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    sector: Mapped[str | None] = mapped_column(String(100))
    sponsor_id: Mapped[str | None] = mapped_column(String(64))
    go_live: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")


class Site(ReferenceBase):
    """A plant of a supplier (ISA-95 site)."""

    __tablename__ = "site"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")


class Line(ReferenceBase):
    """A production line of a site; line ids are unique within their site only."""

    __tablename__ = "line"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    machines: Mapped[list[str]] = mapped_column(JSON, default=list)
    meter_id: Mapped[str | None] = mapped_column(String(64))


class Part(ReferenceBase):
    """A part number a supplier makes."""

    __tablename__ = "part"

    supplier_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_number: Mapped[str] = mapped_column(String(100), primary_key=True)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganisationEntry(_Entry):
    org_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Literal["supplier", "buyer", "operator"]
    sector: str | None = None
    sponsor_id: str | None = None
    go_live: date | None = None
    timezone: str = "Asia/Seoul"


class SiteEntry(_Entry):
    site_id: str = Field(min_length=1, max_length=64)
    supplier_id: str = Field(min_length=1, max_length=64)
    timezone: str = "Asia/Seoul"


class LineEntry(_Entry):
    line_id: str = Field(min_length=1, max_length=64)
    site_id: str = Field(min_length=1, max_length=64)
    supplier_id: str = Field(min_length=1, max_length=64)
    machines: list[str] = []
    meter_id: str | None = None


class PartEntry(_Entry):
    part_number: str = Field(min_length=1, max_length=100)
    supplier_id: str = Field(min_length=1, max_length=64)


class ReferenceFile(_Entry):
    """The YAML file's shape: four lists, each optional."""

    organisations: list[OrganisationEntry] = []
    sites: list[SiteEntry] = []
    lines: list[LineEntry] = []
    parts: list[PartEntry] = []


class ReferenceFileError(TerminalError):
    """The reference file cannot be read; names the entry and field."""


class NoReferenceData(TerminalError):
    """No supplier is in the reference data: every event would be quarantined."""


def read_reference_file(path: Path) -> ReferenceFile:
    """The parsed file; `ReferenceFileError` naming the list, entry number and field."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ReferenceFileError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ReferenceFileError(f"{path} is not valid YAML: {exc}") from None
    try:
        return ReferenceFile.model_validate(raw or {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            loc = err["loc"]
            where = f"{loc[0]}[{loc[1]}]" if len(loc) > 1 else str(loc[0]) if loc else "file"
            field = ".".join(str(p) for p in loc[2:])
            problems.append(f"{where}{'.' + field if field else ''}: {err['msg']}")
        raise ReferenceFileError(f"{path}: " + "; ".join(problems)) from None


def _upsert(conn: Connection, model: type[ReferenceBase], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = model.__table__
    keys = [c.name for c in table.primary_key.columns]
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    if updates:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    conn.execute(statement, rows)


def create_reference_tables(engine: Engine) -> None:
    """Create the reference tables where missing."""
    ReferenceBase.metadata.create_all(engine)


def load_reference(engine: Engine, data: ReferenceFile) -> dict[str, int]:
    """Upsert every entry in one transaction; returns the number of entries per list."""
    create_reference_tables(engine)
    with engine.begin() as conn:
        _upsert(conn, Organisation, [e.model_dump() for e in data.organisations])
        _upsert(conn, Site, [e.model_dump() for e in data.sites])
        _upsert(conn, Line, [e.model_dump() for e in data.lines])
        _upsert(conn, Part, [e.model_dump() for e in data.parts])
    return {
        "organisations": len(data.organisations),
        "sites": len(data.sites),
        "lines": len(data.lines),
        "parts": len(data.parts),
    }


@dataclass(frozen=True)
class ReferenceSets:
    """What validation checks against, as sets of keys (`supplier/site` and so on).

    Lines and parts are only unique within their site or supplier, so their keys are
    compound; validation builds the same compound keys from each event.
    """

    suppliers: frozenset[str]
    sites: frozenset[str]  # "<supplier_id>/<site_id>"
    lines: frozenset[str]  # "<site_id>/<line_id>"
    parts: frozenset[str]  # "<supplier_id>/<part_number>"

    @classmethod
    def read(cls, engine: Engine) -> "ReferenceSets":
        """The current reference data (empty sets when none was loaded)."""
        create_reference_tables(engine)
        with engine.connect() as conn:
            suppliers = conn.scalars(
                select(Organisation.org_id).where(Organisation.role == "supplier")
            ).all()
            sites = conn.execute(select(Site.supplier_id, Site.site_id)).all()
            lines = conn.execute(select(Line.site_id, Line.line_id)).all()
            parts = conn.execute(select(Part.supplier_id, Part.part_number)).all()
        return cls(
            suppliers=frozenset(suppliers),
            sites=frozenset(f"{a}/{b}" for a, b in sites),
            lines=frozenset(f"{a}/{b}" for a, b in lines),
            parts=frozenset(f"{a}/{b}" for a, b in parts),
        )

    @classmethod
    def required(cls, engine: Engine) -> "ReferenceSets":
        """The current reference data; `NoReferenceData` when no supplier is known."""
        found = cls.read(engine)
        if not found.suppliers:
            raise NoReferenceData(
                "no reference data in the database, so every event would be quarantined as "
                "from an unknown supplier: load it first with `sangsaeng reference load "
                "FILE.yaml` (the simulator writes one to <state dir>/reference.yaml)"
            )
        return found
