"""The refusals of a server's host key (changed, revoked, unknown: each an ncclient
``SSHUnknownHostError``), and the names and fingerprints they show, as OpenSSH shows them."""

from __future__ import annotations

import base64
import hashlib
from typing import Optional

import paramiko
from ncclient.transport.errors import SSHError, SSHUnknownHostError

__all__ = [
    "HostKeyChangedError",
    "HostKeyRevokedError",
    "HostKeyUnknownError",
    "fingerprint_md5",
    "fingerprint_sha256",
    "known_hosts_name",
]


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH files a host's key under: ``host`` for port 22, else ``[host]:port``."""
    return host if int(port) == 22 else "[%s]:%d" % (host, int(port))


def fingerprint_sha256(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of *key*."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def fingerprint_md5(key: paramiko.PKey) -> str:
    """The colon-hex MD5 fingerprint, the form ncclient gives ``unknown_host_cb``."""
    return ":".join("%02x" % b for b in hashlib.md5(key.asbytes()).digest())


class _RefusedHostKey(SSHUnknownHostError):
    """A server host key refused for what known_hosts (or a pin) says of it: the
    attributes both refusals carry, and their message."""

    #: The message's first words (what was refused, in capitals as OpenSSH's warning).
    _headline: str = ""

    def __init__(
        self, host: str, port: int, key: paramiko.PKey, known_hosts: Optional[str], why: str
    ) -> None:
        self.host = host
        self.port = port
        self.key_type = key.get_name()
        self.fingerprint = fingerprint_md5(key)
        self.fingerprint_sha256 = fingerprint_sha256(key)
        self.known_hosts = known_hosts
        SSHError.__init__(
            self,
            "%s for %s port %s: the server offers %s key %s, %s"
            % (self._headline, host, port, self.key_type, self.fingerprint_sha256, why),
        )


class HostKeyChangedError(_RefusedHostKey):
    """The server's host key differs from the one stored (or pinned) for it.

    A subclass of ncclient's ``SSHUnknownHostError``, so code catching that still does.
    Attributes: ``host``, ``port``, ``key_type``, ``fingerprint`` (ncclient's MD5 form),
    ``fingerprint_sha256``, ``known_hosts`` (the file, ``None`` for a pinned key).
    """

    _headline = "HOST KEY CHANGED"

    def __init__(
        self,
        host: str,
        port: int,
        key: paramiko.PKey,
        known_hosts: Optional[str],
    ) -> None:
        where = (
            "the key pinned with hostkey_b64"
            if known_hosts is None
            else "the key stored for %s in %s" % (known_hosts_name(host, port), known_hosts)
        )
        _RefusedHostKey.__init__(
            self,
            host,
            port,
            key,
            known_hosts,
            "which is not %s; refusing to connect (someone may be intercepting the connection, "
            "or the device's key was replaced)" % where,
        )


class HostKeyRevokedError(_RefusedHostKey):
    """The server's host key is listed as ``@revoked`` for it in known_hosts.

    A subclass of ncclient's ``SSHUnknownHostError`` (the key is refused, as an unknown
    one is), not of :class:`HostKeyChangedError`: replacing the stored key is not the
    remedy. Attributes as :class:`HostKeyChangedError`'s.
    """

    _headline = "HOST KEY REVOKED"

    def __init__(self, host: str, port: int, key: paramiko.PKey, known_hosts: str) -> None:
        _RefusedHostKey.__init__(
            self, host, port, key, known_hosts, "which %s marks @revoked; refusing to connect" % known_hosts
        )


class HostKeyUnknownError(_RefusedHostKey):
    """The server's host key is not known for it, and nothing said to trust it.

    A subclass of ncclient's ``SSHUnknownHostError`` (what ncclient raises here), with the
    SHA256 fingerprint as OpenSSH prints it and what to do about it; attributes as
    :class:`HostKeyChangedError`'s (``known_hosts``: the file that was read).
    """

    _headline = "Unknown host key"

    def __init__(self, host: str, port: int, key: paramiko.PKey, known_hosts: str, asked: bool) -> None:
        why = (
            "which unknown_host_cb did not accept"
            if asked
            else "which is not in %s; pass known_hosts= a file that lists it, accept_new=True "
            "to store it on first use, or hostkey_b64= to pin it" % known_hosts
        )
        _RefusedHostKey.__init__(self, host, port, key, known_hosts, why)
