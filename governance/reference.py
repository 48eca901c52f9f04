"""Reference data validation checks against: organisations, sites, lines and parts, and
the ideal cycle time of each part on each line (the OEE view's effectiveness).

Loaded from a YAML file (the simulator writes one: `<state_dir>/reference.yaml`) with
`sangsaeng reference load`. Loading is an upsert, so a corrected file can be loaded
again; nothing is deleted, because landed events keep pointing at what they named.
The file may hold only sites, lines, parts and cycle times: their supplier must then be
onboarded already (`sangsaeng suppliers add`) or listed in the same file's organisations.
"""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from governance.models import IdealCycleTime, Line, Organisation, Part, Role, Site
from sangsaeng.db import PlatformBase
from sangsaeng.errors import TerminalError


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Asia/Seoul"
        ) from None
    return name


TimeZone = Annotated[str, AfterValidator(_known_zone)]


class OrganisationEntry(_Entry):
    org_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Literal["supplier", "buyer", "operator", "ministry"]
    sector: str | None = None
    sponsor_id: str | None = None
    go_live: date | None = None
    timezone: TimeZone = "Asia/Seoul"


class SiteEntry(_Entry):
    site_id: str = Field(min_length=1, max_length=64)
    supplier_id: str = Field(min_length=1, max_length=64)
    timezone: TimeZone = "Asia/Seoul"


class LineEntry(_Entry):
    line_id: str = Field(min_length=1, max_length=64)
    site_id: str = Field(min_length=1, max_length=64)
    supplier_id: str = Field(min_length=1, max_length=64)
    machines: list[str] = []
    meter_id: str | None = None


class PartEntry(_Entry):
    part_number: str = Field(min_length=1, max_length=100)
    supplier_id: str = Field(min_length=1, max_length=64)


class CycleTimeEntry(_Entry):
    """Seconds one unit of a part takes on a line at its rated speed (ISO 22400-2 ideal
    cycle time); a line making several parts has one entry per part."""

    site_id: str = Field(min_length=1, max_length=64)
    line_id: str = Field(min_length=1, max_length=64)
    part_number: str = Field(min_length=1, max_length=100)
    supplier_id: str = Field(min_length=1, max_length=64)
    ideal_cycle_seconds: float = Field(gt=0, allow_inf_nan=False)


class ReferenceFile(_Entry):
    """The YAML file's shape: five lists, each optional."""

    organisations: list[OrganisationEntry] = []
    sites: list[SiteEntry] = []
    lines: list[LineEntry] = []
    parts: list[PartEntry] = []
    cycle_times: list[CycleTimeEntry] = []


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


def _upsert(conn: Connection, model: type[PlatformBase], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = model.__table__
    keys = [c.name for c in table.primary_key.columns]
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(table)
    given = set(rows[0])
    updates = {
        c.name: statement.excluded[c.name]
        for c in table.columns
        if c.name not in keys and c.name in given
    }
    if updates:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    conn.execute(statement, rows)


def _unknown_suppliers(conn: Connection, data: ReferenceFile) -> list[str]:
    """Entries naming a supplier neither onboarded nor among the file's organisations."""
    named = {o.org_id for o in data.organisations if o.role == Role.SUPPLIER}
    lists: tuple[tuple[str, list[Any]], ...] = (
        ("sites", data.sites),
        ("lines", data.lines),
        ("parts", data.parts),
        ("cycle_times", data.cycle_times),
    )
    wanted = {e.supplier_id for _, entries in lists for e in entries}
    known = set(
        conn.scalars(
            select(Organisation.org_id).where(
                Organisation.org_id.in_(sorted(wanted - named)),
                Organisation.role == Role.SUPPLIER,
            )
        )
    )
    problems = []
    for name, entries in lists:
        for i, entry in enumerate(entries):
            if entry.supplier_id not in named | known:
                problems.append(f"{name}[{i}].supplier_id: {entry.supplier_id!r}")
    return problems


def _role_changes(conn: Connection, data: ReferenceFile) -> list[str]:
    """Entries that would give a known organisation another role (a supplier made a buyer)."""
    ids = [o.org_id for o in data.organisations]
    query = select(Organisation.org_id, Organisation.role).where(Organisation.org_id.in_(ids))
    known = {org_id: role for org_id, role in conn.execute(query)}
    return [
        f"organisations[{i}].role: {o.org_id!r} is a {known[o.org_id]}, not a {o.role}"
        for i, o in enumerate(data.organisations)
        if o.org_id in known and known[o.org_id] != o.role
    ]


def suppliers_named(data: ReferenceFile) -> set[str]:
    """Every supplier the file lists or names in an entry."""
    named = {o.org_id for o in data.organisations if o.role == Role.SUPPLIER}
    entries = (data.sites, data.lines, data.parts, data.cycle_times)
    return named | {e.supplier_id for group in entries for e in group}


def _timezone_changes(conn: Connection, data: ReferenceFile) -> list[str]:
    """Entries that would move a known site or organisation to another time zone: the
    events landed there keep the local days they were counted on."""
    sites = {(e.supplier_id, e.site_id): (i, e.timezone) for i, e in enumerate(data.sites)}
    orgs = {o.org_id: (i, o.timezone) for i, o in enumerate(data.organisations)}
    found = []
    if sites:
        query = select(Site.supplier_id, Site.site_id, Site.timezone)
        for supplier, site, zone in conn.execute(query):
            entry = sites.get((supplier, site))
            if entry and zone and entry[1] != zone:
                found.append(f"sites[{entry[0]}].timezone: {site!r} is in {zone}")
    if orgs:
        query = select(Organisation.org_id, Organisation.timezone).where(
            Organisation.org_id.in_(sorted(orgs))
        )
        for org_id, zone in conn.execute(query):
            i, wanted = orgs[org_id]
            if zone and wanted != zone:
                found.append(f"organisations[{i}].timezone: {org_id!r} is in {zone}")
    return found


def load_reference(engine: Engine, data: ReferenceFile) -> dict[str, int]:
    """Upsert every entry in one transaction; returns the number of entries per list.

    Raises `ReferenceFileError` naming the entries whose supplier is not onboarded, and
    those that would change a known organisation's role; nothing is written then.
    """
    with engine.begin() as conn:
        changed = _role_changes(conn, data)
        if changed:
            raise ReferenceFileError(
                "a reference file cannot change what an organisation is ("
                + "; ".join(changed[:5])
                + "): fix the file, or give the new organisation an id of its own"
            )
        moved = _timezone_changes(conn, data)
        if moved:
            raise ReferenceFileError(
                "a reference file cannot move a site or organisation to another time zone ("
                + "; ".join(moved[:5])
                + "): the events landed there keep the local days they were counted on; "
                "give the file the zone it has"
            )
        unknown = _unknown_suppliers(conn, data)
        if unknown:
            raise ReferenceFileError(
                f"{len(unknown)} entr{'y names' if len(unknown) == 1 else 'ies name'} a "
                f"supplier that is not onboarded ({'; '.join(unknown[:5])}): onboard it with "
                "`sangsaeng suppliers add ID --name ... --sector ...` or list it under "
                "organisations in the file"
            )
        _upsert(conn, Organisation, [e.model_dump() for e in data.organisations])
        _upsert(conn, Site, [e.model_dump() for e in data.sites])
        _upsert(conn, Line, [e.model_dump() for e in data.lines])
        _upsert(conn, Part, [e.model_dump() for e in data.parts])
        _upsert(conn, IdealCycleTime, [e.model_dump() for e in data.cycle_times])
    return {
        "organisations": len(data.organisations),
        "sites": len(data.sites),
        "lines": len(data.lines),
        "parts": len(data.parts),
        "cycle_times": len(data.cycle_times),
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
    site_timezones: dict[str, str] = field(default_factory=dict)  # "<supplier>/<site>" -> zone
    supplier_timezones: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, engine: Engine) -> "ReferenceSets":
        """The current reference data (empty sets when none was loaded)."""
        with engine.connect() as conn:
            suppliers = conn.execute(
                select(Organisation.org_id, Organisation.timezone).where(
                    Organisation.role == Role.SUPPLIER
                )
            ).all()
            sites = conn.execute(select(Site.supplier_id, Site.site_id, Site.timezone)).all()
            lines = conn.execute(select(Line.site_id, Line.line_id)).all()
            parts = conn.execute(select(Part.supplier_id, Part.part_number)).all()
        return cls(
            suppliers=frozenset(s for s, _ in suppliers),
            sites=frozenset(f"{a}/{b}" for a, b, _ in sites),
            lines=frozenset(f"{a}/{b}" for a, b in lines),
            parts=frozenset(f"{a}/{b}" for a, b in parts),
            site_timezones={f"{a}/{b}": tz for a, b, tz in sites if tz},
            supplier_timezones={s: tz for s, tz in suppliers if tz},
        )

    @classmethod
    def required(cls, engine: Engine) -> "ReferenceSets":
        """The current reference data; `NoReferenceData` when no supplier is known."""
        found = cls.read(engine)
        if not found.suppliers:
            raise NoReferenceData(
                "no reference data in the database (no supplier), so every event would be "
                "quarantined as from an unknown supplier: onboard one with `sangsaeng "
                "suppliers add` and load its sites, lines and parts with `sangsaeng reference "
                "load FILE.yaml` (the simulator writes one to <state dir>/reference.yaml)"
            )
        return found
