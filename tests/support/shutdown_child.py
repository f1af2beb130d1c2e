"""A client process that reaches one state, then has its reactor stopped (issue #21, point 3).

Run from the project's root::

    python -m tests.support.shutdown_child STATE IO HOW [SESSIONS]

*STATE* is one of :data:`STATES`, *IO* ``reactor`` or ``threads``, *HOW* ``stop`` (the
child calls ``reactor.stop()`` itself, in the turn it reaches the state) or ``sigterm``
(the parent sends SIGTERM once it reads the line). The child prints ``READY`` (flushed)
when it has reached the state, and ``EXITING`` when ``reactor.run()`` has returned; then
Python exits with the code it gives (0). Twisted's log and the project's warnings go to
stderr, so an unhandled error or a traceback shows there.

The servers are real and run in processes of their own (``--serve STATE``; a server on
the child's reactor would be stopped with it, and its connections dropped, which could
end a wait the client itself should end): the embedded NETCONF server, or a Twisted
server that stalls at one stage of the SSH handshake. A server prints its address, and
"REACHED" where the state needs the server's word; it ends when the child does (its
stdin closes).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

from twisted.conch.avatar import ConchUser
from twisted.conch.interfaces import IConchUser
from twisted.conch.ssh import channel, connection, factory, keys, userauth
from twisted.cred import credentials
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, protocol, task
from twisted.python import log as twisted_log
from zope.interface import implementer

from ncclient_twisted import manager, testing
from ncclient_twisted.testing import Fault

#: Every state the child can reach.
STATES = (
    "tcp",  # TCP connected, no SSH banner yet
    "kex",  # banners exchanged, the key exchange never answered
    "hostkey",  # the caller's unknown_host_cb asked about the host key, no answer yet
    "auth",  # authentication asked, never answered
    "subsystem",  # the netconf subsystem asked, never answered
    "hello",  # the channel runs, the server's hello never comes
    "idle",  # a session up, nothing in flight
    "inflight",  # 500 requests waiting for their replies
    "closing",  # close_session() just called
    "ended",  # the server just ended the session
    "framing",  # the session ended by a framing error
    "notifications",  # notifications streaming in
    "sessions",  # many sessions open (SESSIONS, default 1,000)
)

#: The file (environment variable) each embedded server appends what it saw to, at its end.
REPORT_ENV = "SHUTDOWN_SERVER_REPORT"
#: The states whose server stalls at a stage of the SSH handshake.
STALLING = ("tcp", "kex", "auth", "subsystem")
#: Requests in flight in the ``inflight`` state.
IN_FLIGHT = 500
#: Servers the ``sessions`` state spreads its sessions over (processes of their own).
SERVER_PROCESSES = 2
#: The connects' timeout: longer than any wait here, so nothing ends by itself.
CONNECT_TIMEOUT = 60

#: What each state's server does (run in the server process with ``s``, the server,
#: ``Fault`` and ``task`` in scope; the server is otherwise the default embedded one).
SERVER_SETUP = {
    # No hello; "REACHED" printed once the session's channel runs.
    "hello": (
        "s.faults.add(Fault.no_hello()); seen = []\n"
        "task.LoopingCall(lambda: s.sessions and not seen"
        " and (seen.append(1), print('REACHED', flush=True))).start(0.005)"
    ),
    # The first reply held: the other requests wait behind it.
    "inflight": "s.faults.add(Fault.delay('get-config', 30))",
    # A request answered late: the close-session after it waits for its turn (the server
    # takes one at a time), still under way at the stop.
    "closing": "s.faults.add(Fault.delay('get-config', 30))",
    # The server ends each session once it has answered its first request.
    "ended": (
        "task.LoopingCall(lambda: [x.close_gracefully() for x in list(s.sessions.values())"
        " if x.counters.in_rpcs and not x.closed]).start(0.005)"
    ),
    "framing": "s.faults.add(Fault.bad_chunk_header('get-config'))",
    # Notifications streaming to whoever subscribes: 20 every 2 ms.
    "notifications": (
        "task.LoopingCall(lambda: s.publish_many(['<tick xmlns=\\'urn:example:shutdown\\'/>'] * 20))"
        ".start(0.002)"
    ),
}

async def start_server(reactor: Any, state: str) -> Dict[str, Any]:
    """*state*'s server in a process of its own (see :func:`serve`; it ends with this
    one, when its stdin closes); the connect keywords for it."""
    p = subprocess.Popen(
        [sys.executable, "-m", "tests.support.shutdown_child", "--serve", state],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    _servers.append(p)
    assert p.stdout is not None
    host, port = json.loads(await defer_to_thread(reactor, p.stdout.readline))
    return dict(
        host=host,
        port=port,
        username="admin",
        password="admin",
        hostkey_verify=False,
        allow_agent=False,
        look_for_keys=False,
        timeout=CONNECT_TIMEOUT,
    )


async def server_says(reactor: Any, what: str) -> None:
    """Wait for the last server started to print *what*."""
    stdout = _servers[-1].stdout
    assert stdout is not None
    line = await defer_to_thread(reactor, stdout.readline)
    if line.strip() != what:
        raise RuntimeError("the server said %r, not %r" % (line, what))


#: The server processes started (kept open: they end when this process does).
_servers: List[subprocess.Popen] = []


def ready(reactor: Any, how: str) -> None:
    """Say the state is reached; for ``stop``, stop the reactor in this very turn."""
    print("READY", flush=True)
    if how == "stop":
        reactor.stop()


# -- servers that stall at one stage of the handshake -------------------------------------


class Stall(protocol.Protocol):
    """Sends *script* on connect, reads and ignores the rest; *reached* fires once what
    it received shows the client got to the stage (*enough(received)*)."""

    def __init__(
        self, script: bytes, enough: Callable[[bytes], bool], reached: "defer.Deferred[None]"
    ) -> None:
        self.script, self.enough, self.reached = script, enough, reached
        self.received = b""

    def connectionMade(self) -> None:
        assert self.transport is not None
        if self.script:
            self.transport.write(self.script)
        self.dataReceived(b"")

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if not self.reached.called and self.enough(self.received):
            self.reached.callback(None)


def _after_banner(received: bytes) -> bool:
    # The client's banner and (the start of) its KEXINIT: it has read ours.
    return received.startswith(b"SSH-2.0-") and len(received.partition(b"\n")[2]) > 0


@implementer(ICredentialsChecker)
class NeverAnswers:
    """A credentials checker that never decides (the client waits in authentication)."""

    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, reached: "defer.Deferred[None]") -> None:
        self.reached = reached

    def requestAvatarId(self, creds: Any) -> "defer.Deferred[bytes]":
        if not self.reached.called:
            self.reached.callback(None)
        return defer.Deferred()


@implementer(ICredentialsChecker)
class Anyone:
    credentialInterfaces = (credentials.IUsernamePassword,)

    def requestAvatarId(self, creds: Any) -> "defer.Deferred[bytes]":
        return defer.succeed(creds.username)


class SilentChannel(channel.SSHChannel):
    """A session channel that never answers a request (``subsystem`` included)."""

    def requestReceived(self, requestType: bytes, data: bytes) -> "defer.Deferred[int]":
        reached = self.avatar.reached
        if not reached.called:
            reached.callback(None)
        return defer.Deferred()


class SilentUser(ConchUser):
    def __init__(self, reached: "defer.Deferred[None]") -> None:
        ConchUser.__init__(self)
        self.reached = reached
        self.channelLookup[b"session"] = SilentChannel


@implementer(IRealm)
class Realm:
    def __init__(self, reached: "defer.Deferred[None]") -> None:
        self.reached = reached

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        return IConchUser, SilentUser(self.reached), lambda: None


class StallingSSHFactory(factory.SSHFactory):
    services = {b"ssh-userauth": userauth.SSHUserAuthServer, b"ssh-connection": connection.SSHConnection}
    primes = None
    noisy = False

    def __init__(self, checker: Any, reached: "defer.Deferred[None]") -> None:
        key = keys.Key(testing.generate_key())
        self.privateKeys = {key.sshType(): key}
        self.publicKeys = {key.sshType(): key.public()}
        self.portal = Portal(Realm(reached), [checker])


def listen(reactor: Any, factory_: protocol.Factory) -> Any:
    return reactor.listenTCP(0, factory_, interface="127.0.0.1").getHost()


async def stalled_connect(reactor: Any, io: str, how: str, state: str) -> None:
    kw = await start_server(reactor, state)
    connecting = manager.connect(io=io, **kw)
    connecting.addErrback(lambda f: print("connect failed: %s" % f.getErrorMessage(), flush=True))
    await server_says(reactor, "REACHED")
    ready(reactor, how)
    await connecting


def stalling_factory(state: str, reached: "defer.Deferred[None]") -> protocol.Factory:
    """The server that stalls at *state*'s stage; *reached* fires once the client is there."""
    if state in ("tcp", "kex"):
        script, enough = (b"", lambda r: True) if state == "tcp" else (b"SSH-2.0-stall\r\n", _after_banner)
        return protocol.Factory.forProtocol(lambda: Stall(script, enough, reached))
    if state == "auth":
        return StallingSSHFactory(NeverAnswers(reached), reached)
    return StallingSSHFactory(Anyone(), reached)  # subsystem


# -- the embedded server's states ---------------------------------------------------------


async def embedded(reactor: Any, io: str, how: str, state: str) -> None:
    kw = await start_server(reactor, state)
    if state == "hello":
        connecting = manager.connect(io=io, **kw)
        connecting.addErrback(lambda f: print("connect failed: %s" % f.getErrorMessage(), flush=True))
        await server_says(reactor, "REACHED")  # the channel runs, no hello comes
        ready(reactor, how)
        await connecting
        return
    if state == "hostkey":
        # An empty known_hosts file: the key is unknown, and the caller never decides.
        known_hosts = os.path.join(tempfile.mkdtemp(prefix="shutdown-"), "known_hosts")
        open(known_hosts, "w").close()

        def unknown_host(host: str, fingerprint: str) -> "defer.Deferred[bool]":
            ready(reactor, how)
            return defer.Deferred()

        kw.update(hostkey_verify=True, known_hosts=known_hosts, unknown_host_cb=unknown_host)
        connecting = manager.connect(io=io, **kw)
        connecting.addErrback(lambda f: print("connect failed: %s" % f.getErrorMessage(), flush=True))
        await connecting
        return
    m = await manager.connect(io=io, **kw)
    if state == "idle":
        ready(reactor, how)
    elif state == "inflight":
        pending = [m.get_config(source="running") for _ in range(IN_FLIGHT)]
        for d in pending:
            d.addErrback(lambda f: None)  # they fail when the session ends
        while m.pending_requests < IN_FLIGHT:  # all sent
            await task.deferLater(reactor, 0.01, lambda: None)
        ready(reactor, how)
    elif state == "closing":
        m.get_config(source="running").addErrback(lambda f: None)
        m.close_session().addErrback(lambda f: None)
        ready(reactor, how)
    elif state in ("ended", "framing"):
        m.get_config(source="running").addErrback(lambda f: None)
        await m.when_closed()
        ready(reactor, how)
    elif state == "notifications":
        await m.create_subscription()
        notifications: List[Any] = []
        m.add_notification_callback(notifications.append)
        while len(notifications) < 200:
            await task.deferLater(reactor, 0.01, lambda: None)
        ready(reactor, how)
    else:
        raise ValueError(state)


# -- many sessions --------------------------------------------------------------------------


async def many(reactor: Any, io: str, how: str, sessions: int) -> None:
    servers = [await start_server(reactor, "sessions") for _ in range(SERVER_PROCESSES)]
    managers = await defer.gatherResults(
        [manager.connect(io=io, **servers[i % len(servers)]) for i in range(sessions)], consumeErrors=True
    )
    assert all(m.connected for m in managers)
    ready(reactor, how)


def defer_to_thread(reactor: Any, fn: Callable[[], Any]) -> "defer.Deferred[Any]":
    from twisted.internet import threads

    return threads.deferToThreadPool(reactor, reactor.getThreadPool(), fn)


async def serve(reactor: Any, state: str) -> None:
    """The server process of *state*: prints its address (JSON), then "REACHED" where
    the state says when the client got there; ends when its stdin closes."""
    if state in STALLING:
        reached: "defer.Deferred[None]" = defer.Deferred()
        reached.addCallback(lambda _: print("REACHED", flush=True))
        address = listen(reactor, stalling_factory(state, reached))
        print(json.dumps([address.host, address.port]), flush=True)
        await defer_to_thread(reactor, sys.stdin.read)  # until the client process ends
        return
    s = await testing.serve(reactor, users={"admin": "admin"})
    exec(SERVER_SETUP.get(state, ""), {"s": s, "Fault": Fault, "task": task})
    print(json.dumps([s.host, s.port]), flush=True)
    await defer_to_thread(reactor, sys.stdin.read)  # until the client process ends
    for _ in range(500):  # the client's connections are gone (bounded: 5 s)
        if not s.sessions:
            break
        await task.deferLater(reactor, 0.01, lambda: None)
    report = os.environ.get(REPORT_ENV)
    if report:
        # What the server saw (RFC 6022): sessions ended without close-session are dropped.
        stats = s._core.engine.statistics
        with open(report, "a") as f:
            f.write(json.dumps({"sessions": stats.in_sessions, "dropped": stats.dropped_sessions}) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--serve"]:
        task.react(lambda r: defer.ensureDeferred(serve(r, args[1])))
    state, io, how = args[:3]
    sessions = int(args[3]) if len(args) > 3 else 1000
    if state not in STATES or io not in ("reactor", "threads") or how not in ("stop", "sigterm"):
        raise SystemExit("usage: python -m tests.support.shutdown_child STATE IO HOW [SESSIONS]")
    twisted_log.startLogging(sys.stderr, setStdout=False)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s: %(message)s"
    )
    from twisted.internet import reactor

    async def run() -> None:
        if state in STALLING:
            await stalled_connect(reactor, io, how, state)
        elif state == "sessions":
            await many(reactor, io, how, sessions)
        else:
            await embedded(reactor, io, how, state)

    def failed(f: Any) -> None:
        print("FAILED before the state: %s" % f.getErrorMessage(), flush=True)
        f.printTraceback(file=sys.stderr)

    reactor.callWhenRunning(lambda: defer.ensureDeferred(run()).addErrback(failed))
    reactor.run()
    print("EXITING", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
