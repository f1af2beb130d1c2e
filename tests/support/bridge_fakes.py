"""Fakes for unit tests of the bridge (Manager, listener): a session, a reactor on a
task.Clock, a runtime that runs work inline."""

from __future__ import annotations

import re
import threading
from typing import Any, Callable, List, Optional

from ncclient.capabilities import Capabilities
from ncclient.manager import make_device_handler
from ncclient.operations import RaiseMode
from ncclient.transport.errors import TransportError
from ncclient.xml_ import parse_root
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock

from ncclient_twisted.bridge.handoff import Handoff
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import Runtime
from ncclient_twisted.manager import Manager
from ncclient_twisted.notifications import NotificationQueue
from ncclient_twisted.subscriptions import NotificationRouter

CAPS = [
    "urn:ietf:params:netconf:base:1.0",
    "urn:ietf:params:netconf:base:1.1",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:startup:1.0",
    "urn:ietf:params:netconf:capability:notification:1.0",
]


NS = 'xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"'


class FakeReactor(Clock):
    """A Clock that runs callFromThread calls at once (the 'session thread' is the test)."""

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kw: Any) -> None:
        f(*args, **kw)


class InlineRuntime(Runtime):
    """Runs 'blocking' work at once, in the test's thread."""

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "Deferred[Any]":
        return maybeDeferred(fn, *args, **kwargs)


class FakeSession:
    """Just what ncclient's RPCs and our manager use of a session."""

    def __init__(self) -> None:
        self._listeners: set = set()
        self._lock = threading.Lock()
        self.sent: List[str] = []
        self.server_capabilities = Capabilities(CAPS)
        self._server_capabilities = self.server_capabilities
        self._client_capabilities = Capabilities(CAPS)
        self.connected = True
        self.id = "7"
        self.host = "fake"
        self.ended = False
        self.end_reason: Optional[Exception] = None
        self.bytes_received = self.bytes_sent = 0
        self._closing = threading.Event()
        self._end: List[Callable[[Optional[Exception]], None]] = []

    #: As a session's thread would, the fake runs a submitted job at once.
    submit_always = False
    jobs_outstanding = False

    def submit(self, job: Any) -> None:
        job.run()

    def mark_closing(self) -> None:
        self._closing.set()

    def add_listener(self, listener: Any) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: Any) -> None:
        self._listeners.discard(listener)

    def get_listener_instance(self, cls: type) -> Any:
        for listener in self._listeners:
            if isinstance(listener, cls):
                return listener
        return None

    def close(self) -> None:
        self.connected = False

    def add_end_callback(self, fn: Callable[[Optional[Exception]], None]) -> None:
        self._end.append(fn)

    def send(self, message: str) -> None:
        if not self.connected:
            raise TransportError("Not connected to NETCONF server")
        self.sent.append(message)

    # -- test helpers --
    def add_capability(self, uri: str) -> None:
        """The server announces *uri* too (as if its hello had said so)."""
        self.server_capabilities = Capabilities(list(self.server_capabilities) + [uri])
        self._server_capabilities = self.server_capabilities

    def last_id(self, index: int = -1) -> str:
        m = re.search(r'message-id="([^"]+)"', self.sent[index])
        assert m is not None
        return m.group(1)

    def reply(self, msgid: Optional[str], body: str = "<ok/>") -> None:
        attr = ' message-id="%s"' % msgid if msgid is not None else ""
        raw = "<rpc-reply %s%s>%s</rpc-reply>" % (NS, attr, body)
        for listener in list(self._listeners):
            listener.callback(parse_root(raw), raw)

    def die(self, reason: Optional[Exception]) -> None:
        self.connected = False
        self.ended = True
        self.end_reason = reason
        for listener in list(self._listeners):
            listener.errback(reason) if reason else None
        for fn in self._end:
            fn(reason)


def fake_manager(
    timeout: Optional[float] = 30,
    raise_mode: int = RaiseMode.ALL,
    device_params: Any = None,
    ignore_errors: Any = None,
    new_session: Callable[[Any], FakeSession] = lambda device_handler: FakeSession(),
    listener_class: "type[DeferredReplyListener]" = DeferredReplyListener,
) -> "tuple[Manager, FakeSession, FakeReactor]":
    """A Manager on ``new_session(device_handler)``, its reactor a :class:`FakeReactor`,
    its replies through *listener_class*."""
    reactor = FakeReactor()
    dh = make_device_handler(device_params, ignore_errors)
    session = new_session(dh)
    handoff = Handoff(reactor)
    listener = listener_class.install(session, dh, reactor, handoff)
    m = Manager(
        session,  # type: ignore[arg-type]
        dh,
        timeout=timeout,
        raise_mode=raise_mode,
        reactor=reactor,
        listener=listener,
        notifications=NotificationRouter(reactor, NotificationQueue(reactor, 3), 3, handoff),
        runtime=InlineRuntime(reactor),
    )
    return m, session, reactor


def error(severity: str = "error", message: str = "boom", tag: str = "operation-failed") -> str:
    return (
        "<rpc-error><error-type>application</error-type><error-tag>%s</error-tag>"
        "<error-severity>%s</error-severity><error-message>%s</error-message></rpc-error>"
        % (tag, severity, message)
    )
