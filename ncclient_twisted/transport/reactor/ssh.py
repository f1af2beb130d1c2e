"""NETCONF over SSH on the reactor thread with Twisted Conch: the client transport, the
connection and the ``netconf`` channel of one :class:`~.session.ReactorSession`.

:class:`ClientTransport` (key exchange, the host key through the caller's
:data:`HostKeyCheck`, then :class:`~.userauth.UserAuth`), a :class:`NetconfConnection` and
one :class:`NetconfClientChannel` on the ``netconf`` subsystem, which feeds the session.
"""

from __future__ import annotations

import collections
import hmac
import struct
import time
from typing import Any, Callable, Deque, List, Optional, Sequence, Tuple

from ncclient.transport.errors import (
    AuthenticationError,
    SessionCloseError,
    SSHError,
)
from twisted.conch.ssh import keys
from twisted.conch.ssh.channel import SSHChannel
from twisted.conch.ssh.common import NS
from twisted.conch.ssh.connection import SSHConnection
from twisted.conch.ssh.transport import DISCONNECT_HOST_KEY_NOT_VERIFIABLE, SSHCiphers, SSHClientTransport
from twisted.internet.defer import Deferred
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from ncclient_twisted._logging import QuietLogger
from ncclient_twisted.transport.keepalive import KEEPALIVE_REQUEST
from ncclient_twisted.transport.reactor.session import ReactorSession
from ncclient_twisted.transport.reactor.transports import abort_transport, flush_now, pause_reading
from ncclient_twisted.transport.reactor.userauth import AgentKeys, InteractiveHandler, UserAuth

__all__ = ["NetconfClientChannel", "ClientTransport", "HostKeyCheck", "ReusedMACCiphers"]


log = Logger(namespace=__name__)


#: ``check(key_blob) -> Deferred[bool]``: whether the server's host key is accepted (it
#: may fail with the error to report instead, e.g. ``HostKeyChangedError``). A check may
#: have ``key_types``: the key types known for the host, negotiated first.
HostKeyCheck = Callable[[bytes], "Deferred[bool]"]
#: The disconnect reason sent to a server whose host key was refused (OpenSSH's words).
HOST_KEY_DISCONNECT_REASON = b"host key verification failed"


#: While the peer's SSH window is full, what is written waits in pieces of this size.
BACKLOG_PIECE = 256 * 1024


class NetconfClientChannel(SSHChannel):
    """The ``session`` channel running the ``netconf`` subsystem for a :class:`ReactorSession`.

    *environment* (name, value pairs) is sent as ``env`` requests before the subsystem
    request, without asking for a reply, as paramiko's ``update_environment`` does
    (ncclient's ``environment``): a server refuses what it does not accept (OpenSSH:
    what ``AcceptEnv`` does not name) silently, and the session goes on.

    (Its receive side keeps no buffer of its own: ``SSHChannel.buf`` is Conch's outgoing
    buffer, see the reactor transport notes.)
    """

    name = b"session"
    _log = QuietLogger()

    def __init__(
        self,
        session: ReactorSession,
        opened: "Deferred[None]",
        environment: Sequence[Tuple[bytes, bytes]] = (),
        **kw: Any,
    ) -> None:
        SSHChannel.__init__(self, **kw)
        self.session = session
        self._opened = opened
        self._environment = environment
        #: What waits for the peer's window, beyond what Conch holds (see write).
        self._backlog: Deque[bytes] = collections.deque()

    def write(self, data: bytes) -> None:
        """Conch's, except that what the peer's window cannot take yet waits here in
        pieces: Conch keeps it as one ``bytes``, copied whole on every write and every
        window adjust (a peer that stops reading with 100 MB queued cost the reactor
        0.1 s a time, and the copies grow as the square of the backlog)."""
        if self.buf or self._backlog or len(data) > self.remoteWindowLeft:
            if len(data) <= BACKLOG_PIECE:
                self._backlog.append(data)
            else:
                self._backlog.extend(data[i : i + BACKLOG_PIECE] for i in range(0, len(data), BACKLOG_PIECE))
            self._drain()
            return
        SSHChannel.write(self, data)

    def addWindowBytes(self, data: int) -> None:
        # Conch's sends what it holds through self.write, which would put it behind the
        # backlog: it is sent here, first.
        held, self.buf = self.buf, b""
        SSHChannel.addWindowBytes(self, data)
        if held:
            SSHChannel.write(self, held)
        self._drain()

    def _drain(self) -> None:
        """Hand Conch the backlog's pieces while the window takes them (Conch keeps the
        rest of the last one)."""
        backlog = self._backlog
        while backlog and not self.buf and self.remoteWindowLeft > 0:
            SSHChannel.write(self, backlog.popleft())

    def drop_connection(self, abort: bool = False) -> None:
        """Close the SSH connection this channel runs on (*abort*: at once, without
        waiting for what is still to be written)."""
        conn = self.conn
        if conn is None or conn.transport is None:
            return
        if abort:
            abort_transport(conn.transport.transport)
        else:
            conn.transport.loseConnection()

    def channelOpen(self, specificData: bytes) -> None:
        self.session.channel_opened(self)
        assert self.conn is not None
        for name, value in self._environment:
            self.conn.sendRequest(self, b"env", NS(name) + NS(value), wantReply=False)
        d = self.conn.sendRequest(self, b"subsystem", NS(b"netconf"), wantReply=True)
        assert d is not None  # wantReply=True
        d.addCallbacks(self._subsystem_started, self._subsystem_refused)

    def openFailed(self, reason: Any) -> None:
        if not self._opened.called:
            self._opened.errback(SSHError("the server refused the channel: %s" % (reason,)))

    def _subsystem_started(self, _: Any) -> None:
        self.session.channel_ready()
        if not self._opened.called:
            self._opened.callback(None)

    def _subsystem_refused(self, reason: Failure) -> None:
        if not self._opened.called:
            self._opened.errback(SSHError("the server refused the netconf subsystem"))
        self.drop_connection()

    def dataReceived(self, data: bytes) -> None:
        self.session.data_received(data)

    def flush(self) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None:
            flush_now(conn.transport.transport)

    def pause_reading(self, paused: bool) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None:
            pause_reading(conn.transport.transport, paused)

    def closed(self) -> None:
        self.session.connection_lost(None)
        self.drop_connection()

    def request_exit_status(self, data: bytes) -> bool:
        """The subsystem's exit status, which a NETCONF session has no use for: taken
        (Conch would log the request as unhandled)."""
        return True

    def request_exit_signal(self, data: bytes) -> bool:
        """The subsystem's end by a signal: taken, as its exit status."""
        return True


class NetconfConnection(SSHConnection):
    """Opens the NETCONF channel once the connection service runs."""

    _log = QuietLogger()

    def __init__(self, channel: Callable[["NetconfConnection"], NetconfClientChannel]) -> None:
        SSHConnection.__init__(self)
        self._channel = channel

    def serviceStarted(self) -> None:
        SSHConnection.serviceStarted(self)
        self.openChannel(self._channel(self))


_SEQUENCE = struct.Struct(">L")


def _hmac_for(params: Any) -> "Optional[hmac.HMAC]":
    """An HMAC keyed as Conch's ``SSHCiphers._getMAC`` *params* say, or ``None`` (no MAC)."""
    digestmod = params[0]
    return None if not digestmod else hmac.new(params.key, digestmod=digestmod)


class ReusedMACCiphers(SSHCiphers):
    """Conch's ciphers, the same MACs computed from one keyed HMAC per direction, copied
    for each packet (Conch keys a new ``hmac.HMAC`` per packet: 8 against 1.5 µs)."""

    _out_hmac: "Optional[hmac.HMAC]" = None
    _in_hmac: "Optional[hmac.HMAC]" = None

    def setKeys(
        self, outIV: bytes, outKey: bytes, inIV: bytes, inKey: bytes, outInteg: bytes, inInteg: bytes
    ) -> None:
        SSHCiphers.setKeys(self, outIV, outKey, inIV, inKey, outInteg, inInteg)
        self._out_hmac = _hmac_for(self.outMAC)
        self._in_hmac = _hmac_for(self.inMAC)

    def makeMAC(self, seqid: int, data: bytes) -> bytes:
        keyed = self._out_hmac
        if keyed is None:
            return SSHCiphers.makeMAC(self, seqid, data)
        mac = keyed.copy()
        mac.update(_SEQUENCE.pack(seqid))
        mac.update(data)
        return mac.digest()

    def verify(self, seqid: int, data: bytes, mac: bytes) -> bool:
        keyed = self._in_hmac
        if keyed is None:
            return SSHCiphers.verify(self, seqid, data, mac)
        expected = keyed.copy()
        expected.update(_SEQUENCE.pack(seqid))
        expected.update(data)
        return hmac.compare_digest(mac, expected.digest())


class ClientTransport(SSHClientTransport):
    """The SSH client transport of one session: its host key checked by *check_host_key*,
    then :class:`UserAuth`. *ready* fires once the NETCONF channel runs, or fails with
    ncclient's exception for the stage that failed. *environment*: see
    :class:`NetconfClientChannel`; *compression* asks for zlib, as paramiko's
    ``use_compression`` (ssh_config's ``Compression yes``); *auth_handler*: see
    :class:`UserAuth`."""

    _log = QuietLogger()

    def __init__(
        self,
        session: ReactorSession,
        username: str,
        password: Optional[str],
        private_keys: List[keys.Key],
        check_host_key: HostKeyCheck,
        ready: "Deferred[None]",
        now: Callable[[], float] = time.monotonic,
        agent: Optional[AgentKeys] = None,
        environment: Sequence[Tuple[bytes, bytes]] = (),
        compression: bool = False,
        auth_handler: Optional[InteractiveHandler] = None,
    ) -> None:
        self.session = session
        self._auth_handler = auth_handler
        self._user_auth: Optional[UserAuth] = None
        self._agent = agent
        self._environment = environment
        if compression:  # ssh_config's Compression: zlib first (the server may refuse it)
            self.supportedCompressions = [b"zlib", b"none"]
        self._now = now
        #: When data last came from the server (on *now*'s clock): what keepalives watch.
        self.last_received = now()
        self.connection: Optional[NetconfConnection] = None
        self._username = username
        self._password = password
        self._private_keys = private_keys
        self._check_host_key = check_host_key
        self.ready = ready
        self._stage = "key exchange"
        self._host_key_error: Optional[Failure] = None
        #: What was read and not yet handed to Conch (see dataReceived).
        self._pending: Deque[bytes] = collections.deque()
        self._scheduler = session.scheduler
        #: Whether the scheduler holds this transport in its queue.
        self.queued = False

    def connectionMade(self) -> None:
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            set_no_delay(True)  # small requests must not wait on Nagle
        key_types: Sequence[str] = getattr(self._check_host_key, "key_types", ())
        if key_types:
            # As OpenSSH and ncclient: a server with several host keys must show one that
            # known_hosts lists, not Conch's first choice (ECDSA before Ed25519).
            self.supportedPublicKeys = prefer_host_key_types(self.supportedPublicKeys, key_types)
        SSHClientTransport.connectionMade(self)

    def dataReceived(self, data: bytes) -> None:
        """What the socket brought is worked through within the reactor's work budget,
        as a session's messages are: a burst of handshakes (key exchange, signatures,
        hello) or of packets to decrypt yields to timers like any other work."""
        self.last_received = self._now()
        self._pending.append(data)
        self._scheduler.request(self, flush=True)

    def work_until(self, deadline: float) -> bool:
        """Hand what was read to Conch, a read at a time, until *deadline*; whether
        nothing is left."""
        pending = self._pending
        while pending:
            SSHClientTransport.dataReceived(self, pending.popleft())
            if self._scheduler.now() >= deadline:
                break
        return not pending

    def pause_reading(self, paused: bool) -> None:
        pause_reading(self.transport, paused)

    def send_keepalive(self) -> None:
        """``keepalive@openssh.com`` with want-reply: any answer, a refusal included,
        is data from the server."""
        connection = self.connection
        if connection is None:
            return
        d = connection.sendGlobalRequest(KEEPALIVE_REQUEST.encode("ascii"), b"", wantReply=True)
        if d is not None:
            d.addErrback(lambda f: None)

    def ssh_KEXINIT(self, packet: bytes) -> None:
        """Conch's, the negotiated ciphers then made :class:`ReusedMACCiphers` (their keys
        are set later, when the key exchange ends)."""
        SSHClientTransport.ssh_KEXINIT(self, packet)
        chosen = getattr(self, "nextEncryptions", None)
        if type(chosen) is SSHCiphers and chosen is not getattr(self, "currentEncryptions", None):
            self.nextEncryptions = ReusedMACCiphers(
                chosen.outCipType, chosen.inCipType, chosen.outMACType, chosen.inMACType
            )

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> "Deferred[bool]":
        self._stage = "host key"

        def refused(f: Failure) -> Failure:
            # Kept until the connection is lost, without its traceback: its frames hold
            # this transport, which would make the failed session a cycle only the GC
            # frees. (As cleanFailure would; a plain copy, which pytest-twisted leaves be.)
            error = f.value
            assert error is not None  # a Failure has its exception
            self._host_key_error = Failure(error.with_traceback(None), f.type)
            return f

        return self._check_host_key(hostKey).addErrback(refused)

    def sendDisconnect(self, reason: int, desc: bytes) -> None:
        """Send SSH's disconnect with *reason*; a refused host key's text is fixed, as
        OpenSSH's "host key verification failed"."""
        if reason == DISCONNECT_HOST_KEY_NOT_VERIFIABLE:
            # Conch's text for it embeds our error (the known_hosts path, the exception):
            # nothing local goes to the peer.
            desc = HOST_KEY_DISCONNECT_REASON
        SSHClientTransport.sendDisconnect(self, reason, desc)

    def receiveError(self, reasonCode: int, description: bytes) -> None:
        """The server's disconnect message, logged at debug (Conch: error): it is how a
        server ends a session, which the session's end line and ManagerService report."""
        self._log.debug(
            "Got remote error, code {code}\nreason: {description}", code=reasonCode, description=description
        )

    def connectionSecure(self) -> None:
        self._stage = "authentication"

        def channel(conn: NetconfConnection) -> NetconfClientChannel:
            self._stage = "subsystem"
            return NetconfClientChannel(self.session, self.ready, self._environment, conn=conn)

        self.connection = NetconfConnection(channel)
        self._user_auth = UserAuth(
            self._username,
            self.connection,
            self._password,
            self._private_keys,
            self._agent,
            self._auth_handler,
        )
        self.requestService(self._user_auth)

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        pending = self._pending
        if self.session.ended:
            pending.clear()  # given up (a cancelled connect, a close): nobody waits for it
        while pending:  # read before the end: the last replies, the server's close...
            try:
                SSHClientTransport.dataReceived(self, pending.popleft())
            except Exception:
                log.failure("dropping data read at the end of the connection", level=LogLevel.error)
                pending.clear()
        SSHClientTransport.connectionLost(self, reason)
        if self._agent is not None:
            self._agent.close()
        if not self.ready.called:
            if self._host_key_error is not None:
                error: Failure = self._host_key_error
            elif self._stage == "authentication":
                auth = self._user_auth
                why = auth.describe_failure() if auth is not None else "authentication failed"
                error = Failure(AuthenticationError(why))
            else:
                error = Failure(
                    SSHError("SSH connection lost during the %s: %s" % (self._stage, reason.value))
                )
            self.ready.errback(error)
        self.session.connection_lost(SessionCloseError(b"") if reason is not None else None)
        # The connection, its services and this transport refer to each other (Conch's
        # service.transport, our channel factory's closure): let go of them, so that
        # reference counting frees the session's graph.
        self.connection = self._user_auth = None
        self.service = None
        self.instance = None  # type: ignore[assignment]  # Conch's: the service requested


def prefer_host_key_types(algorithms: Sequence[bytes], key_types: Sequence[str]) -> List[bytes]:
    """*algorithms* (host key algorithms, by preference) with those of *key_types* first,
    each group in its own order (OpenSSH's ``order_hostkeyalgs``)."""
    wanted: set[bytes] = set()
    for key_type in key_types:
        if key_type == "ssh-rsa":  # an RSA key signs with any of these
            wanted.update((b"rsa-sha2-512", b"rsa-sha2-256", b"ssh-rsa"))
        else:
            wanted.add(key_type.encode("ascii", "replace"))
    first = [a for a in algorithms if a in wanted]
    return first + [a for a in algorithms if a not in wanted]
