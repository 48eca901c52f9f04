"""Which Kafka login a process uses: the env's, else its platform user's from the state dir."""

from pathlib import Path

import pytest

from connectors.kafka.acls import supplier_acls, supplier_user
from sangsaeng.errors import ConfigError
from sangsaeng.kafka_access import (
    ADMIN,
    GATEWAY,
    INGEST,
    KafkaLogin,
    client_security,
    credentials_path,
    ensure_platform_logins,
)
from sangsaeng.settings import load_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def no_login(monkeypatch):
    monkeypatch.delenv("SANGSAENG_KAFKA_USERNAME", raising=False)
    monkeypatch.delenv("SANGSAENG_KAFKA_PASSWORD", raising=False)


def test_the_platform_logins_are_made_once_private_and_kept(tmp_path: Path, no_login):
    first = ensure_platform_logins(tmp_path)
    assert set(first) == {ADMIN, GATEWAY, INGEST}
    assert len({lg.password for lg in first.values()}) == 3
    assert credentials_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert ensure_platform_logins(tmp_path) == first  # a second `stack up` keeps them
    assert first[ADMIN].password not in repr(first[ADMIN])


def test_each_component_logs_in_as_its_platform_user_unless_the_env_names_one(
    tmp_path: Path, no_login, monkeypatch
):
    logins = ensure_platform_logins(tmp_path)
    settings = load_settings(state_dir=tmp_path)
    for user in (ADMIN, GATEWAY, INGEST):
        found = client_security(settings, user)
        assert found["sasl_mechanism"] == "SCRAM-SHA-512"
        assert found["sasl_plain_username"] == user
        assert found["sasl_plain_password"] == logins[user].password
    monkeypatch.setenv("SANGSAENG_KAFKA_USERNAME", "supplier-S1")
    monkeypatch.setenv("SANGSAENG_KAFKA_PASSWORD", "pw")
    named = client_security(load_settings(state_dir=tmp_path), INGEST)
    assert (named["sasl_plain_username"], named["sasl_plain_password"]) == ("supplier-S1", "pw")
    given = client_security(settings, None, login=KafkaLogin("supplier-S2", "x"))
    assert given["sasl_plain_username"] == "supplier-S2"


def test_without_a_login_the_error_says_where_one_comes_from(tmp_path: Path, no_login):
    settings = load_settings(state_dir=tmp_path)
    with pytest.raises(ConfigError, match="sangsaeng suppliers add"):
        client_security(settings, None)  # a supplier's SDK
    with pytest.raises(ConfigError, match="sangsaeng stack up"):
        client_security(settings, INGEST)
    plain = load_settings(state_dir=tmp_path, kafka_security_protocol="PLAINTEXT")
    assert client_security(plain, None) == {"security_protocol": "PLAINTEXT"}


def test_a_username_without_a_password_is_a_config_error(tmp_path: Path, no_login, monkeypatch):
    monkeypatch.setenv("SANGSAENG_KAFKA_USERNAME", "supplier-S1")
    with pytest.raises(ConfigError, match="SANGSAENG_KAFKA_PASSWORD"):
        client_security(load_settings(state_dir=tmp_path))


@pytest.mark.parametrize("supplier", ["S1", "admin", "gateway", "S1-x"])
def test_a_suppliers_acls_name_only_its_own_prefix(supplier: str):
    assert supplier_user(supplier) not in (ADMIN, GATEWAY, INGEST)
    acls = supplier_acls(supplier)
    assert {a.resource_pattern.resource_name for a in acls} == {f"sup.{supplier}."}
    assert {a.principal for a in acls} == {f"User:supplier-{supplier}"}
    assert {a.operation.name for a in acls} == {"WRITE", "DESCRIBE", "READ"}


def test_tls_certificates_are_made_once_private_and_name_the_listener(tmp_path: Path):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    from infra.kafka.tls import ensure_certificates

    files = ensure_certificates(tmp_path / "tls", "127.0.0.1")
    assert (tmp_path / "tls").stat().st_mode & 0o777 == 0o700
    assert files.keystore.stat().st_mode & 0o777 == 0o600
    key, cert, chain = pkcs12.load_key_and_certificates(
        files.keystore.read_bytes(), files.keystore_password.encode()
    )
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    assert key is not None and cert is not None and chain == [ca]
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    again = ensure_certificates(tmp_path / "tls", "127.0.0.1")
    assert again.ca_file.read_bytes() == files.ca_file.read_bytes()  # kept, not remade


def test_clients_switch_to_tls_when_the_state_dir_holds_the_local_ca(tmp_path: Path, no_login):
    logins = ensure_platform_logins(tmp_path)
    assert client_security(load_settings(state_dir=tmp_path))["security_protocol"] == (
        "SASL_PLAINTEXT"
    )
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.pem").write_text("a CA")
    found = client_security(load_settings(state_dir=tmp_path), GATEWAY)
    assert found["security_protocol"] == "SASL_SSL"
    assert found["ssl_cafile"] == str(tmp_path / "tls" / "ca.pem")
    assert found["sasl_plain_password"] == logins[GATEWAY].password
    elsewhere = load_settings(
        state_dir=tmp_path / "other",
        kafka_security_protocol="SASL_SSL",
        kafka_username="u",
        kafka_password="p",
    )
    with pytest.raises(ConfigError, match="SANGSAENG_KAFKA_SSL_CAFILE"):
        client_security(elsewhere)
