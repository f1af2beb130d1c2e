"""A handshake that fails at the key exchange or at the NETCONF channel fails the connect
Deferred with ncclient's exception (``SSHError``), at once, on both transports (the ``io``
fixture), leaving no thread or descriptor behind.

The other stages are tested in ``test_faults.py`` on both transports: TCP (refused, a
name that does not resolve, a connect that times out), the host key, authentication and
the hello. The peers here are the test's own, on loopback, on ports the OS picks: a TCP
server that speaks just enough SSH to break the key exchange, and a Conch server whose
users are authenticated but get no ``netconf`` subsystem (or no session channel).
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any, AsyncIterator, Callable, Dict, List, Tuple

import pytest
import pytest_twisted
from ncclient.transport.errors import SSHError
from twisted.conch.avatar import ConchUser
from twisted.conch.interfaces import IConchUser
from twisted.conch.ssh import channel, connection, factory, keys, userauth
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.internet import protocol
from zope.interface import implementer

from ncclient_twisted import manager, testing
from tests.support.helpers import Resources, bounded, reactor

#: The connect's timeout: every failure here must come well before it.
TIMEOUT = 10.0
#: How soon each failure must come (seconds).
PROMPTLY = 5.0
#: The password of the test's user (never in an error message).
PASSWORD = "pw-never-shown"


def _name_list(*names: bytes) -> bytes:
    joined = b",".join(names)
    return struct.pack(">L", len(joined)) + joined


def _packet(payload: bytes) -> bytes:
    """*payload* as an unencrypted SSH binary packet (RFC 4253 section 6)."""
    padding = 8 - (len(payload) + 5) % 8
    if padding < 4:
        padding += 8
    return struct.pack(">LB", len(payload) + padding + 1, padding) + payload + b"\0" * padding


#: A KEXINIT naming only algorithms no client has (RFC 4253 section 7.1).
KEXINIT_NOTHING_IN_COMMON = _packet(
    bytes([20])
    + b"\x11" * 16
    + _name_list(b"no-such-kex@example.com")
    + _name_list(b"no-such-hostkey@example.com")
    + _name_list(b"no-such-cipher@example.com") * 2
    + _name_list(b"no-such-mac@example.com") * 2
    + _name_list(b"none") * 2
    + _name_list() * 2
    + b"\0"
    + b"\0\0\0\0"
)

BANNER = b"SSH-2.0-x\r\n"

#: What the fake peer sends when a client connects, and what it does then: "stay" (reads
#: and ignores), "close" (at once), or "reset" (an RST once the client's KEXINIT is in).
PEERS: Dict[str, Any] = {
    # A packet length no SSH implementation takes (0xffffffff).
    "garbage after the banner": (BANNER + b"\xff" * 64, "stay"),
    "closes after the banner": (BANNER, "close"),
    "resets in the key exchange": (BANNER, "reset"),
    "no algorithm in common": (BANNER + KEXINIT_NOTHING_IN_COMMON, "stay"),
}


class FakePeer(protocol.Protocol):
    """Sends its script, then stays, closes, or resets as told."""

    def __init__(self, script: bytes, then: str) -> None:
        self.script, self.then = script, then
        self.received = b""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.script)
        if self.then == "close":
            self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        banner, _, rest = self.received.partition(b"\n")
        if self.then == "reset" and rest and self.transport is not None:
            # The client's banner and (the start of) its KEXINIT: it has read ours.
            self.transport.getHandle().setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.transport.abortConnection()
            self.then = "done"


class Peers(protocol.Factory):
    """Builds *build()* and remembers each protocol (the test aborts them at its end)."""

    def __init__(self, build: Any) -> None:
        self._build = build
        self.made: List[protocol.Protocol] = []

    def buildProtocol(self, addr: Any) -> protocol.Protocol:
        p: protocol.Protocol = self._build()
        p.factory = self
        self.made.append(p)
        return p


# -- a Conch server that authenticates, then refuses the channel or the subsystem --------


class RefusingChannel(channel.SSHChannel):
    """A session channel that notes each request and grants none."""

    def requestReceived(self, requestType: bytes, data: bytes) -> int:
        self.avatar.requests.append(requestType)
        return 0


class NoSubsystemUser(ConchUser):
    """Opens session channels, which refuse every request (``subsystem`` included)."""

    def __init__(self, requests: List[bytes]) -> None:
        ConchUser.__init__(self)
        self.requests = requests
        self.channelLookup[b"session"] = RefusingChannel


class NoChannelUser(ConchUser):
    """Opens no channel at all (``OPEN_UNKNOWN_CHANNEL_TYPE``)."""

    def __init__(self, requests: List[bytes]) -> None:
        ConchUser.__init__(self)


@implementer(IRealm)
class Realm:
    """Gives each authenticated user a *user*; notes the logins and the channel requests."""

    def __init__(self, user: type) -> None:
        self._user = user
        self.logins: List[bytes] = []
        self.requests: List[bytes] = []

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        assert IConchUser in interfaces
        self.logins.append(avatarId)
        return IConchUser, self._user(self.requests), lambda: None


class RefusingSSHFactory(factory.SSHFactory):
    services = {b"ssh-userauth": userauth.SSHUserAuthServer, b"ssh-connection": connection.SSHConnection}
    primes = None
    noisy = False

    def __init__(self, user: type) -> None:
        key = keys.Key(testing.generate_key())
        self.privateKeys = {key.sshType(): key}
        self.publicKeys = {key.sshType(): key.public()}
        self.realm = Realm(user)
        self.portal = Portal(self.realm, [InMemoryUsernamePasswordDatabaseDontUse(admin=PASSWORD.encode())])
        self.made: List[protocol.Protocol] = []

    def buildProtocol(self, addr: Any) -> protocol.Protocol:
        p: protocol.Protocol = factory.SSHFactory.buildProtocol(self, addr)
        self.made.append(p)
        return p


def _reached_key_exchange(made: Peers) -> bool:
    """The client connected and (unless the peer closed at once) sent its banner."""
    peers: List[Any] = made.made
    return len(peers) == 1 and (peers[0].then == "close" or peers[0].received.startswith(b"SSH-2.0-"))


#: Each server, and what tells that the client got to the stage that fails.
SERVERS: Dict[str, Any] = {
    "the netconf subsystem refused": (
        lambda: RefusingSSHFactory(NoSubsystemUser),
        lambda made: made.realm.requests == [b"subsystem"],
    ),
    "the session channel refused": (
        lambda: RefusingSSHFactory(NoChannelUser),
        lambda made: made.realm.logins == [b"admin"],
    ),
}


@pytest_twisted.async_yield_fixture(params=list(PEERS) + list(SERVERS))
async def peer(request: Any, io: str) -> AsyncIterator[Tuple[Dict[str, Any], Callable[[], bool]]]:
    """The connect keywords of a peer that breaks the handshake as the parameter says, and
    whether the client got to that stage."""
    name = request.param
    if name in PEERS:
        script, then = PEERS[name]
        made: Any = Peers(lambda: FakePeer(script, then))
        reached: Callable[[Any], bool] = _reached_key_exchange
    else:
        build, reached = SERVERS[name]
        made = build()
    port = reactor().listenTCP(0, made, interface="127.0.0.1")
    try:
        kwargs = dict(
            host="127.0.0.1",
            port=port.getHost().port,
            username="admin",
            password=PASSWORD,
            hostkey_verify=False,
            allow_agent=False,
            look_for_keys=False,
            timeout=TIMEOUT,
            io=io,
        )
        yield kwargs, lambda: bool(reached(made))
    finally:
        await port.stopListening()
        for p in made.made:
            if p.transport is not None:
                p.transport.abortConnection()


@pytest_twisted.ensureDeferred
async def test_a_handshake_that_breaks_fails_the_connect_with_ssh_error(
    peer: Tuple[Dict[str, Any], Callable[[], bool]],
) -> None:
    kwargs, reached = peer
    resources = Resources()
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        await bounded(manager.connect(**kwargs), TIMEOUT + 5)
    elapsed = time.monotonic() - start
    assert type(info.value) is SSHError, repr(info.value)  # not a subclass, not paramiko's
    assert elapsed < PROMPTLY, "took %.1f s (the connect's timeout is %s s)" % (elapsed, TIMEOUT)
    assert reached(), "the handshake did not get to the stage meant to fail"
    assert PASSWORD not in str(info.value)
    await resources.assert_released()
