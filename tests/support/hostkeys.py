"""Keys for the tests: a known_hosts line with a fresh key, a private key file."""

from __future__ import annotations

import os
from typing import Any, Tuple

from cryptography.hazmat.primitives import serialization
from twisted.conch.ssh import keys as conch_keys

from ncclient_twisted import testing


def other_key_line(name: str) -> Tuple[str, str]:
    """A known_hosts line for *name* with a freshly generated key, and the key's base64."""
    public = conch_keys.Key(testing.generate_key()).public()
    b64 = public.toString("openssh").decode().split()[1]
    return "%s ssh-ed25519 %s\n" % (name, b64), b64


def write_private_key(path: "os.PathLike[str] | str", key: Any) -> str:
    """Write *key* (a ``cryptography`` private key) to *path* as OpenSSH writes it, without a
    passphrase and readable by its owner only; the path."""
    with open(path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
        )
    os.chmod(path, 0o600)
    return str(path)
