"""
Certificates for TLS tests (RFC 7589: mutual X.509), made with ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=2)


@dataclass(frozen=True)
class Certificates:
    """
    A CA and the server and client certificates it signed, as PEM files.

    Give it to :func:`~ncclient_twisted.testing.serve` (``tls=``) to serve
    NETCONF over TLS; :meth:`client_kwargs` gives ncclient's ``certfile``,
    ``keyfile`` and ``ca_certs``.

    :ivar directory: where the files are.
    :ivar ca_file: the CA certificate (``ca_certs`` of the client; the
        server trusts client certificates signed by it).
    :ivar server_cert_file: the server certificate.
    :ivar server_key_file: its private key.
    :ivar client_cert_file: the client certificate (``certfile``).
    :ivar client_key_file: its private key (``keyfile``).
    :ivar client_name: the client certificate's common name, which the
        embedded server takes as the NETCONF username.
    """

    directory: str
    ca_file: str
    server_cert_file: str
    server_key_file: str
    client_cert_file: str
    client_key_file: str
    client_name: str

    def client_kwargs(self) -> Dict[str, str]:
        """``certfile``, ``keyfile`` and ``ca_certs`` for ``connect_tls``."""
        return {
            "certfile": self.client_cert_file,
            "keyfile": self.client_key_file,
            "ca_certs": self.ca_file,
        }

    def read(self, path: str) -> bytes:
        """The content of one of the files (PEM)."""
        with open(path, "rb") as f:
            return f.read()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _issue(
    subject: str,
    public_key: ec.EllipticCurvePublicKey,
    issuer: Tuple[x509.Name, ec.EllipticCurvePrivateKey],
    *,
    ca: bool = False,
    alt_names: Sequence[str] = (),
    usage: Optional[x509.ObjectIdentifier] = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0])
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if alt_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_alt_name(n) for n in alt_names]), critical=False
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer[1], hashes.SHA256())


def _write(path: str, data: bytes, private: bool = False) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def generate_certificates(
    directory: Union[str, "os.PathLike[str]"],
    *,
    server_names: Sequence[str] = ("127.0.0.1", "::1", "localhost"),
    client_name: str = "admin",
    ca_name: str = "ncclient-twisted test CA",
    prefix: str = "",
) -> Certificates:
    """
    Generate a CA, a server certificate and a client certificate it signs
    (EC P-256 keys, valid for two days), written as PEM files into
    *directory* (which must exist): ``ca.pem``, ``server.pem``,
    ``server.key``, ``client.pem``, ``client.key``, each name preceded by
    *prefix*.

    - *server_names*: the server certificate's subject alternative names
      (IP addresses or DNS names) that clients check the host against.
    - *client_name*: the client certificate's common name; the embedded
      server maps it to the NETCONF username.
    - *ca_name*: the CA's common name.

    Two calls give two unrelated CAs: use one's client files against a
    server serving the other's to test a rejected client certificate.
    """
    directory = os.fspath(directory)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = _name(ca_name)
    ca_cert = _issue(ca_name, ca_key.public_key(), (ca_subject, ca_key), ca=True)
    issuer = (ca_subject, ca_key)
    files: List[str] = []

    def pair(label: str, subject: str, alt: Sequence[str], usage: x509.ObjectIdentifier) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(subject, key.public_key(), issuer, alt_names=alt, usage=usage)
        base = os.path.join(directory, prefix + label)
        files.append(_write(base + ".pem", cert.public_bytes(serialization.Encoding.PEM)))
        files.append(_write(base + ".key", _key_pem(key), private=True))

    ca_file = _write(
        os.path.join(directory, prefix + "ca.pem"), ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    pair(
        "server", server_names[0] if server_names else "server", server_names, ExtendedKeyUsageOID.SERVER_AUTH
    )
    pair("client", client_name, (), ExtendedKeyUsageOID.CLIENT_AUTH)
    return Certificates(directory, ca_file, files[0], files[1], files[2], files[3], client_name)
