"""`sangsaeng db current|upgrade` on an empty database, on SQLite and PostgreSQL: empty
(exit 1, naming the upgrade), upgraded once, current, and a second upgrade does nothing."""

import pytest

from migrations.schema import head_revision
from tests.support import cli_env, run_cli

pytestmark = [pytest.mark.integration]


def said(done) -> str:
    """stdout and stderr as one line of words (rich wraps long lines)."""
    return " ".join((done.stdout + done.stderr).split())


def test_db_current_and_upgrade_on_an_empty_database(empty_db_url, tmp_path):
    env = cli_env(database_url=empty_db_url, state_dir=str(tmp_path / "state"))
    head = head_revision()

    empty = run_cli(env, "db", "current")
    assert empty.returncode == 1, said(empty)
    assert "is empty" in said(empty) and "sangsaeng db upgrade" in said(empty)
    assert "Traceback" not in empty.stderr

    first = run_cli(env, "db", "upgrade")
    assert first.returncode == 0, said(first)
    assert f"upgraded from an empty database to revision {head}" in said(first)

    current = run_cli(env, "db", "current")
    assert current.returncode == 0, said(current)
    assert f"revision {head}; this release: {head}" in said(current)
    assert f"at revision {head} (current)" in said(current)

    again = run_cli(env, "db", "upgrade")
    assert again.returncode == 0, said(again)
    assert f"already at revision {head}; nothing to do" in said(again)


def test_without_a_database_url_the_database_is_in_the_state_dir(tmp_path):
    state = tmp_path / "state"
    env = cli_env(state_dir=str(state))

    upgraded = run_cli(env, "db", "upgrade")

    assert upgraded.returncode == 0, said(upgraded)
    assert (state / "sangsaeng.db").is_file()
    assert str(state / "sangsaeng.db") in said(run_cli(env, "db", "current"))
