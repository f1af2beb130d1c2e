"""Host keys for the host-key tests."""

from __future__ import annotations

from typing import Tuple

from twisted.conch.ssh import keys as conch_keys

from ncclient_twisted import testing


def other_key_line(name: str) -> Tuple[str, str]:
    """A known_hosts line for *name* with a freshly generated key, and the key's base64."""
    public = conch_keys.Key(testing.generate_key()).public()
    b64 = public.toString("openssh").decode().split()[1]
    return "%s ssh-ed25519 %s\n" % (name, b64), b64
