"""
Host and user keys of the test server: generating, loading, fingerprints.

``twisted.conch.ssh.keys`` does not import the global reactor, so this module is safe to
import before a server is built.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Dict, Optional, Union, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from twisted.conch.ssh import keys

PrivateKey = Union[ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]
PublicKey = Union[ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey, rsa.RSAPublicKey]

#: A host key: a Conch Key, a ``cryptography`` private key, PEM/OpenSSH
#: private key text or bytes, or the path of a private key file.
HostKeyInput = Union["keys.Key", PrivateKey, str, bytes, "os.PathLike[str]"]
#: An authorized key: a Conch Key, a ``cryptography`` public (or private)
#: key, or an OpenSSH public key line (``"ssh-ed25519 AAAA... comment"``).
AuthorizedKeyInput = Union["keys.Key", PublicKey, PrivateKey, str, bytes]

def generate_key(kind: str = "ed25519") -> PrivateKey:
    """
    Generate a private key with ``cryptography``: ``"ed25519"`` (default),
    ``"ecdsa"`` (P-256) or ``"rsa"`` (2048 bits, slow).  Useful for host keys
    and for client keys in public-key authentication tests.
    """
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError("unknown key kind %r (use 'ed25519', 'ecdsa' or 'rsa')" % (kind,))


_shared_keys: Dict[str, keys.Key] = {}


def shared_host_key(kind: str = "ed25519") -> keys.Key:
    """The host key shared by all servers of this process (generated once per kind)."""
    key = _shared_keys.get(kind)
    if key is None:
        key = _shared_keys[kind] = keys.Key(generate_key(kind))
    return key


def _private_key_from_bytes(data: bytes) -> keys.Key:
    """Load an unencrypted PEM (PKCS#1, SEC1, PKCS#8) or OpenSSH private key."""
    if b"OPENSSH PRIVATE KEY" in data:
        return keys.Key(serialization.load_ssh_private_key(data, None))
    return keys.Key(serialization.load_pem_private_key(data, None))


def load_host_key(source: Optional[HostKeyInput]) -> keys.Key:
    """Turn a :data:`HostKeyInput` into a private Conch key (None: the shared key)."""
    if source is None:
        return shared_host_key()
    if isinstance(source, keys.Key):
        key = source
    elif isinstance(source, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        key = keys.Key(source)
    elif isinstance(source, (str, bytes)) and (
        b"-----BEGIN" in (source if isinstance(source, bytes) else source.encode())
    ):
        key = _private_key_from_bytes(source if isinstance(source, bytes) else source.encode())
    elif isinstance(source, (str, os.PathLike)):
        with open(os.fspath(source), "rb") as f:
            key = _private_key_from_bytes(f.read())
    else:
        raise TypeError("cannot use %r as a host key" % (source,))
    if key.isPublic():
        raise ValueError("a host key must be a private key")
    return key


def load_public_key(source: AuthorizedKeyInput) -> keys.Key:
    """Turn an :data:`AuthorizedKeyInput` into a public Conch key."""
    if isinstance(source, keys.Key):
        return cast(keys.Key, source.public())
    if isinstance(
        source,
        (
            ed25519.Ed25519PrivateKey,
            ec.EllipticCurvePrivateKey,
            rsa.RSAPrivateKey,
            ed25519.Ed25519PublicKey,
            ec.EllipticCurvePublicKey,
            rsa.RSAPublicKey,
        ),
    ):
        return cast(keys.Key, keys.Key(source).public())
    if isinstance(source, str):
        source = source.encode("utf-8")
    if isinstance(source, bytes):
        return cast(keys.Key, keys.Key.fromString(source.strip()).public())
    raise TypeError("cannot use %r as an authorized key" % (source,))


def fingerprint_md5(key: keys.Key) -> str:
    """MD5 colon-hex fingerprint, as ncclient passes it to ``unknown_host_cb``."""
    return str(key.fingerprint())


def fingerprint_sha256(key: keys.Key) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint."""
    digest = hashlib.sha256(key.public().blob()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def public_b64(key: keys.Key) -> str:
    """Base64 of the public key blob (ncclient's ``hostkey_b64``, known_hosts)."""
    return base64.b64encode(key.public().blob()).decode("ascii")
