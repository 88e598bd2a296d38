"""Throwaway certificates for :mod:`pgmonkey.testing`: a CA, a server and client certificates.

Keys are ECDSA P-256 (fast to generate, accepted by every OpenSSL that PostgreSQL supports).
Private keys are written unencrypted in PKCS#8 PEM with mode 0600, as libpq and the server
require. Needs the ``cryptography`` package (``pip install pgmonkey-core[testing]``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pgmonkey.errors import TestServerError
from pgmonkey.files import write_private

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["Certificates", "ClientCertificate", "make_certificates"]

_VALIDITY = datetime.timedelta(days=30)
_CLOCK_SKEW = datetime.timedelta(hours=1)
SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ClientCertificate:
    """A client certificate and its key, for libpq's ``sslcert`` and ``sslkey``.

    Attributes:
        user: The role name in the certificate's common name.
        cert: Path of the PEM certificate.
        key: Path of the PEM private key (mode 0600, owned by the current user).
    """

    user: str
    cert: Path
    key: Path


@dataclass
class Certificates:
    """The files of a throwaway certificate authority and what it signed.

    Attributes:
        ca_cert: The CA certificate: libpq's ``sslrootcert`` and the server's ``ssl_ca_file``.
        ca_key: The CA's private key (used to sign more client certificates).
        server_cert: The server certificate (SAN: ``localhost``, ``127.0.0.1``, ``::1``).
        server_key: The server's private key (mode 0600, owned by the server account).
        clients: Client certificates by role name.
        directory: Where client certificates are written.
    """

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    directory: Path
    clients: dict[str, ClientCertificate] = field(default_factory=dict)

    def client(self, user: str) -> ClientCertificate:
        """Return the client certificate for ``user``, signing a new one if there is none yet.

        Args:
            user: The role name; it becomes the certificate's common name, which the
                server's ``cert`` authentication compares with the role.
        """
        if user not in self.clients:
            ca_key = _load_key(self.ca_key)
            ca_cert = _load_cert(self.ca_cert)
            self.clients[user] = _write_client(self.directory, user, ca_cert, ca_key)
        return self.clients[user]


def _crypto() -> None:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise TestServerError(
            "start_server(ssl=True) needs the 'cryptography' package to create throwaway "
            "certificates: pip install 'pgmonkey-core[testing]'"
        ) from None


def _new_key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, owner: tuple[int, int] | None) -> None:
    from cryptography.hazmat.primitives import serialization

    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(path, data, owner=owner)


def _write_cert(path: Path, cert: x509.Certificate, owner: tuple[int, int] | None) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)
    if owner is not None:
        os.chown(path, *owner)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _load_cert(path: Path) -> x509.Certificate:
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes())


def _name(common_name: str) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pgmonkey.testing"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    validity: datetime.timedelta = _VALIDITY,
) -> x509.CertificateBuilder:
    from cryptography import x509

    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _leaf(
    builder: x509.CertificateBuilder,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _write_client(
    directory: Path, user: str, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> ClientCertificate:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    if not user or "/" in user or "\x00" in user:
        raise TestServerError(f"cannot make a client certificate for the role name {user!r}")
    key = _new_key()
    cert = _leaf(
        _builder(_name(user), ca_cert.subject, key),
        ca_cert,
        ca_key,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    stem = "client-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
    paths = ClientCertificate(
        user=user, cert=directory / f"{stem}.crt", key=directory / f"{stem}.key"
    )
    _write_cert(paths.cert, cert, None)
    _write_key(paths.key, key, None)
    return paths


def make_certificates(
    server_dir: Path,
    client_dir: Path,
    *,
    server_owner: tuple[int, int] | None,
    client_users: Iterable[str] = (),
    validity: datetime.timedelta = _VALIDITY,
) -> Certificates:
    """Create a CA, a server certificate and client certificates.

    Args:
        server_dir: Directory for the server's files (CA certificate, server certificate and
            key); they are given to ``server_owner``.
        client_dir: Directory for the CA key and the client certificates (current user).
        server_owner: ``(uid, gid)`` of the account that runs the server, or ``None``.
        client_users: Roles to make client certificates for right away.
        validity: How long the CA and server certificates stay valid (default 30 days;
            ``pgmonkey sandbox`` keeps its certificates for years).

    Raises:
        TestServerError: ``cryptography`` is not installed.
    """
    _crypto()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_key = _new_key()
    ca_name = _name("pgmonkey.testing throwaway CA")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key, validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
    server_key = _new_key()
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    server_cert = _leaf(
        _builder(_name("localhost"), ca_name, server_key, validity).add_extension(
            san, critical=False
        ),
        ca_cert,
        ca_key,
        ExtendedKeyUsageOID.SERVER_AUTH,
    )
    certs = Certificates(
        ca_cert=server_dir / "ca.crt",
        ca_key=client_dir / "ca.key",
        server_cert=server_dir / "server.crt",
        server_key=server_dir / "server.key",
        directory=client_dir,
    )
    _write_cert(certs.ca_cert, ca_cert, server_owner)
    _write_key(certs.ca_key, ca_key, None)
    _write_cert(certs.server_cert, server_cert, server_owner)
    _write_key(certs.server_key, server_key, server_owner)
    for user in client_users:
        certs.clients[user] = _write_client(client_dir, user, ca_cert, ca_key)
    return certs
