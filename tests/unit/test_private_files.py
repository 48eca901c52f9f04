"""The state dir, databases, spools and credential files are private to their user.

Created 0700 (folders) and 0600 (files) by the real code paths, whatever the umask;
those already there that others may read or write are tightened when opened.
"""

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from connectors.sdk.spool import Spool
from infra.postgres.cluster import PostgresCluster
from infra.process import locked
from sangsaeng.db import make_engine
from sangsaeng.files import private_dir, private_file, private_sqlite, write_private
from sangsaeng.settings import load_settings
from schemas.registry.auth import Credentials, client_credentials
from tests.support import offline_client, upgraded_engine

pytestmark = pytest.mark.unit


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def permissive_umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def test_folders_and_files_are_created_private(tmp_path, permissive_umask):
    state = tmp_path / "deep" / "state"
    assert private_dir(state / "spool") == state / "spool"
    assert [mode(p) for p in (tmp_path / "deep", state, state / "spool")] == [0o700] * 3
    made = private_file(state / "stack" / ".lock")
    assert mode(made) == 0o600 and mode(made.parent) == 0o700
    secret = write_private(state / "registry-credentials", "admin:x\n")
    assert mode(secret) == 0o600 and secret.read_text() == "admin:x\n"
    assert [p.name for p in state.iterdir() if p.name.endswith(".tmp")] == []


def test_what_others_may_read_is_tightened_and_a_search_only_folder_is_left(
    tmp_path, permissive_umask, caplog
):
    wide = tmp_path / "wide"
    wide.mkdir()
    wide.chmod(0o755)
    searchable = tmp_path / "searchable"
    searchable.mkdir()
    searchable.chmod(0o711)
    old = wide / "registry-credentials"
    old.write_text("admin:old\n")
    old.chmod(0o644)
    caplog.set_level(logging.INFO, logger="sangsaeng.files")
    private_dir(wide)
    private_dir(searchable)
    private_file(old)
    assert (mode(wide), mode(searchable), mode(old)) == (0o700, 0o711, 0o600)
    assert old.read_text() == "admin:old\n"  # tightened, never rewritten
    assert f"{old} was mode 644, open to other users: now 600" in caplog.text


def test_sqlite_databases_and_their_wal_files_are_private(tmp_path, permissive_umask):
    state = tmp_path / "state"
    engine = make_engine(f"sqlite:///{state / 'sangsaeng.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        files = [state / "sangsaeng.db", state / "sangsaeng.db-wal", state / "sangsaeng.db-shm"]
        assert all(p.exists() for p in files)
        assert [mode(p) for p in files] == [0o600] * 3
    engine.dispose()
    assert mode(state) == 0o700


def test_the_folder_a_user_keeps_a_database_in_is_left_as_it_is(tmp_path, permissive_umask):
    """The database file is private; the user's own folder around it is theirs (a
    project folder or a home directory must not lose its group's access)."""
    folder = tmp_path / "project"
    folder.mkdir()
    folder.chmod(0o755)
    make_engine(f"sqlite:///{folder / 'data.db'}").dispose()
    assert (mode(folder), mode(folder / "data.db")) == (0o755, 0o600)


def test_an_old_wide_database_is_tightened_with_its_wal(tmp_path, permissive_umask):
    db = tmp_path / "old.db"
    for path in (db, db.with_name("old.db-wal")):
        path.write_bytes(b"")
        path.chmod(0o664)
    private_sqlite(db)
    assert (mode(db), mode(db.with_name("old.db-wal"))) == (0o600, 0o600)


def test_spools_and_their_forwarding_lock_are_private(tmp_path, permissive_umask):
    folder = tmp_path / "state" / "spool"
    spool = Spool(folder / "S0001.db")
    spool.append([("production", "sup.S0001.production", b"k", "e1", b"body")], limit=10)
    assert mode(folder.parent) == 0o700 and mode(folder) == 0o700
    assert [mode(p) for p in sorted(folder.iterdir())] == [0o600] * 3  # .db, -shm, -wal
    spool.close()

    client = offline_client("S0002", spool_path=folder / "S0002.db")
    with client._forwarding():  # what `flush` holds while it forwards
        pass
    client.close()
    assert mode(folder / "S0002.lock") == 0o600


def test_registry_credentials_are_private_from_their_creation(
    tmp_path, permissive_umask, monkeypatch
):
    state = tmp_path / "state"
    engine = upgraded_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    made = Credentials(engine).bootstrap_admin(state)
    assert made == state / "registry-credentials"
    assert (mode(state), mode(made)) == (0o700, 0o600)
    assert made.read_text().startswith("admin:")
    engine.dispose()

    made.chmod(0o644)  # by hand, or by a release before this one
    monkeypatch.delenv("SANGSAENG_REGISTRY_AUTH", raising=False)
    user, _ = client_credentials(load_settings(state_dir=state))
    assert user == "admin" and mode(made) == 0o600


def test_the_stack_lock_is_private(tmp_path, permissive_umask):
    with locked(tmp_path / "state" / "stack" / ".lock"):
        pass
    assert mode(tmp_path / "state" / "stack" / ".lock") == 0o600
    assert mode(tmp_path / "state" / "stack") == 0o700


def test_the_postgres_user_may_search_the_state_dir_but_not_list_it(tmp_path, permissive_umask):
    state = private_dir(tmp_path / "state")
    cluster = PostgresCluster(service_dir=state / "stack" / "postgres", reach_from=state)
    private_dir(cluster.service_dir)
    cluster._let_postgres_search()  # what `_prepare_dirs` does when we are root
    assert (mode(state), mode(state / "stack"), mode(cluster.service_dir)) == (0o711,) * 2 + (
        0o700,
    )
    private_dir(state)  # opening the state dir again keeps the postgres user's way in
    assert mode(state) == 0o711
    assert mode(tmp_path) != 0o711  # nothing above the state dir is touched


def test_the_dagster_instance_is_private(tmp_path, permissive_umask):
    from orchestration.instance import prepare_home

    home = prepare_home(load_settings(state_dir=tmp_path / "state"))
    assert (mode(tmp_path / "state"), mode(home), mode(home / "dagster.yaml")) == (
        0o700,
        0o700,
        0o600,
    )


# -- the state dir a user chose, vanishing siblings, dangling links, concurrent writers --------


@pytest.fixture
def state_dir_env(tmp_path, monkeypatch) -> Iterator[Path]:
    """`SANGSAENG_STATE_DIR` set to `tmp_path / "state"` for a CLI command, settings re-read."""
    from sangsaeng.settings import get_settings

    state = tmp_path / "state"
    monkeypatch.setenv("SANGSAENG_STATE_DIR", str(state))
    get_settings.cache_clear()
    yield state
    get_settings.cache_clear()


def simulate_dry_run() -> None:
    from typer.testing import CliRunner

    from cli.main import app as cli_app

    result = CliRunner().invoke(cli_app, ["simulate", "--dry-run", "--suppliers", "2"])
    assert result.exit_code == 0, result.output


def test_simulate_leaves_an_existing_state_dir_as_it_is(state_dir_env, permissive_umask):
    """README: only `stack up` tightens a state dir already there; `simulate` (and the
    demo, through the same `write_reference`) writes into it without changing its mode."""
    state_dir_env.mkdir()
    state_dir_env.chmod(0o750)  # the user's choice: a group may read it
    simulate_dry_run()
    assert mode(state_dir_env) == 0o750
    assert mode(state_dir_env / "reference.yaml") == 0o600


def test_simulate_creates_a_missing_state_dir_private(state_dir_env, permissive_umask):
    simulate_dry_run()
    assert mode(state_dir_env) == 0o700
    assert mode(state_dir_env / "reference.yaml") == 0o600


def test_a_sqlite_sibling_vanishing_while_looked_at_is_no_error(
    tmp_path, permissive_umask, monkeypatch
):
    """Another process's SQLite deletes `-wal` and `-journal` when it closes: one seen a
    moment ago may be gone when its mode is read."""
    db = tmp_path / "shared.db"
    db.write_bytes(b"")
    real_exists = Path.exists

    def seen_a_moment_ago(self: Path, *args, **kwargs) -> bool:
        # Every sibling was there when looked for, and is gone when its mode is read.
        return self.name.startswith("shared.db-") or real_exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", seen_a_moment_ago)
    assert private_sqlite(db) == db


def test_a_database_path_linking_to_nothing_is_refused_naming_it(tmp_path, permissive_umask):
    from sangsaeng.errors import ConfigError

    link = tmp_path / "sangsaeng.db"
    link.symlink_to(tmp_path / "elsewhere" / "gone.db")
    with pytest.raises(ConfigError) as refused:
        make_engine(f"sqlite:///{link}")
    assert str(link) in str(refused.value) and "gone.db" in str(refused.value)
    assert not (tmp_path / "elsewhere").exists()  # nothing created through the link


def test_a_database_path_linking_to_a_file_is_followed(tmp_path, permissive_umask):
    target = tmp_path / "disk" / "real.db"
    target.parent.mkdir()
    target.write_bytes(b"")
    target.chmod(0o644)
    link = tmp_path / "sangsaeng.db"
    link.symlink_to(target)
    engine = make_engine(f"sqlite:///{link}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert mode(target) == 0o600 and target.stat().st_size > 0


def test_concurrent_writers_leave_one_whole_file_and_no_temporary_ones(tmp_path, permissive_umask):
    import threading

    path = tmp_path / "state" / "registry-credentials"
    # Big enough that a write takes a while; each writer's content recognisable.
    contents = [f"writer {n}\n" * 20_000 for n in range(8)]
    start = threading.Barrier(len(contents))
    failures: list[BaseException] = []

    def writer(text: str) -> None:
        start.wait()
        try:
            for _ in range(10):
                write_private(path, text)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(c,)) for c in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert path.read_text() in contents
    assert mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["registry-credentials"]


def test_write_private_never_writes_through_a_file_or_link_put_beside_it(tmp_path):
    """The old fixed temporary name (`.<name>.<pid>.tmp`) could be prepared by another
    user in a shared folder: a link there was followed and its target overwritten."""
    folder = tmp_path / "shared"
    folder.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (folder / f".secret.{os.getpid()}.tmp").symlink_to(victim)
    write_private(folder / "secret", "new\n")
    assert victim.read_text() == "keep\n"
    assert (folder / "secret").read_text() == "new\n" and not (folder / "secret").is_symlink()
