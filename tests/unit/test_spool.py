"""The spool's limit is exact, also when acknowledged rows leave gaps."""

import pytest

from connectors.sdk.spool import Spool

pytestmark = pytest.mark.unit


def rows(n: int) -> list[tuple[str, str, bytes, str, bytes]]:
    return [("production", "t", b"k", f"id{i}", b"body") for i in range(n)]


def test_limit_is_exact_with_gaps_and_cursor_moves_only_with_an_append(tmp_path):
    spool = Spool(tmp_path / "s.db")
    assert spool.append(rows(10), limit=10) == 10
    assert spool.append(rows(1), limit=10) == -1
    spool.remove([s.seq for s in spool.oldest(10)][2:5])  # a gap in the middle
    assert spool.count() == 7
    assert spool.append(rows(3), limit=10, cursor=("file:x", 3)) == 3
    assert spool.cursor("file:x") == 3
    assert spool.append(rows(1), limit=10, cursor=("file:x", 4)) == -1
    assert spool.cursor("file:x") == 3  # a refused append moves nothing
    assert [e.event_id for e in spool.oldest(3)] == ["id0", "id1", "id5"]
    spool.close()
