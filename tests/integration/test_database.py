"""The database matrix: every SQL test runs on real SQLite and real PostgreSQL."""

import pytest
from sqlalchemy import Integer, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

pytestmark = pytest.mark.integration


class Base(DeclarativeBase):
    pass


class Probe(Base):
    __tablename__ = "probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


def test_each_database_is_real_fresh_and_transactional(db_url):
    engine = create_engine(db_url)
    expected = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    assert engine.dialect.name == expected
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Probe)) == 0  # fresh per test
        session.add(Probe(name="a"))
        session.commit()
        session.add(Probe(name="b"))
        session.rollback()
        assert session.scalars(select(Probe.name)).all() == ["a"]
    engine.dispose()
