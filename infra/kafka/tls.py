"""Certificates for the local broker's TLS listener (`sangsaeng stack up --tls`).

A certificate authority of the state dir's own signs the broker's certificate (names
`localhost` and the listener's address); clients trust that CA alone (`ca.pem`). The
CA's private key is not kept: new certificates mean a new CA (delete the folder). The
broker's key and certificate sit in a PKCS#12 keystore (0600) whose random password
is in a file beside it (0600).
"""

import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from sangsaeng.files import private_dir, write_private

CA_FILE = "ca.pem"
KEYSTORE = "broker.p12"
KEYSTORE_PASSWORD = "broker.p12.password"
VALID_DAYS = 825  # what browsers accept for a server certificate; ample for a local stack


@dataclass(frozen=True)
class TlsFiles:
    """Where the broker's keystore and the clients' CA are."""

    folder: Path

    @property
    def ca_file(self) -> Path:
        return self.folder / CA_FILE

    @property
    def keystore(self) -> Path:
        return self.folder / KEYSTORE

    @property
    def keystore_password(self) -> str:
        return (self.folder / KEYSTORE_PASSWORD).read_text().strip()

    def exists(self) -> bool:
        return all(
            p.exists() for p in (self.ca_file, self.keystore, self.folder / KEYSTORE_PASSWORD)
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sangsaeng local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def ensure_certificates(folder: Path, host: str) -> TlsFiles:
    """The CA and the broker's keystore in `folder`, made when missing."""
    files = TlsFiles(folder)
    if files.exists():
        return files
    private_dir(folder)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"Sangsaeng local CA {secrets.token_hex(4)}")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    broker = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(24)
    keystore = pkcs12.serialize_key_and_certificates(
        b"broker",
        key,
        broker,
        [ca],
        serialization.BestAvailableEncryption(password.encode()),
    )
    write_private(folder / KEYSTORE_PASSWORD, password + "\n")
    fd = os.open(folder / KEYSTORE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(keystore)
    # the CA certificate is public: clients anywhere need it
    (folder / CA_FILE).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files
