"""A trail written before the audit head existed (revision 0009), upgraded (both
databases): the head is filled from its last row, the chain still verifies, and the
next append continues it."""

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import insert

from governance import audit
from migrations.schema import _config, upgrade
from sangsaeng.db import make_engine

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # pinned


def test_an_old_trail_gets_its_head_and_goes_on(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
        conn.commit()
    prev = audit.GENESIS
    with engine.begin() as conn:  # three rows as release 0009 appended them
        for seq in (1, 2, 3):
            at = AT + timedelta(minutes=seq)
            read = audit.Read("B1", "buyer", "quality", "GET", f"/v1/x/{seq}", 200, rows=seq)
            content = audit._content(seq, at, read)
            digest = audit.chain_hash(prev, content)
            conn.execute(
                insert(audit.audit_log), {**content, "at": at, "prev_hash": prev, "hash": digest}
            )
            prev = digest
    upgrade(engine)
    found = audit.verify(engine)
    assert (found.intact, found.rows) == (True, 3), found.problem
    read = audit.Read("B1", "buyer", "quality", "GET", "/v1/x/4", 200)
    assert audit.record(engine, read) == 4
    found = audit.verify(engine)
    assert (found.intact, found.rows) == (True, 4), found.problem
    engine.dispose()
