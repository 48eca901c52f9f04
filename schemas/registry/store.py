"""The registry's rules over its tables: register, look up, delete, configure.

Each call is one database transaction. Registration is safe under concurrency: a
lock serialises writers in this process, and unique keys (schema fingerprint,
subject + version) catch writers in other processes, whose transaction is retried.
"""

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import avro.schema
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from schemas.registry import errors
from schemas.registry.compatibility import (
    DEFAULT_COMPATIBILITY,
    Compatibility,
    canonical,
    check,
    parse_avro,
)
from schemas.registry.models import ConfigRow, SchemaRow, SubjectVersionRow

GLOBAL = ""
MAX_VERSION = 2**31 - 1
T = TypeVar("T")


@dataclass(frozen=True)
class Registered:
    """A subject version as the API shows it."""

    subject: str
    version: int
    id: int
    schema: str


def parse_version(spec: str | int) -> int | None:
    """A version number, or None for "latest" (also -1); `RegistryError` 42202 otherwise."""
    text = str(spec)
    if text in ("latest", "-1"):
        return None
    if text.isdigit() and 1 <= int(text) <= MAX_VERSION:
        return int(text)
    raise errors.invalid_version(text)


def check_subject(subject: str) -> str:
    """`subject` if acceptable; `RegistryError` 42208 otherwise."""
    if not 1 <= len(subject) <= 255 or not subject.isprintable():
        raise errors.invalid_subject(subject)
    return subject


def parse_level(level: object) -> Compatibility:
    """A compatibility level; `RegistryError` 42203 for anything else."""
    try:
        return Compatibility(str(level).upper())
    except ValueError:
        raise errors.invalid_compatibility(str(level), list(Compatibility)) from None


class RegistryStore:
    """The registry's state in the platform database."""

    def __init__(
        self, engine: Engine, default_level: Compatibility = DEFAULT_COMPATIBILITY
    ) -> None:
        self.engine = engine
        self.default_level = default_level
        self._write_lock = threading.Lock()

    # -- helpers -----------------------------------------------------------------------

    def _write(self, work: Callable[[Session], T], attempts: int = 3) -> T:
        """Run `work` in a transaction; retry when another process won a race."""
        with self._write_lock:
            for attempt in range(attempts):
                try:
                    with Session(self.engine) as session, session.begin():
                        return work(session)
                except (IntegrityError, OperationalError):
                    if attempt == attempts - 1:
                        raise
        raise AssertionError("unreachable")

    @staticmethod
    def _rows(session: Session, subject: str, *, deleted: bool) -> list[SubjectVersionRow]:
        check_subject(subject)
        query = select(SubjectVersionRow).where(SubjectVersionRow.subject == subject)
        if not deleted:
            query = query.where(SubjectVersionRow.deleted.is_(False))
        return list(session.scalars(query.order_by(SubjectVersionRow.version)))

    def _live_rows(self, session: Session, subject: str) -> list[SubjectVersionRow]:
        rows = self._rows(session, subject, deleted=False)
        if not rows:
            raise errors.subject_not_found(subject)
        return rows

    @staticmethod
    def _schema_text(session: Session, schema_id: int) -> str:
        return session.get_one(SchemaRow, schema_id).schema_text

    def _pick(
        self, session: Session, subject: str, version: int | None, *, deleted: bool = False
    ) -> SubjectVersionRow:
        rows = self._rows(session, subject, deleted=True)
        if not rows or (not deleted and all(r.deleted for r in rows)):
            raise errors.subject_not_found(subject)
        visible = [r for r in rows if deleted or not r.deleted]
        if version is None:
            return visible[-1]
        for row in visible:
            if row.version == version:
                return row
        raise errors.version_not_found(subject, version)

    def _parsed(self, session: Session, row: SubjectVersionRow) -> avro.schema.Schema:
        """The stored schema of `row`, parsed; 42201 saying which version if it cannot be."""
        try:
            return parse_avro(self._schema_text(session, row.schema_id), stored=True)
        except errors.RegistryError as exc:
            raise errors.invalid_schema(
                f"version {row.version} of subject '{row.subject}' (schema id {row.schema_id}) "
                f"is stored but cannot be parsed to compare with ({exc.message}); delete that "
                f"version or set the subject's compatibility to NONE"
            ) from None

    def _registered(self, session: Session, row: SubjectVersionRow) -> Registered:
        return Registered(
            row.subject, row.version, row.schema_id, self._schema_text(session, row.schema_id)
        )

    # -- schemas and subjects ---------------------------------------------------------

    def register(self, subject: str, schema_text: str) -> Registered:
        """Register `schema_text` under `subject`; the same schema again changes nothing.

        Raises `RegistryError` 42201 (invalid), 409 (breaks the subject's level).
        """
        check_subject(subject)
        parsed = parse_avro(schema_text)
        text = canonical(parsed)
        fingerprint = hashlib.sha256(text.encode()).hexdigest()

        def work(session: Session) -> Registered:
            live = self._rows(session, subject, deleted=False)
            schema_ids = {r.schema_id: r for r in live}
            existing = session.scalar(select(SchemaRow).where(SchemaRow.fingerprint == fingerprint))
            if existing is not None and existing.id in schema_ids:
                return self._registered(session, schema_ids[existing.id])
            level = self._level(session, subject)
            problems = check(
                parsed,
                [(r.version, self._parsed(session, r)) for r in live],
                level,
            )
            if problems:
                raise errors.incompatible(subject, level.value, problems)
            if existing is None:
                existing = SchemaRow(fingerprint=fingerprint, schema_type="AVRO", schema_text=text)
                session.add(existing)
                session.flush()
            last = session.scalar(
                select(func.max(SubjectVersionRow.version)).where(
                    SubjectVersionRow.subject == subject
                )
            )
            row = SubjectVersionRow(subject=subject, version=(last or 0) + 1, schema_id=existing.id)
            session.add(row)
            session.flush()
            return Registered(subject, row.version, existing.id, text)

        return self._write(work)

    def lookup(self, subject: str, schema_text: str, *, deleted: bool = False) -> Registered:
        """The version of `subject` holding this schema; 40401 / 40403 when there is none."""
        text = canonical(parse_avro(schema_text))
        with Session(self.engine) as session:
            rows = self._rows(session, subject, deleted=deleted)
            if not rows:
                raise errors.subject_not_found(subject)
            for row in reversed(rows):
                if self._schema_text(session, row.schema_id) == text:
                    return self._registered(session, row)
        raise errors.schema_not_found()

    def subjects(self, *, deleted: bool = False) -> list[str]:
        query = select(SubjectVersionRow.subject).distinct()
        if not deleted:
            query = query.where(SubjectVersionRow.deleted.is_(False))
        with Session(self.engine) as session:
            return sorted(session.scalars(query))

    def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        with Session(self.engine) as session:
            rows = self._rows(session, subject, deleted=deleted)
        if not rows:
            raise errors.subject_not_found(subject)
        return [r.version for r in rows]

    def get_version(self, subject: str, version: str | int, *, deleted: bool = False) -> Registered:
        number = parse_version(version)
        with Session(self.engine) as session:
            return self._registered(session, self._pick(session, subject, number, deleted=deleted))

    def schema_by_id(self, schema_id: int) -> str:
        with Session(self.engine) as session:
            row = session.get(SchemaRow, schema_id)
        if row is None:
            raise errors.schema_not_found(f"Schema {schema_id} not found")
        return row.schema_text

    def usages(self, schema_id: int, *, deleted: bool = False) -> list[tuple[str, int]]:
        """(subject, version) pairs using schema `schema_id`; 40403 if the id is unknown."""
        self.schema_by_id(schema_id)
        query = select(SubjectVersionRow.subject, SubjectVersionRow.version).where(
            SubjectVersionRow.schema_id == schema_id
        )
        if not deleted:
            query = query.where(SubjectVersionRow.deleted.is_(False))
        with Session(self.engine) as session:
            return [(s, v) for s, v in session.execute(query.order_by("subject", "version"))]

    def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        """Soft-delete every version (permanent: remove the soft-deleted ones); the versions."""

        def work(session: Session) -> list[int]:
            rows = self._rows(session, subject, deleted=True)
            if not rows:
                raise errors.subject_not_found(subject)
            if permanent:
                if any(not r.deleted for r in rows):
                    raise errors.RegistryError(
                        404,
                        40405,
                        f"Subject '{subject}' was not deleted first before being permanently "
                        f"deleted: delete it without permanent=true first",
                    )
                session.execute(
                    delete(SubjectVersionRow).where(SubjectVersionRow.subject == subject)
                )
                session.execute(delete(ConfigRow).where(ConfigRow.subject == subject))
                return [r.version for r in rows]
            live = [r for r in rows if not r.deleted]
            if not live:
                raise errors.RegistryError(
                    404,
                    40404,
                    f"Subject '{subject}' was soft deleted. "
                    "Set permanent=true to delete permanently",
                )
            for row in live:
                row.deleted = True
            return [r.version for r in live]

        return self._write(work)

    def delete_version(self, subject: str, version: str | int, *, permanent: bool = False) -> int:
        """Soft-delete one version (permanent: remove it once soft-deleted); its number."""
        number = parse_version(version)

        def work(session: Session) -> int:
            row = self._pick(session, subject, number, deleted=permanent)
            if permanent:
                if not row.deleted:
                    raise errors.RegistryError(
                        404,
                        40407,
                        f"Subject '{subject}' Version {row.version} was not deleted first before "
                        f"being permanently deleted",
                    )
                session.delete(row)
            else:
                row.deleted = True
            return row.version

        return self._write(work)

    # -- compatibility ---------------------------------------------------------------

    def test_compatibility(
        self, subject: str, schema_text: str, version: str | int | None
    ) -> list[str]:
        """Why `schema_text` would be refused under `subject`'s level (empty: it would not).

        Against one version (`version`, "latest") or, with None, every live version the
        level compares with.
        """
        parsed = parse_avro(schema_text)
        number = None if version is None else parse_version(version)
        with Session(self.engine) as session:
            level = self._level(session, subject)
            if version is None:
                rows = self._live_rows(session, subject)
            else:
                rows = [self._pick(session, subject, number)]
                level = Compatibility(level.removesuffix("_TRANSITIVE"))
            existing = [(r.version, self._parsed(session, r)) for r in rows]
        return check(parsed, existing, level)

    def _level(self, session: Session, subject: str) -> Compatibility:
        for key in (subject, GLOBAL):
            row = session.get(ConfigRow, key)
            if row is not None:
                return Compatibility(row.compatibility)
        return self.default_level

    def get_level(self, subject: str | None = None, *, default_to_global: bool = True) -> str:
        """The level of `subject` (None: the global one); 40408 if the subject has none."""
        with Session(self.engine) as session:
            if subject is None:
                return self._level(session, GLOBAL).value
            check_subject(subject)
            row = session.get(ConfigRow, subject)
            if row is not None:
                return row.compatibility
            if default_to_global:
                return self._level(session, GLOBAL).value
        raise errors.RegistryError(
            404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured"
        )

    def set_level(self, level: object, subject: str | None = None) -> str:
        """Set the level of `subject` (None: global); returns it."""
        value = parse_level(level).value
        key = GLOBAL if subject is None else check_subject(subject)

        def work(session: Session) -> str:
            row = session.get(ConfigRow, key)
            if row is None:
                session.add(ConfigRow(subject=key, compatibility=value))
            else:
                row.compatibility = value
            return value

        return self._write(work)

    def delete_level(self, subject: str) -> str:
        """Drop `subject`'s own level (it falls back to global); returns what it was."""

        check_subject(subject)

        def work(session: Session) -> str:
            row = session.get(ConfigRow, subject)
            if row is None:
                raise errors.subject_not_found(subject)
            was = row.compatibility
            session.delete(row)
            return was

        return self._write(work)
