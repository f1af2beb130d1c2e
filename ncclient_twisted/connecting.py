"""ncclient's connect functions (:mod:`ncclient_twisted.manager` offers them): each checks its
keywords (:class:`~ncclient_twisted.options.ConnectOptions`), picks the transport
(``io``) and hands the connect to that transport's connector."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Optional

import ncclient.devices.default  # noqa: F401 - see below
from cryptography.utils import CryptographyDeprecationWarning
from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger

from ncclient_twisted._manager import Manager
from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.runtime import resolve_reactor, runtime_for
from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.transport.threads.connectors import SocketConnector, SSHConnector
from ncclient_twisted.transport.threads.ssh import ThreadedSSHSession

# The default transport's SSH modules (Conch's among them) and ncclient's default device
# handler load with this module, at the program's start-up: at the first connect they
# would be imported on the reactor thread (25-60 ms, a stall of every other connection).
with warnings.catch_warnings():
    # Twisted before 23 builds a table naming ciphers that cryptography deprecates
    # (Blowfish, CAST5) when Conch's transport module loads: warnings about Twisted's
    # internals, at the import of ours, that no user can act on but by upgrading Twisted.
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from ncclient_twisted.transport.reactor.ssh_connector import ReactorSSHConnector

__all__ = ["connect", "connect_ssh", "connect_tls", "connect_uds"]


log = Logger(namespace=__name__)


def connect_ssh(*args: Any, reactor: Optional[INetconfReactor] = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect over SSH; ncclient's arguments (see ``ncclient.manager.connect_ssh``).

    Extra keywords:

    - ``reactor``;
    - ``known_hosts`` (a file of OpenSSH known_hosts lines read instead of
      ``~/.ssh/known_hosts``) and ``accept_new`` (store an unknown host's key there and
      go on, as OpenSSH's ``StrictHostKeyChecking=accept-new``); a key that differs from
      the stored one fails with :class:`HostKeyChangedError`. ``unknown_host_cb(host,
      fingerprint)`` runs on the reactor thread and may return a Deferred;
    - ``keepalive`` (seconds) and ``keepalive_count_max`` (default 3): after that many
      keepalives without an answer the session ends with :class:`KeepaliveTimeoutError`
      (on ``io="threads"`` this needs the socket connect opens itself: with ``sock``,
      ``sock_fd`` or ``ssh_config``, ``keepalive`` is paramiko's, as in ncclient);
    - in ``manager_params``, ``notification_buffer`` (how many notifications are kept
      before the oldest is dropped);
    - ``io``: ``"reactor"`` (the session is a Conch protocol on the reactor thread, one
      socket and no thread), ``"threads"`` (ncclient's session thread and paramiko's), or
      ``"auto"`` (the default: ``"reactor"``, unless the call needs ``"threads"``: see
      :func:`~ncclient_twisted.options.choose_io`).

    Every keyword is checked at the call (:class:`~ncclient_twisted.options.ConnectOptions`):
    one that nobody takes, or a value of the wrong kind, is a failed Deferred.
    """
    try:
        options = ConnectOptions.parse("ssh", ThreadedSSHSession, args, kwds)
    except Exception:
        return fail()
    if options.io == "reactor":
        if options.io_chosen and options.reads_ssh_config:
            return _after_ssh_config(options, reactor)
        return ReactorSSHConnector(options, reactor).connect()
    return SSHConnector(options, reactor).connect()


def _after_ssh_config(options: ConnectOptions, reactor: Optional[INetconfReactor]) -> "Deferred[Manager]":
    """``io="auto"`` with an ssh_config: its entry for the host is read first (on the
    pool), and a ``ProxyCommand`` there (which only the threads transport runs) picks
    ``io="threads"``; otherwise the reactor transport."""
    from ncclient_twisted.transport.sshconfig import read_ssh_config

    resolved = resolve_reactor(reactor)

    def connect(entry: Any) -> "Deferred[Manager]":
        if entry is not None and entry.has_proxy_command:
            log.debug("the ssh_config entry of {host} has a ProxyCommand: io='threads'", host=options.host)
            return SSHConnector(dataclasses.replace(options, io="threads"), resolved).connect()
        return ReactorSSHConnector(options, resolved).connect()

    d = runtime_for(resolved).run(read_ssh_config, options.ssh.ssh_config, options.host)
    return d.addCallback(connect)


def _connect_socket(
    transport: str, args: Any, kwds: Any, reactor: Optional[INetconfReactor]
) -> "Deferred[Manager]":
    try:
        connector = SocketConnector.from_call(transport, args, kwds, reactor)
    except Exception:
        return fail()
    if connector.options.io == "reactor":
        from ncclient_twisted.transport.reactor.connectors import ReactorUnixConnector
        from ncclient_twisted.transport.reactor.tls_connector import ReactorTLSConnector

        cls = ReactorTLSConnector if transport == "tls" else ReactorUnixConnector
        return cls(connector.options, reactor).connect()
    return connector.connect()


def connect_tls(*args: Any, reactor: Optional[INetconfReactor] = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect over TLS (RFC 7589, mutual X.509); see ``ncclient.manager.connect_tls``.

    ncclient's arguments: ``host``, ``port`` (6513), ``certfile`` and ``keyfile`` (the
    client's certificate and key, PEM), ``ca_certs`` (the CAs that may sign the server's
    certificate), ``check_hostname``, ``server_hostname``, ``timeout``; ``protocol``
    defaults to ``ssl.PROTOCOL_TLS_CLIENT``. Also ``sock`` (a connected socket) and
    ``bind_addr``. Fails with ncclient's ``TLSError`` when the connection or the handshake
    fails or the server rejects our certificate, with ``NotImplementedError`` when the
    installed ncclient has no TLS transport.
    """
    return _connect_socket("tls", args, kwds, reactor)


def connect_uds(*args: Any, reactor: Optional[INetconfReactor] = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect over a Unix domain socket; see ``ncclient.manager.connect_uds``.

    ncclient's arguments: ``path`` and ``timeout``. Fails with ncclient's
    ``UnixSocketError`` when the socket cannot be connected, with ``NotImplementedError``
    when the installed ncclient has no Unix-socket transport.
    """
    return _connect_socket("uds", args, kwds, reactor)


def connect(*args: Any, reactor: Optional[INetconfReactor] = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect as ``ncclient.manager.connect`` does; a Deferred of a :class:`Manager`.

    Only the SSH transport (ncclient's default) is supported here: ``use_libssh`` and
    the Junos local (``ioproc``) transport fail with ``NotImplementedError``.
    """
    return connect_ssh(*args, reactor=reactor, **kwds)
