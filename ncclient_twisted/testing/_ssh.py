# Twisted Conch is only partly annotated:
# mypy: allow-untyped-calls
"""
The test server's SSH layer, on Twisted Conch: password and public-key
authentication, and the ``netconf`` subsystem (RFC 6242) wired to a
NETCONF session object (its keys are in ``_keys``).

``twisted.conch.ssh.userauth`` (and so ``twisted.conch.ssh.factory``)
import the global reactor when they are imported; they are therefore only
imported when the first server is built, not when this module is imported.
"""

from __future__ import annotations

import hmac
import socket
import struct
from collections import deque
from functools import lru_cache
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Protocol,
    Tuple,
    Type,
    Union,
    cast,
)

from twisted.conch.avatar import ConchUser
from twisted.conch.error import ValidPublicKey
from twisted.conch.interfaces import IConchUser
from twisted.conch.ssh import channel, common, connection, keys, transport
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ISSHPrivateKey, IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from zope.interface import implementer

from ._keys import AuthorizedKeyInput, load_public_key

SUBSYSTEM = b"netconf"
#: Writes larger than this are queued in pieces of this size.
_WRITE_PIECE = 1 << 18


class SessionHandle(Protocol):
    """What the channel drives: the NETCONF session."""

    def start(self) -> None:
        ...

    def data_received(self, data: bytes) -> None:
        ...

    def connection_lost(self) -> None:
        ...


class ChannelAdapter:
    """The :class:`~._session.Channel` interface over a Conch channel."""

    __slots__ = ("_channel", "_frozen")

    def __init__(self, chan: "NetconfServerChannel") -> None:
        self._channel = chan
        self._frozen = False

    def write(self, data: bytes) -> None:
        chan = self._channel
        if not self._frozen and not chan.localClosed and chan.conn is not None:
            chan.write(data)

    @property
    def environment(self) -> Dict[str, str]:
        """The ``env`` requests the channel received before its subsystem."""
        return self._channel.environment

    def close(self) -> None:
        chan = self._channel
        if not self._frozen and not chan.localClosed and not chan.closing:
            chan.loseConnection()

    def _tcp(self) -> Any:
        conn = self._channel.conn
        ssh = conn.transport if conn is not None else None
        tcp = getattr(ssh, "transport", None)
        if tcp is None or getattr(tcp, "disconnecting", False):
            return None
        return tcp

    def abort(self) -> None:
        conn = self._channel.conn
        ssh = conn.transport if conn is not None else None
        if ssh is not None and self._tcp() is not None:
            ssh.loseConnection()

    def reset(self) -> None:
        """Reset the TCP connection: ``SO_LINGER`` 0, then close (the peer gets an RST)."""
        tcp = self._tcp()
        if tcp is None:
            return
        tcp.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        tcp.abortConnection()

    def freeze(self) -> None:
        """Go silent: stop reading from the connection and drop every later write,
        without closing it (no FIN)."""
        self._frozen = True
        tcp = self._tcp()
        if tcp is not None:
            tcp.pauseProducing()


#: Creates the NETCONF session for a new ``netconf`` subsystem channel:
#: ``opener(channel, username, source_host)``.
SessionOpener = Callable[[ChannelAdapter, str, Optional[str]], SessionHandle]


class NetconfServerChannel(channel.SSHChannel):
    """An SSH ``session`` channel that only accepts the ``netconf`` subsystem."""

    name = b"session"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(localWindow=1 << 21, localMaxPacket=1 << 15, **kwargs)
        self.session: Optional[SessionHandle] = None
        # Data waiting for the client to open its window.  Conch keeps it in
        # one bytes object and appends with +=, which is quadratic when a
        # fast client pipelines thousands of requests; we keep a queue.
        self._backlog: Deque[bytes] = deque()
        self._exit_status_sent = False
        #: The ``env`` requests received (name -> value).
        self.environment: Dict[str, str] = {}

    # -- flow control ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        if len(data) > _WRITE_PIECE:
            # Conch copies what does not fit in the window on every window update:
            # quadratic for a reply of many windows. Pieces keep it linear.
            view = memoryview(data)
            for start in range(0, len(data), _WRITE_PIECE):
                self.write(view[start : start + _WRITE_PIECE].tobytes())
            return
        if self._backlog:
            self._backlog.append(data)
            return
        super().write(data)
        if self.buf:
            self._backlog.append(self.buf)
            self.buf = b""

    def addWindowBytes(self, data: int) -> None:
        self.remoteWindowLeft += data
        if not self.areWriting and not self.closing:
            self.areWriting = True
            self.startWriting()
        backlog = self._backlog
        while backlog and self.remoteWindowLeft > 0:
            super().write(backlog.popleft())
            if self.buf:
                backlog.appendleft(self.buf)
                self.buf = b""
                break
        if self.closing and not backlog:
            self.loseConnection()

    def loseConnection(self) -> None:
        self.closing = 1
        conn = self.conn
        if conn is not None and not self._backlog and not self.buf and not self.extBuf:
            self._send_exit_status(conn)
            conn.sendClose(self)

    def _send_exit_status(self, conn: Any) -> None:
        """
        ``exit-status 0`` before the server closes the channel of a NETCONF
        session, as sshd does when its subsystem exits (OpenSSH's ``ssh -s``
        exits 255 without it).
        """
        if self.session is None or self._exit_status_sent or self.localClosed or self.remoteClosed:
            return
        self._exit_status_sent = True
        conn.sendRequest(self, b"exit-status", struct.pack(">L", 0))

    # -- requests and data -------------------------------------------------------

    def request_subsystem(self, data: bytes) -> int:
        name, _ = common.getNS(data)
        if name != SUBSYSTEM or self.session is not None:
            return 0
        avatar = self.avatar
        assert isinstance(avatar, NetconfAvatar)
        peer: Optional[str] = None
        try:
            peer = cast(Any, self.conn).transport.transport.getPeer().host
        except AttributeError:
            pass
        self.session = avatar.opener(ChannelAdapter(self), avatar.username, peer)
        self.session.start()
        return 1

    def request_env(self, data: bytes) -> int:
        # Accepted and recorded (the session's ``environment``); nothing uses it.
        name, rest = common.getNS(data)
        value, _ = common.getNS(rest)
        self.environment[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        return 1

    def request_pty_req(self, data: bytes) -> int:
        # Granted and ignored, as the SSH servers of devices do: NETCONF does
        # not use the terminal (OpenSSH's ``ssh -tt`` and scrapli's "system"
        # transport ask for one and give up when it is refused).
        return 1

    def request_window_change(self, data: bytes) -> int:
        return 1  # the pty's size: ignored

    def dataReceived(self, data: bytes) -> None:
        if self.session is not None:
            self.session.data_received(data)

    def eofReceived(self) -> None:
        self.loseConnection()

    def closed(self) -> None:
        if self.session is not None:
            self.session.connection_lost()


class NetconfAvatar(ConchUser):
    """An authenticated SSH user; opens NETCONF sessions."""

    def __init__(self, username: str, opener: SessionOpener) -> None:
        super().__init__()
        self.username = username
        self.opener = opener
        self.channelLookup[b"session"] = NetconfServerChannel


@implementer(IRealm)
class NetconfRealm:
    """Gives every authenticated user a :class:`NetconfAvatar`."""

    def __init__(self, opener: SessionOpener) -> None:
        self.opener = opener

    def requestAvatar(
        self, avatarId: Union[bytes, Tuple[()]], mind: object, *interfaces: Any
    ) -> Tuple[Any, NetconfAvatar, Callable[[], None]]:
        if IConchUser not in interfaces:
            raise NotImplementedError("only IConchUser avatars are supported")
        # Our checkers give user names only, never ANONYMOUS (the empty tuple).
        avatar = NetconfAvatar(cast(bytes, avatarId).decode("utf-8"), self.opener)
        return IConchUser, avatar, lambda: None


@implementer(ICredentialsChecker)
class PasswordChecker:
    """Checks passwords against an in-memory mapping."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = {u.encode("utf-8"): p.encode("utf-8") for u, p in users.items()}

    def requestAvatarId(self, credentials: Any) -> "Deferred[Union[bytes, Tuple[()]]]":
        expected = self._users.get(credentials.username)
        if expected is not None and hmac.compare_digest(expected, credentials.password):
            return succeed(credentials.username)
        return fail(UnauthorizedLogin("bad username or password"))


@implementer(ICredentialsChecker)
class PublicKeyChecker:
    """Checks SSH public-key authentication against in-memory authorized keys."""

    credentialInterfaces = (ISSHPrivateKey,)

    def __init__(self, authorized: Mapping[str, Iterable[AuthorizedKeyInput]]) -> None:
        self._blobs: Dict[bytes, List[bytes]] = {
            user.encode("utf-8"): [load_public_key(k).blob() for k in key_list]
            for user, key_list in authorized.items()
        }

    def requestAvatarId(self, credentials: Any) -> "Deferred[Union[bytes, Tuple[()]]]":
        if credentials.blob not in self._blobs.get(credentials.username, ()):
            return fail(UnauthorizedLogin("key not authorized"))
        if not credentials.signature:
            return fail(ValidPublicKey())  # the client may now sign with it
        try:
            key = keys.Key.fromString(credentials.blob)
            if key.verify(credentials.signature, credentials.sigData):
                return succeed(credentials.username)
        except Exception:
            pass
        return fail(UnauthorizedLogin("bad signature"))


class ServerTransport(transport.SSHServerTransport):
    """The SSH server transport, reporting connections to its factory."""

    def connectionMade(self) -> None:
        super().connectionMade()
        cast(Any, self.factory).connection_made(self)

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        try:
            super().connectionLost(reason)
        finally:
            cast(Any, self.factory).connection_lost(self)

    def receiveError(self, reasonCode: int, description: bytes) -> None:
        # What the client said when it disconnected: recorded for tests (see
        # NetconfServer.disconnect_reasons).
        cast(Any, self.factory).disconnect_reasons.append(
            (reasonCode, description.decode("utf-8", "replace"))
        )
        super().receiveError(reasonCode, description)


@lru_cache(maxsize=None)
def _factory_class() -> Type[Any]:
    # Imported here: these modules import the global reactor.
    from twisted.conch.ssh import factory, userauth

    class UserAuthServer(userauth.SSHUserAuthServer):
        passwordDelay = 0

        def serviceStarted(self) -> None:
            self.clock = cast(Any, self.transport).factory.reactor
            super().serviceStarted()

    class NetconfSSHFactory(factory.SSHFactory):
        protocol = ServerTransport
        noisy = False
        services = {
            b"ssh-userauth": UserAuthServer,
            b"ssh-connection": connection.SSHConnection,
        }

        def __init__(
            self,
            reactor: IReactorTime,
            host_key: keys.Key,
            portal: Portal,
            on_made: Callable[[ServerTransport], None],
            on_lost: Callable[[ServerTransport], None],
        ) -> None:
            self.reactor = reactor
            self.portal = portal
            self.privateKeys = {host_key.sshType(): host_key}
            self.publicKeys = {host_key.sshType(): host_key.public()}
            self.primes = None
            self._on_made = on_made
            self._on_lost = on_lost
            #: (reason code, description) of each SSH disconnect a client sent.
            self.disconnect_reasons: List[Tuple[int, str]] = []

        def connection_made(self, conn: ServerTransport) -> None:
            self._on_made(conn)

        def connection_lost(self, conn: ServerTransport) -> None:
            self._on_lost(conn)

    return NetconfSSHFactory


def build_factory(
    *,
    reactor: IReactorTime,
    host_key: keys.Key,
    users: Mapping[str, str],
    authorized_keys: Mapping[str, Iterable[AuthorizedKeyInput]],
    opener: SessionOpener,
    on_made: Callable[[ServerTransport], None],
    on_lost: Callable[[ServerTransport], None],
) -> Any:
    """Build the SSH server factory for one NETCONF test server."""
    checkers: List[Any] = [PasswordChecker(users)]
    if authorized_keys:
        checkers.append(PublicKeyChecker(authorized_keys))
    portal = Portal(NetconfRealm(opener), checkers)
    return _factory_class()(reactor, host_key, portal, on_made, on_lost)
