"""
Shared helpers for the ``test_server_*`` modules (this module has no tests).

The server runs in the reactor (main thread, via pytest-twisted); the
client is plain synchronous ncclient (or paramiko for raw protocol tests),
run in a private thread pool with ``deferToThreadPool``.  Every wait is
bounded, every client is closed in a ``finally`` block and every server is
stopped in one.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from typing import Any, AsyncIterator, Callable, Iterator, List, Optional, Tuple, TypeVar

import ncclient.transport.session as ncclient_session
import paramiko
import pytest
import pytest_twisted
from lxml import etree
from ncclient import manager
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from ncclient_twisted import testing

reactor: Any = _reactor

#: Upper bound (seconds) for any single wait in these tests.
TIMEOUT = 10.0

BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
EX = "urn:example:config"
NS = {"nc": BASE_NS, "ex": EX}

CONFIG = """
<config>
  <top xmlns="urn:example:config">
    <interfaces>
      <interface><name>eth0</name><mtu>1500</mtu><enabled>true</enabled></interface>
      <interface><name>eth1</name><mtu>9000</mtu><enabled>false</enabled></interface>
    </interfaces>
    <hostname>router1</hostname>
  </top>
</config>
"""

T = TypeVar("T")


def xml_of(reply: Any) -> etree._Element:
    """Parse an ncclient reply (or raw bytes/str) into an element."""
    if isinstance(reply, etree._Element):
        return reply
    raw = reply.xml if hasattr(reply, "xml") else reply
    if isinstance(raw, str):
        raw = raw.encode()
    return etree.fromstring(raw)


def texts(element: etree._Element, path: str) -> List[str]:
    """Texts of the nodes selected by *path* (XPath with prefixes nc/ex)."""
    return [str(x).strip() if isinstance(x, str) else (x.text or "").strip() for x in element.xpath(
        path, namespaces=NS
    )]


def mtus(reply: Any) -> dict[str, str]:
    """{interface name: mtu} from a get/get-config reply."""
    root = xml_of(reply)
    return {
        i.findtext("{%s}name" % EX): i.findtext("{%s}mtu" % EX)
        for i in root.iter("{%s}interface" % EX)
    }


class Blocking:
    """Runs blocking client code in a private thread pool, with time bounds."""

    def __init__(self) -> None:
        self.pool = ThreadPool(minthreads=0, maxthreads=6, name="ncclient-tests")
        self.pool.start()
        self.managers: List[Any] = []

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> "Deferred[T]":
        """Run ``func(*args, **kwargs)`` in a thread; bounded by 3 * TIMEOUT."""
        d: "Deferred[T]" = deferToThreadPool(reactor, self.pool, func, *args, **kwargs)
        return d.addTimeout(3 * TIMEOUT, reactor)

    @contextlib.asynccontextmanager
    async def connect(self, server: testing.NetconfServer, **kwargs: Any) -> AsyncIterator[Any]:
        """``async with nc.connect(server) as m:`` an ncclient Manager, closed in finally."""
        kwargs.setdefault("timeout", TIMEOUT)
        m = await self.call(manager.connect, **server.connect_kwargs(**kwargs))
        self.managers.append(m)
        try:
            yield m
        finally:
            await self.call(close_manager, m)

    @contextlib.asynccontextmanager
    async def raw(self, server: testing.NetconfServer, **kwargs: Any) -> AsyncIterator["RawClient"]:
        """``async with nc.raw(server) as c:`` a :class:`RawClient`, closed in finally."""
        client = await self.call(RawClient, server, **kwargs)
        try:
            yield client
        finally:
            await self.call(client.close)

    def stop(self) -> None:
        self.pool.stop()


def close_manager(m: Any) -> None:
    """Close an ncclient session without needing the server's cooperation."""
    session = m._session
    if session._transport is not None:
        session.close()


@contextlib.asynccontextmanager
async def running(**kwargs: Any) -> AsyncIterator[testing.NetconfServer]:
    """``async with running(...) as server:`` a test server, stopped in finally."""
    server = await testing.serve(reactor, **kwargs)
    try:
        yield server
    finally:
        await server.stop().addTimeout(TIMEOUT, reactor)


def join_all(threads: List[threading.Thread]) -> None:
    for thread in threads:
        thread.join(TIMEOUT)


def paramiko_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, paramiko.Transport) and t.is_alive()]


def ncclient_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, ncclient_session.Session) and t.is_alive()]


@pytest.fixture(autouse=True)
def fast_ncclient(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ncclient's I/O thread polls its send queue every TICK (0.1 s); make it 5 ms."""
    monkeypatch.setattr(ncclient_session, "TICK", 0.005)
    yield


@pytest_twisted.async_yield_fixture
async def nc() -> AsyncIterator[Blocking]:
    """A :class:`Blocking` runner; checks that nothing is left behind."""
    pending_before = {id(c) for c in reactor.getDelayedCalls()}
    selectables_before = set(reactor.getReaders()) | set(reactor.getWriters())
    runner = Blocking()
    try:
        yield runner
    finally:
        # Close anything a failing test left open, then check.
        for m in runner.managers:
            await runner.call(close_manager, m)
        # paramiko's transport thread may take a moment to finish after close().
        await runner.call(join_all, paramiko_threads() + ncclient_threads())
        runner.stop()
    assert ncclient_threads() == [], "ncclient session threads left running"
    assert paramiko_threads() == [], "paramiko transports left running"
    selectables = (set(reactor.getReaders()) | set(reactor.getWriters())) - selectables_before
    assert selectables == set(), "ports or connections left open: %r" % (selectables,)
    leftover = [
        c
        for c in reactor.getDelayedCalls()
        if c.active()
        and id(c) not in pending_before
        and not getattr(c.func, "__module__", "").startswith("pytest_twisted")
    ]
    assert leftover == [], "delayed calls left behind: %r" % (leftover,)


class RawClient:
    """
    A minimal NETCONF-over-SSH client on paramiko that shows the bytes:
    for testing framing, attributes and error cases ncclient cannot produce.
    """

    def __init__(
        self,
        server: testing.NetconfServer,
        username: Optional[str] = None,
        password: Optional[str] = None,
        timeout: float = TIMEOUT,
    ) -> None:
        username = username or next(iter(server.users))
        password = password or server.users[username]
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.transport = paramiko.Transport(self.sock)
        try:
            self.transport.start_client(timeout=timeout)
            self.transport.auth_password(username, password)
            self.channel = self.transport.open_session(timeout=timeout)
            self.channel.settimeout(timeout)
            self.channel.invoke_subsystem("netconf")
        except Exception:
            self.transport.close()
            raise
        self.buffer = b""
        self.chunk_sizes: List[int] = []

    def close(self) -> None:
        self.transport.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.channel.sendall(data)

    def _fill(self) -> bool:
        data = self.channel.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def read_eom(self) -> bytes:
        """Read one ``]]>]]>``-framed message."""
        while b"]]>]]>" not in self.buffer:
            if not self._fill():
                raise EOFError("connection closed; buffered %r" % self.buffer[:200])
        message, _, self.buffer = self.buffer.partition(b"]]>]]>")
        return message.strip()

    def read_chunked(self) -> bytes:
        """Read one chunked message; chunk sizes are recorded in :attr:`chunk_sizes`."""
        self.chunk_sizes = []
        parts = []
        while True:
            while not re.match(rb"\n#(#|\d+)\n", self.buffer):
                if len(self.buffer) > 16 and not self.buffer.startswith(b"\n#"):
                    raise ValueError("bad framing: %r" % self.buffer[:40])
                if not self._fill():
                    raise EOFError("connection closed; buffered %r" % self.buffer[:200])
            match = re.match(rb"\n#(#|\d+)\n", self.buffer)
            assert match is not None
            self.buffer = self.buffer[match.end():]
            if match.group(1) == b"#":
                return b"".join(parts)
            size = int(match.group(1))
            while len(self.buffer) < size:
                if not self._fill():
                    raise EOFError("connection closed mid-chunk")
            parts.append(self.buffer[:size])
            self.chunk_sizes.append(size)
            self.buffer = self.buffer[size:]

    def read_until_closed(self) -> bytes:
        """Read until the server closes the channel; return what arrived."""
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data

    def hello(self, capabilities: Tuple[str, ...] = (BASE10, BASE11)) -> etree._Element:
        """Exchange hellos; return the server's hello element."""
        caps = "".join("<capability>%s</capability>" % c for c in capabilities)
        self.send(
            ('<hello xmlns="%s"><capabilities>%s</capabilities></hello>]]>]]>' % (BASE_NS, caps)).encode()
        )
        return etree.fromstring(self.read_eom())

    def server_hello(self) -> etree._Element:
        return etree.fromstring(self.read_eom())


def rpc(body: str, message_id: str = "1", **attrs: str) -> bytes:
    """An ``<rpc>`` document as bytes."""
    extra = "".join(' %s="%s"' % (k.replace("_", "-"), v) for k, v in attrs.items())
    return ('<rpc xmlns="%s" message-id="%s"%s>%s</rpc>' % (BASE_NS, message_id, extra, body)).encode()


def chunk(message: bytes, size: int = 0) -> bytes:
    """Frame *message* in base:1.1 chunks of *size* bytes (0: one chunk)."""
    size = size or len(message)
    out = b""
    for start in range(0, len(message), size):
        piece = message[start:start + size]
        out += b"\n#%d\n" % len(piece) + piece
    return out + b"\n##\n"
