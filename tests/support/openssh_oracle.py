"""OpenSSH's client as the reference for host-key verdicts (tests/adversarial/test_known_hosts.py).

:func:`openssh_verdict` runs ``ssh`` in batch mode against a server with one known_hosts
file and says how far it got: past the host key (``accepted``), or refused as ``revoked``,
``changed`` or ``unknown``.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Tuple

from twisted.internet import utils

from tests.support.helpers import bounded, reactor

ACCEPTED, REVOKED, CHANGED, UNKNOWN = "accepted", "revoked", "changed", "unknown"

SSH = shutil.which("ssh")


def ssh_args(known_hosts: str, port: int, host: str = "127.0.0.1") -> Tuple[str, ...]:
    """``ssh`` checking the host key strictly against *known_hosts* only, never asking,
    never authenticating (no keys, no password), never writing a file."""
    return (
        "-F", "/dev/null",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=%s" % known_hosts,
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "UpdateHostKeys=no",
        "-o", "CheckHostIP=no",
        "-o", "PreferredAuthentications=none",
        "-o", "IdentitiesOnly=yes",
        "-o", "IdentityFile=/dev/null",
        "-o", "ConnectTimeout=10",
        "-p", str(port),
        "nobody@%s" % host,
        "true",
    )


def classify(stderr: str, code: int) -> str:
    """The verdict ssh's *stderr* and exit *code* show."""
    if "was revoked" in stderr:
        return REVOKED
    if "Host key verification failed" in stderr:
        if "HAS CHANGED" in stderr or "has changed" in stderr:
            return CHANGED
        return UNKNOWN
    if "Permission denied" in stderr or code == 0:
        return ACCEPTED  # past the host key: refused at authentication
    raise AssertionError("ssh ended with %d and no verdict:\n%s" % (code, stderr))


async def openssh_verdict(known_hosts: str, port: int, home: str) -> Tuple[str, str]:
    """(verdict, stderr) of OpenSSH's client against 127.0.0.1:*port* (bounded; *home*
    is its ``HOME``, so nothing of the user's ``~/.ssh`` is read or written)."""
    assert SSH is not None
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C"}
    out: Any = await bounded(
        utils.getProcessOutputAndValue(SSH, ssh_args(known_hosts, port), env=env, reactor=reactor())
    )
    _, err, code = out
    text = err.decode("utf-8", "replace")
    return classify(text, code), text
