"""The reactor transport's SSH connector: :class:`ReactorSSHConnector`, NETCONF over SSH with
Twisted Conch (keys, the agent, ssh_config, the host-key policy, keepalives)."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

from ncclient.transport.errors import SSHError
from twisted.internet.defer import Deferred, fail, succeed

from ncclient_twisted.assembly import host_key_policy
from ncclient_twisted.bridge.runtime import runtime_for
from ncclient_twisted.transport.hostkeys import HostKeyPolicy
from ncclient_twisted.transport.keepalive import DeadPeerDetector
from ncclient_twisted.transport.reactor.connectors import (
    ReactorConnector,
    _adopt,
    _connect_error,
    _peer_host,
    _socket_from_fd,
    _tcp_endpoint,
)
from ncclient_twisted.transport.reactor.keys import default_key_files, load_private_keys
from ncclient_twisted.transport.reactor.ssh import ClientTransport, HostKeyCheck
from ncclient_twisted.transport.reactor.userauth import InteractiveHandler, connect_agent

if TYPE_CHECKING:
    from ncclient_twisted.transport.reactor.session import ReactorSession
    from ncclient_twisted.transport.sshconfig import SSHConfigEntry

__all__ = ["ReactorSSHConnector"]



class _PolicyCheck:
    """The host key check of one connect through *policy*; ``key_types``: those known
    for the host (read now), which the transport negotiates first."""

    def __init__(
        self, policy: HostKeyPolicy, host: str, pinned: Optional[str], known_hosts_file: Optional[str]
    ) -> None:
        self._policy = policy
        self._host = host
        self._pinned = pinned
        self._known_hosts_file = known_hosts_file
        self.key_types = policy.known_key_types(host, pinned, known_hosts_file)

    def __call__(self, blob: bytes) -> "Deferred[bool]":
        try:
            key = paramiko_key(blob)
        except Exception as e:
            return fail(SSHError("the server's host key cannot be read: %s" % type(e).__name__))
        return self._policy.check_key(self._host, key, self._pinned, self._known_hosts_file)


class ReactorSSHConnector(ReactorConnector):
    """NETCONF over SSH: Twisted Conch (see :mod:`ncclient_twisted.transport.reactor.ssh`).

    ``sock`` (a connected socket: call home) is adopted by the reactor, and so is a
    duplicate of ``sock_fd`` (a connected socket's descriptor, which stays the caller's);
    without a ``host``, the host key is looked up under the peer's address. ``allow_agent``
    (default true, as in ncclient) offers the keys of the agent at ``$SSH_AUTH_SOCK``.
    ``bind_addr`` binds the socket to that local address; ``environment`` is sent as
    ``env`` requests before the subsystem request, and a server may refuse them silently
    (see :class:`~ncclient_twisted.transport.reactor.ssh.NetconfClientChannel`). ``ssh_config`` (a
    path, or ``True``: ``~/.ssh/config``) is read on the pool, and what ncclient takes
    from the host's entry applies (see :mod:`ncclient_twisted.transport.sshconfig`),
    except a ``ProxyCommand``: the connect fails with ``NotImplementedError`` (it needs a
    subprocess as the transport; ``io="threads"`` runs it).
    """

    transport = "ssh"
    error = SSHError
    #: ssh_config's ``ConnectTimeout``, once read (it applies without a ``timeout``).
    _config_timeout: Optional[int] = None

    @property
    def _timeout(self) -> float:
        if self.options.ssh.timeout is None and self._config_timeout:
            return float(self._config_timeout)
        return super()._timeout

    def _describe(self) -> str:
        return "%s:%s" % (self.options.ssh.host, self.options.ssh.port)

    def _host_key_check(self, host: str, port: int, known_hosts_file: Optional[str] = None) -> "HostKeyCheck":
        policy = host_key_policy(self.reactor, self.options, port)
        if policy is None:
            return lambda blob: succeed(True)
        return _PolicyCheck(policy, host, self.options.ssh.hostkey_b64, known_hosts_file)

    def _open(self, session: "ReactorSession", ready: "Deferred[None]") -> "Deferred[Any]":
        o = self.options.ssh
        if not (o.host or o.sock is not None or o.sock_fd is not None):
            return fail(SSHError("Missing host, socket or socket fd"))
        ssh_config = o.ssh_config
        if ssh_config is None or ssh_config is False:
            return self._connect(session, ready, None)
        from ncclient_twisted.transport.sshconfig import read_ssh_config

        # Reading the file blocks (and paramiko's lookup may run a Match exec command or
        # resolve names to canonicalize one): on the pool, as key files are.
        reading = runtime_for(self.reactor).run(read_ssh_config, ssh_config, o.host)
        return reading.addCallback(lambda entry: self._connect(session, ready, entry))

    def _connect(
        self, session: "ReactorSession", ready: "Deferred[None]", config: "Optional[SSHConfigEntry]"
    ) -> "Deferred[Any]":
        """Load the keys, connect (or adopt the socket given) and start SSH, with what
        *config* (ssh_config's entry for the host, if any) says as ncclient applies it."""
        o = self.options.ssh
        host = o.host or ""
        username = o.username
        key_filename = o.key_filename
        config_key_files: Sequence[str] = ()
        known_hosts_file: Optional[str] = None
        compression = False
        if config is not None:
            if config.has_proxy_command and o.sock is None and o.sock_fd is None:
                return fail(
                    NotImplementedError(
                        "the ssh_config entry of %s has a ProxyCommand, which io='reactor' does not "
                        "run (it needs a subprocess as the connection); use io='threads'" % host
                    )
                )
            host = config.hostname or host
            username = username or config.user
            if key_filename is None:
                config_key_files = config.identity_files
            self._config_timeout = config.connect_timeout
            known_hosts_file = config.user_known_hosts_file
            compression = config.compression
        port = o.port
        username = username or getpass.getuser()
        password = o.password
        reactor: Any = self.reactor

        agent_path = os.environ.get("SSH_AUTH_SOCK") if o.allow_agent else None
        agent: List[Any] = [None]

        environment = environment_requests(o.environment)
        auth_handler = interactive_handler(reactor, o.auth_handler)

        def keys_loaded(private_keys: List[Any]) -> "Deferred[Any]":
            sock = o.sock  # call home: the connection accepted
            if sock is None and o.sock_fd is not None:
                try:
                    sock = _socket_from_fd(o.sock_fd)
                except Exception:
                    return fail()
            # Without a host (a socket given), host keys are filed under the peer's address.
            peer = _peer_host(sock) if sock is not None and not host else None
            check = self._host_key_check(host or peer or "", port, known_hosts_file)

            def build() -> "ClientTransport":
                return ClientTransport(
                    session,
                    username,
                    password,
                    private_keys,
                    check,
                    ready,
                    reactor.seconds,
                    agent[0],
                    environment,
                    compression,
                    auth_handler,
                )

            factory = self._factory(build)
            if sock is not None:
                return _adopt(reactor, sock, factory)
            endpoint = _tcp_endpoint(reactor, host, port, self._timeout, o.bind_addr)
            return endpoint.connect(factory).addErrback(_connect_error, host, port)

        look_for_keys = bool(o.look_for_keys)
        if key_filename or config_key_files or (look_for_keys and default_key_files()):
            # Reading (and decrypting) key files may take long: on the pool.
            loading = runtime_for(self.reactor).run(
                load_private_keys, key_filename, password, look_for_keys, config_key_files
            )
        else:
            loading = succeed([])
        if agent_path:
            path = agent_path

            def with_agent(keys: List[Any]) -> "Deferred[List[Any]]":
                def found(connected: Any) -> List[Any]:
                    agent[0] = connected
                    return keys

                return connect_agent(reactor, path).addCallback(found)

            loading.addCallback(with_agent)
        return loading.addCallback(keys_loaded)

    def _started(self, session: "ReactorSession") -> None:
        o = self.options.ssh
        if not o.keepalive:
            return
        t: "ClientTransport" = self._protocols[-1]
        session.start_keepalive(
            DeadPeerDetector(
                o.keepalive,
                lambda: t.last_received,
                t.send_keepalive,
                o.keepalive_count_max,
                now=self.reactor.seconds,
                peer="%s port %s" % (o.host, o.port),
            )
        )


def interactive_handler(reactor: Any, handler: Any) -> "Optional[InteractiveHandler]":
    """ncclient's ``auth_handler(title, instructions, prompt_list) -> answers`` (as paramiko's
    ``auth_interactive`` calls it), run on the pool as ncclient runs it in the connecting
    thread: it may block (read a terminal, fetch a one-time password)."""
    if handler is None:
        return None
    runtime = runtime_for(reactor)

    def answer(title: str, instructions: str, prompts: List[Tuple[str, bool]]) -> "Deferred[List[str]]":
        d: "Deferred[List[str]]" = runtime.run(handler, title, instructions, prompts)
        return d

    return answer


def environment_requests(environment: Any) -> List[Tuple[bytes, bytes]]:
    """ncclient's ``environment`` (names and values, text or bytes; checked by
    :class:`ConnectOptions`) as the (name, value) pairs of SSH ``env`` requests, text
    encoded as UTF-8 as paramiko does."""

    def encoded(text: Any) -> bytes:
        return text if isinstance(text, bytes) else str(text).encode("utf-8")

    return [(encoded(k), encoded(v)) for k, v in (environment or {}).items()]


def paramiko_key(blob: bytes) -> Any:
    """The paramiko key of an SSH public key *blob* (what the host-key policy compares)."""
    import paramiko
    from twisted.conch.ssh.common import getNS

    key_type, _ = getNS(blob)
    return paramiko.PKey.from_type_string(key_type.decode("ascii"), blob)
