"""NETCONF over SSH on the threads transport: ncclient's ``SSHSession`` (paramiko) with the
wake-on-send loop of :mod:`.session`, our host-key policy, and authentication failures
that say what was offered and tried."""

from __future__ import annotations

import functools
import selectors
import threading
from typing import Any, List, Optional

from ncclient.transport.errors import SSHError
from ncclient.transport.ssh import SSHSession
from paramiko.common import cMSG_GLOBAL_REQUEST
from paramiko.message import Message

from ncclient_twisted._compat import can_send_now, end_handshake_timer, send_user_message
from ncclient_twisted.transport.hostkeys import KnownHostsMixin
from ncclient_twisted.transport.keepalive import KEEPALIVE_REQUEST
from ncclient_twisted.transport.threads.session import (
    CLOSE_JOIN_TIMEOUT,
    READ_SIZE,
    WINDOW_POLL,
    WakeOnSendSession,
)

__all__ = ["ThreadedSSHSession", "send_keepalive"]


#: How long a failed authentication waits for the server's list of methods (seconds).
OFFERED_TIMEOUT = 5.0


class ThreadedSSHSession(WakeOnSendSession, KnownHostsMixin, SSHSession):
    """ncclient's ``SSHSession`` with a wake-on-send loop and an end-of-session hook.

    Host keys are read through a policy (``use_hostkey_policy``, see :mod:`.hostkeys`).
    """

    def connect(self, *args: Any, **kwds: Any) -> None:
        """ncclient's, a handshake that breaks failing with ncclient's exception: what it
        lets through once paramiko's transport runs (a server that closes the connection
        in the key exchange, paramiko's ``EOFError``; one that resets it, an ``OSError``;
        one that refuses the session channel, paramiko's ``ChannelException``) is an
        ``SSHError`` caused by it (a descriptor limit is still found in the cause). What
        fails before (a ``sock_fd`` that is no socket, a missing ``ssh_config``) is as
        ncclient raises it.

        paramiko's key exchange starts a timer thread (15 s) that only a completed exchange
        cancels: after a failed one it is cancelled here, not left to run out."""
        import paramiko
        from ncclient import NCClientError

        try:
            try:
                super().connect(*args, **kwds)
            except BaseException:
                transport = self.transport
                if transport is not None:
                    end_handshake_timer(transport)  # nothing waits on it now
                raise
        except NCClientError:
            raise
        except (EOFError, OSError, paramiko.SSHException) as e:
            if self.transport is None:
                raise  # before the SSH transport
            what = getattr(e, "text", None) or str(e) or type(e).__name__  # ChannelException: text
            raise SSHError("SSH handshake failed: %s" % what) from e

    # ncclient's signature is what the keywords of a connect are checked against (options).
    functools.update_wrapper(connect, SSHSession.connect, assigned=(), updated=())

    def _release_after_end(self) -> None:
        """As the session's, and the host-key policy lets go of this session (it is read
        only while connecting), and paramiko's last exception its traceback."""
        super()._release_after_end()
        policy = self._hostkey_policy
        if policy is not None and policy.session is self:
            policy.session = None
        self._drop_transport_traceback()

    def _drop_transport_traceback(self) -> None:
        """Once paramiko's transport thread has ended, the exception it ended with (kept
        as ``saved_exception``) loses its traceback: the traceback's frames hold the
        transport, a cycle that keeps it, its packetizer and channels for the cyclic GC."""
        transport = self.transport
        if transport is None or transport.is_alive():
            return
        error = getattr(transport, "saved_exception", None)
        if isinstance(error, BaseException):
            error.__traceback__ = None

    def _auth(self, username: str, password: Optional[str], *args: Any, **kwds: Any) -> None:
        """ncclient's authentication, and what it leaves out: after a partial success (a
        key accepted, the password still required) the password is tried (once); when
        nothing is accepted, ``AuthenticationError`` names the user, the methods the
        server offers and those tried (never a secret; ncclient's error is its cause)."""
        from ncclient.transport.errors import AuthenticationError

        try:
            super()._auth(username, password, *args, **kwds)
        except AuthenticationError as e:
            raise AuthenticationError(self._auth_failure(username, password, *args, **kwds)) from e
        transport = self.transport
        if transport is None or transport.is_authenticated():
            return
        # ncclient returns after a key the server took as a partial success.
        if password is not None:
            try:
                transport.auth_password(username, password)  # paramiko: one attempt
                return
            except Exception as e:
                raise AuthenticationError(self._auth_failure(username, password, *args, **kwds)) from e
        raise AuthenticationError(self._auth_failure(username, password, *args, **kwds))

    def _auth_failure(
        self,
        username: str,
        password: Optional[str],
        key_filenames: Any = (),
        allow_agent: bool = True,
        look_for_keys: bool = True,
        *rest: Any,
        **kwds: Any,
    ) -> str:
        """The message of a failed authentication: the user, what the server offers (asked
        with a ``none`` request, as OpenSSH's client begins) and what ncclient's order
        tried of it."""
        import os

        offered = self._offered_methods(username)
        keys = bool(key_filenames) or (allow_agent and bool(os.environ.get("SSH_AUTH_SOCK")))
        if look_for_keys and not keys:
            keys = any(
                os.path.isfile(os.path.expanduser("~/.ssh/id_%s" % kind))
                for kind in ("rsa", "ecdsa", "ed25519")
            )
        handler = kwds.get("auth_handler", rest[0] if rest and callable(rest[0]) else None)
        # paramiko answers keyboard-interactive with the password only where the server
        # does not take the password itself.
        fallback = password is not None and offered is not None and "password" not in offered
        tried = [
            method
            for method, used in (
                ("publickey", keys),
                ("keyboard-interactive", handler is not None or fallback),
                ("password", password is not None),
            )
            if used and (offered is None or method in offered)
        ]
        return "authentication failed for user %r: the server offers %s; tried %s" % (
            username,
            ", ".join(offered) if offered is not None else "(not known: the connection ended)",
            ", ".join(tried) or "nothing (no key, password or auth_handler to try)",
        )

    def _offered_methods(self, username: str) -> Optional[List[str]]:
        """The methods the server lists for *username* (a ``none`` request, bounded);
        ``None`` when it cannot be asked."""
        import paramiko

        transport = self.transport
        if transport is None or not transport.is_active():
            return None
        transport.auth_timeout = min(transport.auth_timeout or OFFERED_TIMEOUT, OFFERED_TIMEOUT)
        try:
            transport.auth_none(username)
        except paramiko.BadAuthenticationType as e:
            return [str(m) for m in e.allowed_types]
        except Exception:
            return None
        return []  # let in with "none" after all: nothing else is asked for

    def _transport_register(self, selector: selectors.BaseSelector, event: int) -> None:
        selector.register(self._channel, event)

    def _transport_read(self) -> bytes:
        return bytes(self._channel.recv(READ_SIZE))

    def _transport_write(self, data: bytes) -> int:
        return int(self._channel.send(data))

    def _send_ready(self) -> bool:
        return bool(self._channel.send_ready())

    def _can_write_now(self, size: int) -> bool:
        # paramiko's Channel.send is thread-safe; it waits only for the peer's window
        # and for a key exchange in progress (clear_to_send): neither may be the case.
        channel, transport = self._channel, self.transport
        return (
            channel is not None
            and transport is not None
            and not channel.closed
            and can_send_now(channel, transport, size)
        )

    def _select_timeout(self, sel: selectors.BaseSelector) -> Optional[float]:
        # Only while paramiko's window is full do we look again on a timer.
        return WINDOW_POLL if self._out else None

    def _transport_closed(self) -> bool:
        # A closed channel may still hold what the server sent before closing it (the
        # reply to close-session): not closed for us until that has been read.
        channel = self._channel
        return channel is None or (bool(channel.closed) and not channel.recv_ready())

    def _interrupt_transport(self) -> None:
        transport = self.transport
        if transport is not None and transport.is_active():
            transport.close()

    def _close_transport(self) -> None:
        transport = self.transport
        if transport is not None and transport.is_active():
            transport.close()
        if self._channel is not None:
            self._channel.close()

    def _reap_transport(self) -> None:
        transport = self.transport
        if (
            transport is not None
            and transport.is_alive()
            and transport is not threading.current_thread()
        ):
            transport.join(CLOSE_JOIN_TIMEOUT)
        if self._channel is not None:
            self._channel.close()
        self._drop_transport_traceback()


def send_keepalive(transport: Any) -> None:
    """Send ``keepalive@openssh.com`` with want-reply on a paramiko *transport*.

    paramiko's public ``global_request(wait=True)`` blocks until the reply, with no
    bound; its ``wait=False`` asks for no reply. The message is built here and sent
    with the transport's own sender, which waits for a key exchange in progress.
    """
    m = Message()
    m.add_byte(cMSG_GLOBAL_REQUEST)
    m.add_string(KEEPALIVE_REQUEST)
    m.add_boolean(True)
    send_user_message(transport, m)
