"""One line for each expected failure: what a user reads instead of a traceback."""

from __future__ import annotations

import getpass
import socket
from typing import Optional

from ncclient.operations import RPCError, TimeoutExpiredError
from ncclient.transport.errors import (
    AuthenticationError,
    SessionCloseError,
    SSHError,
    SSHUnknownHostError,
    TransportError,
)
from twisted.internet.defer import CancelledError
from twisted.internet.defer import TimeoutError as DeferredTimeoutError

from ncclient_twisted.transport.errors import HostResolutionError
from ncclient_twisted.transport.hostkeys import HostKeyChangedError, HostKeyRevokedError

from ._credentials import CredentialError, Credentials

__all__ = ["describe", "auth_hint", "is_expected"]


def _rpc_error(e: RPCError) -> str:
    parts = []
    for err in getattr(e, "errlist", None) or [e]:
        tag = getattr(err, "tag", None) or "rpc-error"
        msg = (getattr(err, "message", None) or "").strip()
        path = (getattr(err, "path", None) or "").strip()
        text = tag + (": " + msg if msg else "")
        if path:
            text += " (at %s)" % path
        parts.append(text)
    return "rpc-error: " + "; ".join(parts)


def describe(exc: BaseException, timeout: Optional[float] = None) -> str:
    """A one-line description of *exc* that names no secret."""
    after = " after %g s" % timeout if timeout else ""
    if isinstance(exc, HostKeyChangedError):
        text = _first_line(exc)
        if text.lower().startswith("host key changed") and ": " in text:
            text = text.split(": ", 1)[1]  # the label already names the device
        return "host key changed: %s" % text
    if isinstance(exc, HostKeyRevokedError):
        return "host key revoked: %s %s is marked @revoked in %s" % (
            exc.key_type, exc.fingerprint_sha256, exc.known_hosts)
    if isinstance(exc, SSHUnknownHostError):
        sha256 = getattr(exc, "fingerprint_sha256", None)
        if sha256:
            key = "%s %s" % (getattr(exc, "key_type", "key"), sha256)
        else:  # ncclient's own error carries only the MD5 form
            key = "MD5 %s" % getattr(exc, "fingerprint", "?")
        return "host key not trusted (%s): not in known_hosts (--known-hosts FILE lists keys, " \
            "--accept-new trusts a new host on first use)" % key
    if isinstance(exc, AuthenticationError):
        text = _first_line(exc)  # the user, the methods offered and tried: never a secret
        return text if text.startswith("authentication failed") else "authentication failed: " + text
    if isinstance(exc, (TimeoutExpiredError, DeferredTimeoutError, socket.timeout)):
        return "timeout%s" % after
    if isinstance(exc, RPCError):
        return _rpc_error(exc)
    if isinstance(exc, CredentialError):
        return "credentials: %s" % exc
    if isinstance(exc, CancelledError):
        return "interrupted"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, HostResolutionError):
        return str(exc)  # "Could not resolve hostname H: why", as OpenSSH says it
    if isinstance(exc, socket.gaierror):
        return "could not resolve hostname: %s" % (exc.strerror or exc)
    if isinstance(exc, SessionCloseError):
        return "session closed by the device"
    if isinstance(exc, (SSHError, TransportError)):
        return "%s: %s" % (type(exc).__name__, _first_line(exc))
    if isinstance(exc, OSError):
        return exc.strerror or _first_line(exc) or type(exc).__name__
    return "%s: %s" % (type(exc).__name__, _first_line(exc))


def auth_hint(credentials: Credentials, username: Optional[str]) -> str:
    """What the command was not given, said after an authentication failure ("" if nothing)."""
    missing = []
    if credentials.password is None and credentials.key_filename is None:
        missing.append(
            "no password was given (--password-env VAR, --password-file FILE, --ask-password, "
            "or credentials: in the inventory)"
            + ("; only the SSH agent and ~/.ssh keys were offered" if credentials.agent else "")
        )
    if not username:
        missing.append(
            "no user name was given, so the local one (%s) was used (--username, or username: "
            "in the inventory)" % getpass.getuser()
        )
    return "; ".join(missing)


def is_expected(exc: BaseException) -> bool:
    """Whether *exc* is a failure of the device or the network rather than a bug of ours."""
    from ncclient.operations.errors import OperationError
    from ncclient.xml_ import XMLError

    return isinstance(
        exc,
        (
            TransportError,
            RPCError,
            OperationError,
            TimeoutExpiredError,
            DeferredTimeoutError,
            CancelledError,
            CredentialError,
            OSError,
            XMLError,
        ),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
