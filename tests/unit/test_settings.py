"""Settings: defaults, env overrides, and clear errors for typos and bad values."""

from pathlib import Path

import pytest

from sangsaeng.errors import ConfigError
from sangsaeng.settings import load_settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("SANGSAENG_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_embedded_local_stack():
    s = load_settings()
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.schema_registry_url == "http://127.0.0.1:8081"
    assert s.gateway_url == "http://127.0.0.1:8088"
    assert s.api_url == "http://127.0.0.1:8000"
    assert s.database_url == f"sqlite:///{Path('.sangsaeng/sangsaeng.db').resolve()}"
    assert s.state_dir == Path(".sangsaeng")
    assert s.postgres_port == 54329
    assert s.kafka_host_port == ("127.0.0.1", 9092)


def test_database_follows_the_state_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SANGSAENG_STATE_DIR", "plant")  # relative, as a user writes it
    here = load_settings().database_url
    assert here == f"sqlite:///{tmp_path / 'plant' / 'sangsaeng.db'}"
    assert (
        load_settings().registry_database_url == f"sqlite:///{tmp_path / 'plant' / 'registry.db'}"
    )
    monkeypatch.setenv("SANGSAENG_STATE_DIR", str(tmp_path / "plant"))
    monkeypatch.chdir(tmp_path.parent)  # from another folder: the same platform
    assert load_settings().database_url == here
    monkeypatch.setenv("SANGSAENG_DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    assert load_settings().database_url == "postgresql://u@127.0.0.1:1/x"


def test_env_vars_override_defaults(monkeypatch):
    monkeypatch.setenv("SANGSAENG_KAFKA_BOOTSTRAP", "127.0.0.1:19092,127.0.0.1:19094")
    monkeypatch.setenv("SANGSAENG_POSTGRES_PORT", "55432")
    s = load_settings()
    assert s.kafka_host_port == ("127.0.0.1", 19092)
    assert s.local_postgres_url.endswith("@127.0.0.1:55432/sangsaeng")


def test_unknown_sangsaeng_variable_is_named(monkeypatch):
    monkeypatch.setenv("SANGSAENG_KAFKA_BOOTSTAP", "x:1")  # the typo a user makes
    with pytest.raises(ConfigError, match="SANGSAENG_KAFKA_BOOTSTAP"):
        load_settings()


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("SANGSAENG_POSTGRES_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="SANGSAENG_POSTGRES_PORT"):
        load_settings()


def test_bootstrap_without_port_is_rejected(monkeypatch):
    monkeypatch.setenv("SANGSAENG_KAFKA_BOOTSTRAP", "localhost")
    with pytest.raises(ConfigError, match="host:port"):
        load_settings()


def test_unknown_keyword_is_rejected():
    with pytest.raises(ConfigError, match=r"(?i)extra inputs"):
        load_settings(kafka_bootstrapp="x:1")
